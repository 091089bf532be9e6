import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parsePathTemplate, TemplateError, variableValue } from "./path-template.ts";

describe("parsePathTemplate", () => {
  test("a simple variable becomes one Fastify parameter named after its position", () => {
    const t = parsePathTemplate("/v1/catalog/events/{event_id}");
    assert.equal(t.fastifyUrl, "/v1/catalog/events/:p0");
    assert.equal(t.openApiPath, "/v1/catalog/events/{event_id}");
    assert.deepEqual(t.variables.map((v) => v.fieldPath), [["event_id"]]);
    assert.equal(variableValue(t.variables[0]!, { p0: "evt_1" }), "evt_1");
  });

  test("nested field paths keep their dots in OpenAPI but not in the Fastify URL", () => {
    const t = parsePathTemplate("/v1/things/{thing.id}/parts/{part}");
    assert.equal(t.fastifyUrl, "/v1/things/:p0/parts/:p1");
    assert.equal(t.openApiPath, "/v1/things/{thing.id}/parts/{part}");
    assert.deepEqual(t.variables.map((v) => v.fieldPath), [["thing", "id"], ["part"]]);
  });

  test("{name=shelves/*} routes the literal and rebuilds the whole value", () => {
    const t = parsePathTemplate("/v1/{name=shelves/*/books/*}");
    assert.equal(t.fastifyUrl, "/v1/shelves/:p0/books/:p1");
    assert.equal(t.openApiPath, "/v1/shelves/{name_1}/books/{name_2}");
    assert.equal(variableValue(t.variables[0]!, { p0: "7", p1: "9" }), "shelves/7/books/9");
  });

  test("a trailing ** captures the rest of the path", () => {
    const t = parsePathTemplate("/v1/{path=files/**}");
    assert.equal(t.fastifyUrl, "/v1/files/*");
    assert.equal(variableValue(t.variables[0]!, { "*": "a/b/c.txt" }), "files/a/b/c.txt");
  });

  for (const bad of ["v1/x", "/v1/{id", "/v1/{a}}", "/v1/x:cancel", "/v1/*", "/v1/{p=**}/x", "/v1/{1bad}", "/v1//x", "/v1/{a{b}}"]) {
    test(`rejects ${bad}`, () => {
      assert.throws(() => parsePathTemplate(bad), TemplateError);
    });
  }
});
