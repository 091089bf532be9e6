// Runs a set of child processes, restarts any that dies (with backoff), and
// stops them all on request. Used by `flotilla up`.
import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter } from "node:events";

export interface ProcessSpec {
  /** Unique label, e.g. `catalog#1`. */
  name: string;
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
}

export interface ProcessState {
  name: string;
  pid: number | undefined;
  restarts: number;
  status: "starting" | "running" | "backoff" | "stopped";
  lastExit: string | undefined;
  /** While in backoff: how long until the restart. */
  restartInMs: number | undefined;
}

export interface SupervisorOptions {
  /** First restart delay; doubles per quick failure up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A process that ran this long is healthy again: its backoff resets. */
  stableAfterMs?: number;
  /** SIGTERM first, SIGKILL after this long. */
  stopGraceMs?: number;
  /** Where children's output goes; default: prefixed lines on stdout. */
  output?: (name: string, line: string) => void;
}

interface Slot {
  spec: ProcessSpec;
  state: ProcessState;
  child: ChildProcess | undefined;
  timer: NodeJS.Timeout | undefined;
  backoff: number;
  startedAt: number;
}

export class Supervisor extends EventEmitter<{ exit: [ProcessState]; start: [ProcessState] }> {
  readonly #slots = new Map<string, Slot>();
  readonly #opts: Required<SupervisorOptions>;
  #stopping = false;

  constructor(options: SupervisorOptions = {}) {
    super();
    this.#opts = {
      backoffMs: options.backoffMs ?? 250,
      maxBackoffMs: options.maxBackoffMs ?? 10_000,
      stableAfterMs: options.stableAfterMs ?? 10_000,
      stopGraceMs: options.stopGraceMs ?? 10_000,
      output: options.output ?? ((name, line) => process.stdout.write(`${name.padEnd(14)}| ${line}\n`)),
    };
  }

  add(spec: ProcessSpec): void {
    if (this.#slots.has(spec.name)) throw new Error(`process ${spec.name} already exists`);
    const slot: Slot = {
      spec,
      state: { name: spec.name, pid: undefined, restarts: 0, status: "starting", lastExit: undefined, restartInMs: undefined },
      child: undefined,
      timer: undefined,
      backoff: this.#opts.backoffMs,
      startedAt: 0,
    };
    this.#slots.set(spec.name, slot);
    this.#start(slot);
  }

  list(): ProcessState[] {
    return [...this.#slots.values()].map((s) => ({ ...s.state }));
  }

  /** Stops every process: SIGTERM, then SIGKILL after the grace period. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#slots.values()].map(async (slot) => {
        clearTimeout(slot.timer);
        const child = slot.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        const kill = setTimeout(() => child.kill("SIGKILL"), this.#opts.stopGraceMs);
        await exited;
        clearTimeout(kill);
      }),
    );
  }

  #start(slot: Slot): void {
    const child = spawn(slot.spec.command, slot.spec.args, { env: slot.spec.env, stdio: ["ignore", "pipe", "pipe"] });
    slot.child = child;
    slot.startedAt = Date.now();
    slot.state = { ...slot.state, pid: child.pid, status: "running", restartInMs: undefined };
    this.emit("start", { ...slot.state });
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = "";
      stream?.setEncoding("utf8");
      stream?.on("data", (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) this.#opts.output(slot.spec.name, line);
      });
    }
    child.on("error", (error) => this.#opts.output(slot.spec.name, `failed to start: ${error.message}`));
    child.on("exit", (code, signal) => {
      const lastExit = signal ? `signal ${signal}` : `code ${code}`;
      if (this.#stopping) {
        slot.state = { ...slot.state, pid: undefined, status: "stopped", lastExit };
        this.emit("exit", { ...slot.state });
        return;
      }
      // A process that stayed up a while had a healthy run: restart it quickly.
      if (Date.now() - slot.startedAt >= this.#opts.stableAfterMs) slot.backoff = this.#opts.backoffMs;
      const delay = slot.backoff;
      slot.backoff = Math.min(slot.backoff * 2, this.#opts.maxBackoffMs);
      slot.state = { ...slot.state, pid: undefined, status: "backoff", lastExit, restarts: slot.state.restarts + 1, restartInMs: delay };
      this.#opts.output(slot.spec.name, `exited (${lastExit}); restarting in ${delay} ms`);
      this.emit("exit", { ...slot.state });
      slot.timer = setTimeout(() => this.#start(slot), delay);
    });
  }
}
