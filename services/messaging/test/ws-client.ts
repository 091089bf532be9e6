// A test client for /v1/realtime: collects frames, waits for them.
import { WebSocket } from "ws";

export interface Frame {
  type: string;
  [k: string]: unknown;
}

export class TestClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  /** Server frames sent as binary: the protocol is JSON text, so always 0. */
  binaryFrames = 0;
  closed: { code: number; reason: string } | undefined;
  readonly opened: Promise<void>;
  readonly done: Promise<{ code: number; reason: string }>;

  constructor(url: string, options: { token?: string; protocols?: string[]; headers?: Record<string, string> } = {}) {
    const headers = { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers };
    this.ws = new WebSocket(url, options.protocols ?? [], { headers });
    this.ws.on("message", (data, isBinary) => {
      if (isBinary) this.binaryFrames++;
      this.frames.push(JSON.parse(String(data)) as Frame);
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("unexpected-response", (_req, res) => reject(Object.assign(new Error(`handshake refused: ${res.statusCode}`), { status: res.statusCode })));
      this.ws.once("error", reject);
    });
    this.opened.catch(() => {});
    this.done = new Promise((resolve) =>
      this.ws.once("close", (code, reason) => {
        this.closed = { code, reason: String(reason) };
        resolve(this.closed);
      }),
    );
  }

  send(frame: object): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Message frames of one conversation, as their seqs, in arrival order. */
  seqs(conversationId: string): number[] {
    return this.frames
      .filter((f) => f.type === "message" && (f.message as { conversation_id: string }).conversation_id === conversationId)
      .map((f) => (f.message as { seq: number }).seq);
  }

  async waitFor(match: (f: Frame) => boolean, what: string, timeoutMs = 10_000): Promise<Frame> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (Date.now() > until || this.closed) throw new Error(`no ${what}; closed=${JSON.stringify(this.closed)} frames=${JSON.stringify(this.frames).slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async hello(resume: Record<string, number> = {}): Promise<Frame> {
    await this.opened;
    this.send({ type: "hello", resume });
    return this.waitFor((f) => f.type === "ready", "ready");
  }

  close(): Promise<unknown> {
    this.ws.close();
    return this.done;
  }
}
