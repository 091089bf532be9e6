import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { drainBody } from "./oversized-body.ts";

const body = () => new PassThrough() as unknown as IncomingMessage & PassThrough;

describe("drainBody", () => {
  it("reads a body to its end", async () => {
    const request = body();
    const drained = drainBody(request, 100, 1000);
    request.write(Buffer.alloc(60));
    request.end(Buffer.alloc(40));
    assert.equal(await drained, true);
  });

  it("stops past its byte bound", async () => {
    const request = body();
    const drained = drainBody(request, 100, 1000);
    request.write(Buffer.alloc(60));
    request.write(Buffer.alloc(60));
    assert.equal(await drained, false);
  });

  it("stops when the body does not finish in time", async () => {
    const request = body();
    const drained = drainBody(request, 100, 50);
    request.write(Buffer.alloc(10));
    assert.equal(await drained, false);
  });

  it("stops when the request fails", async () => {
    const request = body();
    const drained = drainBody(request, 100, 1000);
    request.destroy(new Error("client went away"));
    assert.equal(await drained, false);
  });
});
