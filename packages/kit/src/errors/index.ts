export { defineErrors, type ErrorSpec, type FieldViolation, FlotillaError, type FlotillaErrorInit } from "./flotilla-error.ts";
export { type KitErrorCode, kitErrors } from "./kit-errors.ts";
export { httpStatusOf, isRpcCode, RpcCode } from "./rpc-code.ts";
