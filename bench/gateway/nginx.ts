// nginx as a plain reverse proxy: as many workers as the gateway has
// processes, keep-alive to the upstream, no logs, nothing else.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";

export async function startNginx(dir: string, port: number, upstream: URL, workers = 1): Promise<ChildProcess> {
  for (const sub of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, sub), { recursive: true });
  const conf = `worker_processes ${workers};
daemon off;
pid ${dir}/nginx-${port}.pid;
error_log ${dir}/error-${port}.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream flotilla { server ${upstream.host}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://flotilla; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
  const file = join(dir, `nginx-${port}.conf`);
  writeFileSync(file, conf);
  const proc = spawn("nginx", ["-p", dir, "-c", file], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  proc.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  // Ready when it answers on its port.
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}: ${log}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return proc;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`nginx did not start: ${log}`);
}
