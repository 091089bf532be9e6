import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { renderErrorsDoc } from "./errors-doc.ts";

test("docs/errors.md documents every error code of every package", () => {
  const doc = readFileSync(join(import.meta.dirname, "..", "docs", "errors.md"), "utf8");
  assert.equal(doc, renderErrorsDoc(), "docs/errors.md is stale: run npm run docs:errors");
  for (const code of ["KIT_ERR_NO_INSTANCE", "CATALOG_ERR_EVENT_NOT_FOUND"]) assert.match(doc, new RegExp(`\`${code}\``));
});
