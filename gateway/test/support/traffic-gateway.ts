// A gateway over the fake catalog with a stand-in for the auth plugin: the
// caller is whoever `x-test-user` / `x-test-app` name, so traffic plugins can
// be tested without tokens.
import { catalogV1 } from "@flotilla/contracts";
import type { FastifyInstance } from "fastify";
import { createGateway, type GatewayPlugin, type Invoke } from "../../src/index.ts";

export const testAuth: GatewayPlugin = (api) => {
  api.addHook("preHandler", async (request) => {
    const user = request.headers["x-test-user"];
    const app = request.headers["x-test-app"];
    request.auth = {
      sub: typeof user === "string" ? user : undefined,
      token: undefined,
      app: typeof app === "string" ? { id: app, platform: "test" } : undefined,
    };
  });
};

export async function startGateway(invoke: Invoke, plugins: readonly GatewayPlugin[]): Promise<{ app: FastifyInstance; base: string }> {
  const app = createGateway({ services: [catalogV1.CatalogService], invoke, logger: false, plugins: [testAuth, ...plugins] });
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  return { app, base };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export async function send(base: string, path: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
