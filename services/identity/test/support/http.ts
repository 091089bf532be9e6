// Small HTTP helpers for the identity suites.
import { createHash, randomBytes } from "node:crypto";

export interface Res {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

async function read(res: Response): Promise<Res> {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    // HTML pages stay in `text`.
  }
  return { status: res.status, headers: res.headers, body, text };
}

export function client(base: string) {
  return {
    async form(path: string, fields: Record<string, string> | string, headers: Record<string, string> = {}): Promise<Res> {
      const body = typeof fields === "string" ? fields : new URLSearchParams(fields).toString();
      return read(await fetch(`${base}${path}`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body }));
    },
    async json(method: string, path: string, body?: unknown, token?: string, headers: Record<string, string> = {}): Promise<Res> {
      const h: Record<string, string> = { ...headers };
      if (token !== undefined) h.authorization = `Bearer ${token}`;
      if (body !== undefined) h["content-type"] = "application/json";
      return read(await fetch(`${base}${path}`, { method, redirect: "manual", headers: h, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }));
    },
    async get(path: string, token?: string): Promise<Res> {
      return read(await fetch(`${base}${path}`, { redirect: "manual", ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }) }));
    },
  };
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

let n = 0;
/** A fresh email per call, so tests do not share accounts. */
export function freshEmail(tag: string): string {
  n += 1;
  return `${tag}.${n}.${randomBytes(3).toString("hex")}@example.test`;
}

export const GOOD_PASSWORD = "plum-orbit-velvet-42";
