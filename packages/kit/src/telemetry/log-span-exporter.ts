import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode, hrTimeToMilliseconds } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";

/** One finished span as a flat record, ready for a JSON log line. */
export interface SpanRecord {
  msg: "span";
  service: string;
  name: string;
  kind: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  /** Epoch milliseconds. */
  start: number;
  durationMs: number;
  status: "unset" | "ok" | "error";
  statusMessage: string | undefined;
  attributes: ReadableSpan["attributes"];
}

const kindName: Record<SpanKind, string> = {
  [SpanKind.INTERNAL]: "internal",
  [SpanKind.SERVER]: "server",
  [SpanKind.CLIENT]: "client",
  [SpanKind.PRODUCER]: "producer",
  [SpanKind.CONSUMER]: "consumer",
};
const statusName = { [SpanStatusCode.UNSET]: "unset", [SpanStatusCode.OK]: "ok", [SpanStatusCode.ERROR]: "error" } as const;

export function spanRecord(service: string, span: ReadableSpan): SpanRecord {
  const context = span.spanContext();
  return {
    msg: "span",
    service,
    name: span.name,
    kind: kindName[span.kind],
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    start: hrTimeToMilliseconds(span.startTime),
    durationMs: hrTimeToMilliseconds(span.duration),
    status: statusName[span.status.code],
    statusMessage: span.status.message,
    attributes: span.attributes,
  };
}

/**
 * Writes each finished span as one record (by default a JSON line on stdout,
 * beside the pino logs), so a local cluster shows traces without a collector.
 * OTel's ConsoleSpanExporter prints multi-line object dumps, which breaks JSON-lines logs.
 */
export class LogSpanExporter implements SpanExporter {
  readonly #service: string;
  readonly #write: (record: SpanRecord) => void;

  constructor(service: string, write: (record: SpanRecord) => void) {
    this.#service = service;
    this.#write = write;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      for (const span of spans) this.#write(spanRecord(this.#service, span));
      done({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      done({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  async shutdown(): Promise<void> {}
}

export function writeJsonLine(record: SpanRecord): void {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}
