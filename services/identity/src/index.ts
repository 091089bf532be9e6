export { identityErrors } from "./errors.ts";
export { createIdentityService, type IdentityOptions, identityService } from "./service.ts";
