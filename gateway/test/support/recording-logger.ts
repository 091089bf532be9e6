import type { FastifyBaseLogger } from "fastify";

export interface LogLine {
  level: string;
  msg: string | undefined;
  [key: string]: unknown;
}

/** A logger in Fastify's shape that keeps every line (with its child bindings) in `lines`. */
export function recordingLogger(lines: LogLine[] = [], bindings: Record<string, unknown> = {}): FastifyBaseLogger & { lines: LogLine[] } {
  const at =
    (level: string) =>
    (obj?: unknown, msg?: unknown): void => {
      const fields = typeof obj === "object" && obj !== null ? (obj as Record<string, unknown>) : {};
      const text = typeof obj === "string" ? obj : typeof msg === "string" ? msg : undefined;
      lines.push({ ...bindings, ...fields, level, msg: text });
    };
  return {
    lines,
    level: "trace",
    silent: () => {},
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    fatal: at("fatal"),
    child: (more: Record<string, unknown>) => recordingLogger(lines, { ...bindings, ...more }),
  } as FastifyBaseLogger & { lines: LogLine[] };
}
