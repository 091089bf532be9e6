import { defineErrors } from "@flotilla/kit";

/** The catalog's errors; each is documented in docs/errors.md. */
export const catalogErrors = defineErrors({
  CATALOG_ERR_EVENT_NOT_FOUND: { rpc: "not_found", retryable: false, doc: "No event has this id." },
  CATALOG_ERR_BAD_PAGE_TOKEN: { rpc: "invalid_argument", retryable: false, doc: "The page token is not one this service issued, or it was altered." },
  CATALOG_ERR_PAST_EVENT: { rpc: "invalid_argument", retryable: false, doc: "An event cannot start in the past." },
});
