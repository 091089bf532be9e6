import { create, type DescMessage, type DescMethodUnary, type DescService, type MessageShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator, type Validator, type Violation } from "@bufbuild/protovalidate";
import { nulStringField } from "./nul-strings.ts";
import { type FieldViolation, FlotillaError, kitErrors } from "../errors/index.ts";
import type { ServiceHandlers } from "../service/types.ts";
import { methodPath } from "./method-path.ts";
import type { CallContext, ServerInterceptor, UnaryFn } from "./types.ts";

/** One routable method: what a transport needs to serve it. */
export interface Route {
  /** `/flotilla.catalog.v1.CatalogService/GetEvent` */
  readonly path: string;
  readonly service: DescService;
  readonly method: DescMethodUnary;
  /** Validates, runs the interceptors and the handler; rejects only with FlotillaError. */
  readonly invoke: UnaryFn;
}

export interface RouterOptions {
  /** Wrap every handler; the first is the outermost (it sees the call first). */
  interceptors?: readonly ServerInterceptor[];
  /** Defaults to one protovalidate validator per router. */
  validator?: Validator;
  /**
   * Sees every failed call with the error as it is answered. For internal
   * errors the wire only says "internal error"; the original is `error.cause`.
   */
  onError?: (error: FlotillaError, ctx: CallContext) => void;
}

export interface AddOptions {
  /** Run inside the router's interceptors, for this service only. */
  interceptors?: readonly ServerInterceptor[];
}

function toViolations(violations: readonly Violation[]): FieldViolation[] {
  return violations.map((v) => ({ field: pathToString(v.field), message: v.message, rule: v.ruleId }));
}

/**
 * The error the caller gets for anything a handler throws. A FlotillaError is
 * the handler's answer and goes out as it is; anything else is a bug, which the
 * caller only learns is "internal error" (the cause stays here, for the logs).
 */
export function toServerError(value: unknown): FlotillaError {
  if (value instanceof FlotillaError) return value;
  if (value instanceof Error && (value.name === "AbortError" || value.name === "TimeoutError")) return FlotillaError.from(value);
  return kitErrors.create("KIT_ERR_INTERNAL", "internal error", { cause: value });
}

type Handler = (input: MessageShape<DescMessage>, ctx: CallContext) => Promise<unknown>;

function compose(interceptors: readonly ServerInterceptor[], last: UnaryFn): UnaryFn {
  let next = last;
  for (let i = interceptors.length - 1; i >= 0; i--) next = (interceptors[i] as ServerInterceptor)(next);
  return next;
}

/**
 * Maps Connect paths to handlers. Transports (inproc, HTTP) look a call up and
 * run `invoke`, which validates the input against the contract's protovalidate
 * rules, then runs the interceptors and the handler.
 *
 *   const router = new Router({ interceptors: [serverTelemetry(telemetry)] });
 *   router.add(CatalogService, handlers);
 *   await router.lookup("/flotilla.catalog.v1.CatalogService/GetEvent")?.invoke(input, ctx);
 */
export class Router {
  readonly #routes = new Map<string, Route>();
  readonly #services = new Set<string>();
  readonly #interceptors: readonly ServerInterceptor[];
  readonly #validator: Validator;
  readonly #onError: ((error: FlotillaError, ctx: CallContext) => void) | undefined;

  constructor(options: RouterOptions = {}) {
    this.#interceptors = options.interceptors ?? [];
    this.#validator = options.validator ?? createValidator();
    this.#onError = options.onError;
  }

  add<S extends DescService>(service: S, handlers: ServiceHandlers<S>, options: AddOptions = {}): this {
    if (this.#services.has(service.typeName)) {
      throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `service ${service.typeName} is already routed`);
    }
    const byName = handlers as unknown as Record<string, Handler | undefined>;
    const interceptors = [...this.#interceptors, ...(options.interceptors ?? [])];
    const routes: Route[] = [];
    for (const method of service.methods) {
      if (method.methodKind !== "unary") continue;
      const handler = byName[method.localName];
      if (typeof handler !== "function") {
        throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `no handler for ${service.typeName}.${method.name} (expected handlers.${method.localName})`);
      }
      const unary = method as DescMethodUnary;
      routes.push({ path: methodPath(unary), service, method: unary, invoke: this.#guard(unary, handler, interceptors) });
    }
    this.#services.add(service.typeName);
    for (const route of routes) this.#routes.set(route.path, route);
    return this;
  }

  lookup(path: string): Route | undefined {
    return this.#routes.get(path);
  }

  /** Whether `typeName` (`flotilla.catalog.v1.CatalogService`) is routed here. */
  hasService(typeName: string): boolean {
    return this.#services.has(typeName);
  }

  routes(): Route[] {
    return [...this.#routes.values()];
  }

  #guard(method: DescMethodUnary, handler: Handler, interceptors: readonly ServerInterceptor[]): UnaryFn {
    const validator = this.#validator;
    const onError = this.#onError;
    const input = method.input;
    const output = method.output;
    const toOutput = (init: unknown) => create(output, init as MessageShape<DescMessage>);
    const fail = (error: unknown, ctx: CallContext): FlotillaError => {
      const failure = toServerError(error);
      onError?.(failure, ctx);
      return failure;
    };
    // Without interceptors the handler's promise is followed by one reaction
    // (build the output or map the error) instead of a chain of three.
    const intercepted = interceptors.length === 0 ? undefined : compose(interceptors, (message, ctx) => Promise.resolve(handler(message, ctx)).then(toOutput));
    // Not an async function: one promise fewer per call on the hot path.
    return (message, ctx) => {
      let pending: Promise<unknown>;
      try {
        const result = validator.validate(input, message);
        if (result.kind === "invalid") {
          const violations = toViolations(result.violations);
          const fields = violations.map((v) => v.field).join(", ");
          throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `invalid ${input.name}: ${fields}`, { violations });
        }
        if (result.kind === "error") throw result.error;
        const nul = nulStringField(input, message);
        if (nul !== undefined) {
          throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `invalid ${input.name}: ${nul}`, {
            violations: [{ field: nul, message: "must not contain the character U+0000", rule: "string.no_nul" }],
          });
        }
        pending = intercepted === undefined ? Promise.resolve(handler(message, ctx)) : intercepted(message, ctx);
      } catch (error) {
        return Promise.reject(fail(error, ctx));
      }
      const failed = (error: unknown) => {
        throw fail(error, ctx);
      };
      if (intercepted !== undefined) return pending.then(undefined, failed) as Promise<MessageShape<DescMessage>>;
      return pending.then((init) => {
        try {
          return toOutput(init);
        } catch (error) {
          throw fail(error, ctx);
        }
      }, failed);
    };
  }
}
