// Pure rules of the notifications service: no I/O, no clock of its own.

export interface QuietHours {
  /** "HH:MM" */
  start: string;
  end: string;
  /** IANA time zone */
  timeZone: string;
}

/** Whether `tz` is a time zone the runtime knows (IANA names such as Europe/Lisbon). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * Whether `at` falls in the quiet hours, read on the wall clock of their time
 * zone (so they follow daylight saving). `start` after `end` spans midnight:
 * 22:00–07:00 is quiet at 23:30 and at 06:59. Equal bounds mean no quiet hours.
 */
export function inQuietHours(at: Date, quiet: QuietHours): boolean {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: quiet.timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(at);
  const hour = Number(parts.find((p) => p.type === "hour")?.value);
  const minute = Number(parts.find((p) => p.type === "minute")?.value);
  const now = hour * 60 + minute;
  const start = minutes(quiet.start);
  const end = minutes(quiet.end);
  if (start === end) return false;
  return start < end ? now >= start && now < end : now >= start || now < end;
}

/** Delay before retry number `attempt` (from 1): exponential with full jitter, at least what the provider asked. */
export function retryDelayMs(attempt: number, baseMs: number, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  const exp = Math.min(baseMs * 2 ** (attempt - 1), 15 * 60_000);
  const backoff = Math.round(exp / 2 + (random() * exp) / 2);
  return Math.max(backoff, retryAfterMs ?? 0);
}

/** `Retry-After` (RFC 9110: delay-seconds or an HTTP date) in milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (value === null || value === undefined || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/** Cuts `text` to at most `max` UTF-8 bytes, on a character boundary, with an ellipsis when cut. */
export function truncateUtf8(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = "";
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max - 3) break;
    out += ch;
    bytes += n;
  }
  return `${out}…`;
}

/** A new opaque id: `<prefix>_<uuid v4 without dashes>`. */
export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "")}`;
}

/**
 * Whether a Web Push endpoint points at one of the allowed push-service hosts
 * (`host`, `host:port`, or `*.suffix` for any subdomain). The service POSTs to
 * whatever a subscription names, so an open list would let any user make it
 * call internal addresses (SSRF).
 */
export function webPushHostAllowed(endpoint: string, allowed: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.protocol !== "https:" || url.username !== "" || url.password !== "") return false;
  const host = url.hostname.toLowerCase();
  const hostPort = url.port === "" ? host : `${host}:${url.port}`;
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    if (p.startsWith("*.")) return url.port === "" && host.endsWith(p.slice(1)) && host.length > p.length - 1;
    return p.includes(":") ? hostPort === p : url.port === "" && host === p;
  });
}
