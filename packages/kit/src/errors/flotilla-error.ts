import { type RpcCode, httpStatusOf } from "./rpc-code.ts";

/** One field that failed validation; `field` is a dotted path such as `starts_at`. */
export interface FieldViolation {
  field: string;
  message: string;
  rule?: string;
}

export interface ErrorSpec {
  /** The Connect/gRPC code the error travels as. */
  rpc: RpcCode;
  /** Whether the same call may succeed if tried again. */
  retryable: boolean;
  /** One line for the error reference in docs/errors.md. */
  doc: string;
}

export interface FlotillaErrorInit {
  code: string;
  message: string;
  rpc: RpcCode;
  retryable?: boolean;
  violations?: FieldViolation[];
  cause?: unknown;
}

/**
 * The one error type that crosses every boundary of the platform: a stable
 * application code (`CATALOG_ERR_EVENT_NOT_FOUND`), the RPC code it travels
 * as, and whether retrying can help.
 */
export class FlotillaError extends Error {
  override readonly name = "FlotillaError";
  readonly code: string;
  readonly rpc: RpcCode;
  readonly retryable: boolean;
  readonly violations: readonly FieldViolation[];

  constructor(init: FlotillaErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.rpc = init.rpc;
    this.retryable = init.retryable ?? false;
    this.violations = init.violations ?? [];
  }

  get httpStatus(): number {
    return httpStatusOf(this.rpc);
  }

  /** Turns any thrown value into a FlotillaError, keeping the original as `cause`. */
  static from(value: unknown): FlotillaError {
    if (value instanceof FlotillaError) return value;
    if (value instanceof Error && value.name === "AbortError") {
      return new FlotillaError({ code: "KIT_ERR_CANCELED", rpc: "canceled", message: "the call was canceled", cause: value });
    }
    if (value instanceof Error && value.name === "TimeoutError") {
      return new FlotillaError({ code: "KIT_ERR_DEADLINE_EXCEEDED", rpc: "deadline_exceeded", message: "the deadline passed", cause: value });
    }
    const message = value instanceof Error ? value.message : String(value);
    return new FlotillaError({ code: "KIT_ERR_INTERNAL", rpc: "internal", message, cause: value });
  }
}

/**
 * Declares a package's closed table of coded errors.
 *
 *   export const errors = defineErrors({
 *     CATALOG_ERR_EVENT_NOT_FOUND: { rpc: "not_found", retryable: false, doc: "No event has this id." },
 *   });
 *   throw errors.create("CATALOG_ERR_EVENT_NOT_FOUND", `no event ${id}`);
 */
export function defineErrors<const T extends Record<string, ErrorSpec>>(table: T) {
  return {
    table,
    create(code: keyof T & string, message: string, extra?: { violations?: FieldViolation[]; cause?: unknown }): FlotillaError {
      const spec = table[code] as ErrorSpec;
      return new FlotillaError({ code, message, rpc: spec.rpc, retryable: spec.retryable, ...extra });
    },
    is(error: unknown, code: keyof T & string): error is FlotillaError {
      return error instanceof FlotillaError && error.code === code;
    },
  };
}
