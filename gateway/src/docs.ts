// The API docs page: Swagger UI served from the swagger-ui-dist package on
// disk, so it works offline and loads nothing from another origin.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";

const ASSETS = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
} as const;

// Our own start-up script, a file rather than an inline <script> so the CSP
// can forbid inline scripts. validatorUrl: null stops Swagger UI from sending
// the document to validator.swagger.io.
const INIT_SCRIPT = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
  });
});
`;

// Swagger UI sets inline style attributes and uses data: images; everything
// else must come from this origin.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

interface Asset {
  readonly body: Buffer;
  readonly etag: string;
  readonly type: string;
}

export function registerDocsRoutes(app: FastifyInstance, title: string): void {
  const dir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const page = indexHtml(title);
  const cache = new Map<string, Promise<Asset>>();
  const load = (name: keyof typeof ASSETS): Promise<Asset> => {
    let asset = cache.get(name);
    if (asset === undefined) {
      asset = readFile(join(dir, name)).then((body) => ({ body, type: ASSETS[name], etag: etagOf(body) }));
      // A failed read is retried on the next request rather than cached.
      asset.catch(() => cache.delete(name));
      cache.set(name, asset);
    }
    return asset;
  };
  const init: Asset = { body: Buffer.from(INIT_SCRIPT), type: "text/javascript; charset=utf-8", etag: etagOf(Buffer.from(INIT_SCRIPT)) };

  const sendPage = async (_request: unknown, reply: FastifyReply) => {
    reply.type("text/html; charset=utf-8").header("content-security-policy", CSP).header("x-content-type-options", "nosniff");
    reply.header("cache-control", "no-cache");
    return page;
  };
  app.get("/docs", sendPage);
  app.get("/docs/", sendPage);

  const routes: [string, () => Promise<Asset>][] = [
    ...Object.keys(ASSETS).map((name): [string, () => Promise<Asset>] => [name, () => load(name as keyof typeof ASSETS)]),
    ["init.js", async () => init],
  ];
  for (const [name, get] of routes) {
    app.get(`/docs/assets/${name}`, async (request, reply) => {
      const asset = await get();
      reply.header("etag", asset.etag).header("cache-control", "public, max-age=86400").header("x-content-type-options", "nosniff");
      if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
      return reply.type(asset.type).send(asset.body);
    });
  }
}

function etagOf(body: Buffer): string {
  return `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
}

function indexHtml(title: string): string {
  const safe = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${safe} — API docs</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
