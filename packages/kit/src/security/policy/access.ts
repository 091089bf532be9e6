import { type DescMethod, getOption, hasOption } from "@bufbuild/protobuf";
import { optionsV1 } from "@flotilla/contracts";

/** A method's `(flotilla.options.v1.access)`, read once per method. */
export interface MethodAccess {
  /** No end-user token needed. */
  readonly public: boolean;
  /** All are required in the end user's token. */
  readonly permissions: readonly string[];
  /** Only the services in `callers` may call it; the gateway never routes it. */
  readonly internal: boolean;
  readonly callers: readonly string[];
}

const NONE: MethodAccess = { public: false, permissions: [], internal: false, callers: [] };
const cache = new WeakMap<DescMethod, MethodAccess>();

/** Absent option: authenticated end users, no particular permission, any service may call. */
export function accessOf(method: DescMethod): MethodAccess {
  let access = cache.get(method);
  if (access === undefined) {
    if (hasOption(method, optionsV1.access)) {
      const a = getOption(method, optionsV1.access);
      access = { public: a.public, permissions: [...a.permissions], internal: a.internal, callers: [...a.callers] };
    } else {
      access = NONE;
    }
    cache.set(method, access);
  }
  return access;
}
