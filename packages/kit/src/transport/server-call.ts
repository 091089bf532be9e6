// The deadline of one call on the server side, shared by the HTTP and the NATS
// servers: the handler's signal aborts when the deadline passes, and the
// transport answers KIT_ERR_DEADLINE_EXCEEDED then even if the handler goes on.
// Exactly one answer goes out, whichever comes first.
import { type DeadlineSlice, deadlineTimers, type Expiring } from "./deadline-timers.ts";

export class ServerCall implements Expiring {
  readonly controller = new AbortController();
  readonly #onDeadline: () => void;
  #slice: DeadlineSlice | undefined;
  #answered = false;

  /** `onDeadline` sends the KIT_ERR_DEADLINE_EXCEEDED answer; it runs only if nothing was answered yet. */
  constructor(deadline: number | undefined, onDeadline: () => void) {
    this.#onDeadline = onDeadline;
    if (deadline !== undefined) this.#slice = deadlineTimers.watch(deadline, this);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  expire(): void {
    this.#slice = undefined;
    this.controller.abort(new DOMException("the deadline passed", "TimeoutError"));
    if (this.#answered) return;
    this.#answered = true;
    this.#onDeadline();
  }

  /** The handler settled: stops the deadline; true when its answer is still to be sent. */
  settle(): boolean {
    if (this.#slice !== undefined) {
      deadlineTimers.unwatch(this.#slice, this);
      this.#slice = undefined;
    }
    if (this.#answered) return false;
    this.#answered = true;
    return true;
  }

  /** Whether an answer (or the deadline's) went out. */
  get answered(): boolean {
    return this.#answered;
  }
}
