export { accessOf, type MethodAccess } from "./access.ts";
export { callerPolicy } from "./caller-policy.ts";
export { bearerOf, endUserOf, endUserPolicy } from "./end-user-policy.ts";
export { identityJwks } from "./identity-jwks.ts";
