import { kitErrors } from "../../errors/index.ts";
import { methodPath } from "../../transport/method-path.ts";
import type { ServerInterceptor } from "../../transport/types.ts";
import { accessOf } from "./access.ts";

/**
 * Enforces the contract's caller policy on the server: an `internal` method
 * answers only the services listed in `callers` (none listed: nobody — default
 * deny), identified by the transport (`ctx.caller`: the mTLS certificate's
 * SPIFFE ID, or the in-process invoker's name), never by a header. Other
 * methods are open to any service; their end user is checked by endUserPolicy.
 */
export function callerPolicy(): ServerInterceptor {
  return (next) => (input, ctx) => {
    const access = accessOf(ctx.method);
    if (access.internal) {
      if (ctx.caller === undefined) {
        return Promise.reject(kitErrors.create("KIT_ERR_CALLER_UNAUTHENTICATED", `${methodPath(ctx.method)} is internal and the call carries no verified service identity`));
      }
      if (!access.callers.includes(ctx.caller)) {
        return Promise.reject(kitErrors.create("KIT_ERR_CALLER_DENIED", `the service "${ctx.caller}" may not call ${methodPath(ctx.method)}`));
      }
    }
    return next(input, ctx);
  };
}
