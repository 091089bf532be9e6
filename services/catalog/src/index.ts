export { catalogErrors } from "./errors.ts";
export { catalogService } from "./service.ts";
