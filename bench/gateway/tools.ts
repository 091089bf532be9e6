// nginx, wrk and Redis (for a gateway of several processes) come from
// Debian's packages; installed here when missing so the benchmark runs on a
// fresh machine (as root, with apt).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const has = (command: string): boolean => spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;

export function ensureTools(options: { redis: boolean }): void {
  const missing = [has("nginx") ? undefined : "nginx-light", has("wrk") ? undefined : "wrk", !options.redis || has("redis-server") ? undefined : "redis-server"].filter((p) => p !== undefined);
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(" ")} from Debian's packages ...`);
  const before = existsSync("/run/nginx.pid");
  execFileSync("apt-get", ["install", "-y", "--no-install-recommends", ...missing], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  // The package may start a system nginx on port 80: not ours to keep running.
  if (!before && existsSync("/run/nginx.pid")) {
    const pid = Number(readFileSync("/run/nginx.pid", "utf8").trim());
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, "SIGQUIT");
      } catch {}
    }
  }
  for (const tool of ["nginx", "wrk", ...(options.redis ? ["redis-server"] : [])]) if (!has(tool)) throw new Error(`${tool} is still missing after apt-get install`);
}
