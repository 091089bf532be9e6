/** Hides credentials (`nats://user:secret@host`) before a URL goes into an error message or a log. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/g, "//***@");
}
