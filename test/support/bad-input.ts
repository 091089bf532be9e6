// The bad-input cases every runtime must answer the same way through the gateway.
import assert from "node:assert/strict";
import { getJson } from "./processes.ts";

interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  violations?: { field: string; message: string }[];
}

function assertProblem(r: { status: number; type: string; body: unknown }, status: number): Problem {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.match(r.type, /^application\/problem\+json/);
  const p = r.body as Problem;
  assert.equal(p.status, status);
  assert.equal(typeof p.title, "string");
  assert.equal(typeof p.code, "string");
  return p;
}

const validEvent = {
  title: "Test concert",
  category: "EVENT_CATEGORY_CONCERT",
  venue: "Hall",
  city: "Porto",
  startsAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
  capacity: 100,
  priceMinor: "2500",
  currency: "EUR",
};

/** `auth`: headers sent with each request, e.g. an `authorization` bearer allowed to create events. */
export async function checkBadInput(base: string, auth: Record<string, string> = {}): Promise<void> {
  const post = (body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
    getJson(`${base}/v1/catalog/events`, { method: "POST", headers: { ...auth, ...headers }, body });

  assertProblem(await getJson(`${base}/v1/nothing/here`), 404);

  const malformed = assertProblem(await post('{"title": "x",'), 400);
  assert.match(`${malformed.detail}`, /json/i);

  const invalid = assertProblem(await post(JSON.stringify({ ...validEvent, title: "", capacity: 0, currency: "euro" })), 400);
  const fields = (invalid.violations ?? []).map((v) => v.field).sort();
  assert.deepEqual(fields, ["capacity", "currency", "title"]);

  const unknownField = assertProblem(await post(JSON.stringify({ ...validEvent, colour: "red" })), 400);
  assert.match(`${unknownField.detail}`, /colour/);

  assertProblem(await post(JSON.stringify({ ...validEvent, description: "x".repeat(2 * 1024 * 1024) })), 413);

  const notFound = assertProblem(await getJson(`${base}/v1/catalog/events/evt_does_not_exist`), 404);
  assert.equal(notFound.code, "CATALOG_ERR_EVENT_NOT_FOUND");

  assertProblem(await getJson(`${base}/v1/catalog/events?page_size=1000`), 400);
  assertProblem(await getJson(`${base}/v1/catalog/events?pageToken=garbage!!`), 400);

  const created = await post(JSON.stringify(validEvent));
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const id = (created.body as { event: { eventId: string } }).event.eventId;
  const fetched = await getJson(`${base}/v1/catalog/events/${id}`);
  assert.equal((fetched.body as { event: { title: string } }).event.title, "Test concert");
}
