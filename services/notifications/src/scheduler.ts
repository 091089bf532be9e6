// Sends notifications when they are due. Restart-safe: all its state is in
// the database. A round claims due rows with a lease (SKIP LOCKED, so
// replicas share the work), pushes outside any transaction, logs every attempt,
// and either settles the notification or puts it back with a later due time
// for devices that got a retryable answer. A device whose push is settled
// (sent, failed, dead) is never pushed again for that notification, so a
// retry round or a redelivered event does not push twice.
//
// One window remains: a crash after the provider accepted a push and before
// the attempt is logged pushes it again when the lease ends (at least once).
import type { Database, FieldCipher, Logger, ServiceCounter } from "@flotilla/kit";
import { openDevice } from "./device-secrets.ts";
import { retryDelayMs } from "./domain.ts";
import type { Providers } from "./providers/index.ts";
import type { PushMessage, PushResult } from "./providers/types.ts";
import * as store from "./store.ts";

export interface SchedulerOptions {
  db: Database;
  providers: Providers;
  /** Opens the sealed device tokens. */
  cipher: FieldCipher;
  /** Counts push attempts by provider and outcome. */
  attempts?: ServiceCounter<"provider" | "outcome">;
  log: Logger;
  pollMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  /** How long a claimed notification stays with this scheduler. @default 60_000 */
  leaseMs?: number;
  batch?: number;
  now?: () => Date;
}

export class PushScheduler {
  readonly #o: Required<SchedulerOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: SchedulerOptions) {
    this.#o = { leaseMs: 60_000, batch: 50, now: () => new Date(), attempts: { inc: () => {} }, ...options };
  }

  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.runOnce()
        .then(() => {})
        .catch((err: unknown) => this.#o.log.warn({ err }, "push round failed; retrying"))
        .finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
    }, this.#o.pollMs);
  }

  /** One round: pushes everything due now. Returns how many notifications it handled. */
  async runOnce(): Promise<number> {
    const { db, now } = this.#o;
    const due = await store.claimDue(db, now(), this.#o.leaseMs, this.#o.batch);
    for (const n of due) await this.#deliver(n);
    return due.length;
  }

  async #deliver(n: store.NotificationRow): Promise<void> {
    const { db, providers, cipher, log, now } = this.#o;
    // A seen event may have raced the claim.
    if (await store.wasSeen(db, n.message_id, n.user_id)) {
      await store.settleNotification(db, n.notification_id, { state: "seen", reason: "seen" });
      return;
    }
    const devices = await store.activeDevices(db, n.user_id);
    const settled = await store.settledDevices(db, n.notification_id);
    const message: PushMessage = {
      title: n.title,
      body: n.body,
      data: { type: "message", conversation_id: n.conversation_id, message_id: n.message_id, notification_id: n.notification_id },
      collapseKey: n.message_id,
      threadId: n.conversation_id,
      expiresAt: new Date(now().getTime() + 24 * 3600_000),
      priority: "high",
    };
    let sent = 0;
    let retryAt: number | undefined;
    for (const device of devices) {
      const done = settled.get(device.device_id);
      if (done !== undefined) {
        if (done === "sent") sent += 1;
        continue;
      }
      const attempt = (await store.attemptsSoFar(db, n.notification_id, device.device_id)) + 1;
      const provider = providers[device.provider];
      let result: PushResult = provider
        ? await provider.send(await openDevice(cipher, device), message)
        : { outcome: "failed", status: 0, reason: "provider_not_configured" };
      if (result.outcome === "retry" && attempt >= this.#o.maxAttempts) result = { ...result, outcome: "failed", reason: `gave up after ${attempt} attempts: ${result.reason}` };
      await store.recordDelivery(db, {
        notificationId: n.notification_id,
        deviceId: device.device_id,
        provider: device.provider,
        attempt,
        outcome: result.outcome,
        status: result.status,
        reason: result.reason,
        providerId: result.providerId ?? "",
      });
      log.debug({ notification: n.notification_id, device: device.device_id, provider: device.provider, outcome: result.outcome, status: result.status }, "push attempt");
      this.#o.attempts.inc({ provider: device.provider, outcome: result.outcome });
      if (result.outcome === "sent") sent += 1;
      if (result.outcome === "dead_token") {
        await store.deactivateDevice(db, device.device_id, `${device.provider}: ${result.reason}`);
        log.info({ device: device.device_id, provider: device.provider, reason: result.reason }, "device deactivated: the provider reports its token dead");
      }
      if (result.outcome === "retry") {
        const at = now().getTime() + retryDelayMs(attempt, this.#o.retryBaseMs, result.retryAfterMs);
        retryAt = retryAt === undefined ? at : Math.min(retryAt, at);
      }
    }
    if (retryAt !== undefined) {
      await store.settleNotification(db, n.notification_id, { state: "pending", reason: "retrying", dueAt: new Date(retryAt) });
    } else if (sent > 0) {
      await store.settleNotification(db, n.notification_id, { state: "sent", reason: "" });
    } else {
      await store.settleNotification(db, n.notification_id, { state: "undelivered", reason: devices.length === 0 ? "no_device" : "all_failed" });
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }
}
