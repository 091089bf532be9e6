// Errors on the wire, as the Connect protocol carries them: an HTTP status and a
// JSON body `{code, message, details}`. Our own code, retryability and field
// violations travel as google.rpc.ErrorInfo and google.rpc.BadRequest details,
// so any Connect client can read them and ours rebuild the same FlotillaError.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { googleRpc } from "@flotilla/contracts";
import { type FieldViolation, FlotillaError, httpStatusOf, isRpcCode, type KitErrorCode, kitErrors, type RpcCode } from "../errors/index.ts";

/** The ErrorInfo domain that marks an error as one of ours. */
export const ERROR_DOMAIN = "flotilla";

const ERROR_INFO = "google.rpc.ErrorInfo";
const BAD_REQUEST = "google.rpc.BadRequest";

interface WireDetail {
  type: string;
  value: string;
}

function base64(bytes: Uint8Array): string {
  // Connect sends details unpadded.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64").replace(/=+$/, "");
}

/** The JSON body of a Connect error response. */
export function encodeConnectError(error: FlotillaError): string {
  const info = create(googleRpc.ErrorInfoSchema, { reason: error.code, domain: ERROR_DOMAIN, metadata: { retryable: String(error.retryable) } });
  const details: WireDetail[] = [{ type: ERROR_INFO, value: base64(toBinary(googleRpc.ErrorInfoSchema, info)) }];
  if (error.violations.length > 0) {
    const badRequest = create(googleRpc.BadRequestSchema, {
      fieldViolations: error.violations.map((v) => ({ field: v.field, description: v.message, reason: v.rule ?? "" })),
    });
    details.push({ type: BAD_REQUEST, value: base64(toBinary(googleRpc.BadRequestSchema, badRequest)) });
  }
  return JSON.stringify({ code: error.rpc, message: error.message, details });
}

/** The HTTP status a Connect server answers an error with. */
export function statusOfError(error: FlotillaError): number {
  return httpStatusOf(error.rpc);
}

// https://connectrpc.com/docs/protocol/#http-to-error-code, for bodies that are not Connect errors.
function codeFromHttpStatus(status: number): RpcCode {
  switch (status) {
    case 400:
      return "internal";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "unimplemented";
    case 429:
    case 502:
    case 503:
    case 504:
      return "unavailable";
    default:
      return "unknown";
  }
}

// For errors from a Connect server that is not Flotilla (no ErrorInfo of ours).
const kitCodeOf: Partial<Record<RpcCode, KitErrorCode>> = {
  canceled: "KIT_ERR_CANCELED",
  deadline_exceeded: "KIT_ERR_DEADLINE_EXCEEDED",
  invalid_argument: "KIT_ERR_INVALID_ARGUMENT",
  unimplemented: "KIT_ERR_UNIMPLEMENTED",
  unavailable: "KIT_ERR_UNAVAILABLE",
  internal: "KIT_ERR_INTERNAL",
};

function parseBody(body: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function detailBytes(detail: unknown, type: string): Uint8Array | undefined {
  if (typeof detail !== "object" || detail === null) return undefined;
  const { type: name, value } = detail as Record<string, unknown>;
  if (typeof name !== "string" || typeof value !== "string") return undefined;
  // Some servers send the Any form `type.googleapis.com/google.rpc.ErrorInfo`.
  if (name !== type && !name.endsWith(`/${type}`)) return undefined;
  return Buffer.from(value, "base64");
}

/** Rebuilds the FlotillaError from a Connect error response (or any non-200 answer). */
export function decodeConnectError(status: number, body: Uint8Array): FlotillaError {
  const json = parseBody(body);
  const rpc = isRpcCode(json?.code) ? json.code : codeFromHttpStatus(status);
  const message = typeof json?.message === "string" ? json.message : `HTTP ${status} from upstream`;
  let code: string | undefined;
  let retryable: boolean | undefined;
  const violations: FieldViolation[] = [];
  const details = Array.isArray(json?.details) ? (json.details as unknown[]) : [];
  try {
    for (const detail of details) {
      const info = detailBytes(detail, ERROR_INFO);
      if (info !== undefined) {
        const decoded = fromBinary(googleRpc.ErrorInfoSchema, info);
        if (decoded.domain === ERROR_DOMAIN && decoded.reason !== "") {
          code = decoded.reason;
          retryable = decoded.metadata["retryable"] === "true";
        }
        continue;
      }
      const bad = detailBytes(detail, BAD_REQUEST);
      if (bad !== undefined) {
        for (const v of fromBinary(googleRpc.BadRequestSchema, bad).fieldViolations) {
          violations.push(v.reason === "" ? { field: v.field, message: v.description } : { field: v.field, message: v.description, rule: v.reason });
        }
      }
    }
  } catch {
    // A detail we cannot decode is dropped; the code and message still stand.
  }
  if (code !== undefined) return new FlotillaError({ code, rpc, message, retryable, violations });
  const kitCode = kitCodeOf[rpc];
  if (kitCode !== undefined) return kitErrors.create(kitCode, message, { violations });
  return new FlotillaError({ code: "KIT_ERR_UPSTREAM", rpc, message, retryable: false, violations });
}
