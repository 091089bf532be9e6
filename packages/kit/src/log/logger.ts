import { type Logger, pino } from "pino";

/** Keys whose values never reach a log line, wherever they appear. */
const REDACT = [
  "password",
  "*.password",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "*.headers.cookie",
  "req.headers.authorization",
  "req.headers.cookie",
];

export type { Logger };

/** The process logger: JSON lines (pino), level from FLOTILLA_LOG_LEVEL, secrets redacted. */
export function createLogger(name: string, level = process.env.FLOTILLA_LOG_LEVEL ?? "info"): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: "[redacted]" }, base: { pid: process.pid, service: name } });
}
