import assert from "node:assert/strict";
import { test } from "node:test";
import { FrameError, parseClientFrame } from "./frames.ts";

test("client frames parse to their typed shape", () => {
  assert.deepEqual(parseClientFrame('{"type":"hello","resume":{"c1":3,"c-2":0}}'), { type: "hello", resume: new Map([["c1", 3], ["c-2", 0]]) });
  assert.deepEqual(parseClientFrame('{"type":"hello"}'), { type: "hello", resume: new Map() });
  assert.deepEqual(parseClientFrame('{"type":"ack","conversation_id":"c1","seq":7}'), { type: "ack", conversation_id: "c1", seq: 7 });
  assert.deepEqual(parseClientFrame('{"type":"typing","conversation_id":"c1"}'), { type: "typing", conversation_id: "c1" });
  assert.deepEqual(parseClientFrame('{"type":"ping","id":"x"}'), { type: "ping", id: "x" });
});

test("bad JSON is a SyntaxError; a bad shape is a FrameError naming the problem", () => {
  assert.throws(() => parseClientFrame("{nope"), SyntaxError);
  const bad: Array<[string, RegExp]> = [
    ["[]", /JSON object/],
    ['"hello"', /JSON object/],
    ['{"type":"shout"}', /unknown frame type/],
    ['{"type":"ack","conversation_id":"c1","seq":-1}', /non-negative integer/],
    ['{"type":"ack","conversation_id":"c1","seq":1.5}', /non-negative integer/],
    ['{"type":"ack","conversation_id":"c1","seq":"3"}', /non-negative integer/],
    ['{"type":"receipt","conversation_id":"has space","seq":1}', /conversation_id/],
    ['{"type":"typing","conversation_id":""}', /conversation_id/],
    ['{"type":"hello","resume":[1]}', /resume/],
    ['{"type":"hello","resume":{"c1":9007199254740993}}', /non-negative integer/],
  ];
  for (const [text, message] of bad) assert.throws(() => parseClientFrame(text), (e) => e instanceof FrameError && message.test(e.message), text);
  const many = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`c${i}`, 0]));
  assert.throws(() => parseClientFrame(JSON.stringify({ type: "hello", resume: many })), /at most 1000/);
});
