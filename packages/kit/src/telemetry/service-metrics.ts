// A service's own metrics, beside the chassis's RED metrics on the same
// registry (and so on the same /metrics): each name is prefixed with
// `flotilla_<service>_`, so the services of an embedded process, which share
// one registry, cannot collide. Label values must come from closed sets.
import { Counter, Gauge, type Registry } from "prom-client";
import { kitErrors } from "../errors/index.ts";

export interface ServiceCounter<L extends string = never> {
  inc(...args: [L] extends [never] ? [by?: number] : [labels: Record<L, string>, by?: number]): void;
}

export interface ServiceMetrics {
  /** A value read when the metrics are scraped (the size of a cache, the sockets open). */
  gauge(name: string, help: string, read: () => number): void;
  /** A count that only grows; `labels` names its labels. */
  counter<L extends string = never>(name: string, help: string, labels?: readonly L[]): ServiceCounter<L>;
}

const NAME = /^[a-z][a-z0-9_]*$/;

export function serviceMetrics(registry: Registry, service: string): ServiceMetrics {
  const prefix = `flotilla_${service.replaceAll("-", "_")}_`;
  const fullName = (name: string) => {
    if (!NAME.test(name)) throw kitErrors.create("KIT_ERR_INVALID_ARGUMENT", `metric name ${JSON.stringify(name)} must match ${NAME}`);
    const full = prefix + name;
    // The service hosted again on this registry (a restart in one process): the new one reports.
    registry.removeSingleMetric(full);
    return full;
  };
  return {
    gauge(name, help, read) {
      new Gauge({
        name: fullName(name),
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    },
    counter<L extends string = never>(name: string, help: string, labels: readonly L[] = []): ServiceCounter<L> {
      const counter = new Counter<string>({ name: fullName(name), help, labelNames: [...labels], registers: [registry] });
      return {
        inc: ((a?: Record<string, string> | number, b?: number) => {
          if (typeof a === "object") counter.inc(a, b ?? 1);
          else counter.inc(a ?? 1);
        }) as ServiceCounter<L>["inc"],
      };
    },
  };
}
