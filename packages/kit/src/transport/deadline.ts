import { type FlotillaError, kitErrors } from "../errors/index.ts";

export function deadlineExceeded(): FlotillaError {
  return kitErrors.create("KIT_ERR_DEADLINE_EXCEEDED", "the deadline passed before the call completed");
}

export function canceled(reason?: unknown): FlotillaError {
  return kitErrors.create("KIT_ERR_CANCELED", "the caller canceled the call", { cause: reason });
}

/**
 * Runs `work` with a signal that aborts when `deadline` passes or `parent`
 * aborts, and settles at that moment with KIT_ERR_DEADLINE_EXCEEDED or
 * KIT_ERR_CANCELED even if `work` ignores its signal.
 */
export function withDeadline<T>(deadline: number | undefined, parent: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      if (timer !== undefined) clearTimeout(timer);
      parent?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      controller.abort(parent?.reason);
      reject(canceled(parent?.reason));
    };
    if (parent?.aborted) return onAbort();
    if (deadline !== undefined) {
      const left = deadline - Date.now();
      if (left <= 0) {
        controller.abort(new DOMException("the deadline passed", "TimeoutError"));
        return reject(deadlineExceeded());
      }
      timer = setTimeout(() => {
        done();
        controller.abort(new DOMException("the deadline passed", "TimeoutError"));
        reject(deadlineExceeded());
      }, left);
    }
    parent?.addEventListener("abort", onAbort, { once: true });
    work(controller.signal).then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}
