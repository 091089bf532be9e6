import assert from "node:assert/strict";
import { test } from "node:test";
import { signInCsp } from "./sign-in-page.ts";

test("the page's form-action allows the post and the redirect back to the client, nothing else", () => {
  const csp = signInCsp("https://app.example.com/oauth/cb?x=1");
  assert.match(csp, /form-action 'self' https:\/\/app\.example\.com;/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(signInCsp("http://127.0.0.1:3000/callback"), /form-action 'self' http:\/\/127\.0\.0\.1:3000;/);
  assert.match(signInCsp("flotilla://oauth/callback"), /form-action 'self' flotilla:;/);
  // Nothing that could end the directive or add one: the origin is rebuilt by the URL parser.
  assert.match(signInCsp("https://a.example;script-src *"), /form-action 'self';/);
  assert.match(signInCsp("https://a.example/;script-src *"), /form-action 'self' https:\/\/a\.example;/);
  assert.match(signInCsp("not a url"), /form-action 'self';/);
});
