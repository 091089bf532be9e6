// The realtime protocol: JSON text frames, one object each, told apart by `type`.
//
// client → server
//   {"type":"hello","resume":{"<conversation_id>":<last seq>}}  first frame; list every conversation
//                                                                the app holds (a live message of an
//                                                                unlisted one starts its position)
//   {"type":"ack","conversation_id":"…","seq":12}               messages up to 12 are on screen
//   {"type":"receipt","conversation_id":"…","seq":12}           read up to 12 (as POST …/read)
//   {"type":"typing","conversation_id":"…"}
//   {"type":"ping","id":"…"}                                    answered by pong (app-level keepalive)
// server → client
//   {"type":"ready","resumed":{"<conversation_id>":<seq sent up to>},"online":["<user_id>",…]}
//                                                                after hello and its catch-up; online:
//                                                                the contacts online then (presence
//                                                                frames tell the changes after)
//   {"type":"message","message":{conversation_id, message_id, seq, sender_id, client_message_id, text, sent_at}}
//   {"type":"receipt","conversation_id","user_id","read_seq"}
//   {"type":"typing","conversation_id","user_id"}
//   {"type":"presence","user_id","online"}
//   {"type":"pong","id"} · {"type":"error","code","message"}
import type { messagingV1 } from "@flotilla/contracts";
import { timestampDate } from "@bufbuild/protobuf/wkt";

export interface WireMessage {
  conversation_id: string;
  message_id: string;
  seq: number;
  sender_id: string;
  client_message_id: string;
  text: string;
  sent_at: string;
}

export type ClientFrame =
  | { type: "hello"; resume: Map<string, number> }
  | { type: "ack"; conversation_id: string; seq: number }
  | { type: "receipt"; conversation_id: string; seq: number }
  | { type: "typing"; conversation_id: string }
  | { type: "ping"; id: string };

/** What replicas tell each other (broadcast payloads), and what clients get. */
export type Event =
  | { type: "message"; message: WireMessage }
  | { type: "receipt"; conversation_id: string; user_id: string; read_seq: number }
  | { type: "typing"; conversation_id: string; user_id: string }
  | { type: "presence"; user_id: string; online: boolean };

export type ServerFrame = Event | { type: "ready"; resumed: Record<string, number>; online: string[] } | { type: "pong"; id: string } | { type: "error"; code: string; message: string };

/** Close codes a client should act on. */
export const CloseCode = {
  /** Not JSON text (1007: invalid payload data). */
  malformed: 1007,
  /** A binary frame: this protocol is JSON text (1003: unsupported data). */
  binary: 1003,
  /** Frame larger than allowed (1009: message too big; sent by ws). */
  tooBig: 1009,
  /** The server is restarting: reconnect (to any replica) and resume. */
  restart: 1012,
  /** The client stopped answering pings. */
  dead: 4000,
  /** The first frame was not hello. */
  helloExpected: 4002,
  /** The client reads too slowly: unsent data passed the bound. Reconnect and resume. */
  slowConsumer: 4008,
  /** Too many frames: back off, then reconnect and resume. */
  rateLimited: 4029,
} as const;

export function wireMessage(m: messagingV1.Message): WireMessage {
  return {
    conversation_id: m.conversationId,
    message_id: m.messageId,
    seq: Number(m.seq),
    sender_id: m.senderId,
    client_message_id: m.clientMessageId,
    text: m.text,
    sent_at: m.sentAt ? timestampDate(m.sentAt).toISOString() : "",
  };
}

export class FrameError extends Error {
  readonly code = "MESSAGING_ERR_BAD_FRAME";
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_RESUME = 1000;

function conversationId(value: unknown): string {
  if (typeof value !== "string" || !ID.test(value)) throw new FrameError("conversation_id must be 1 to 64 of A-Z a-z 0-9 _ -");
  return value;
}

function seq(value: unknown, field = "seq"): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new FrameError(`${field} must be a non-negative integer`);
  return value;
}

/** Parses a client frame; throws SyntaxError for bad JSON and FrameError for a bad shape. */
export function parseClientFrame(text: string): ClientFrame {
  const value = JSON.parse(text) as unknown;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new FrameError("a frame is a JSON object with a type");
  const f = value as Record<string, unknown>;
  switch (f.type) {
    case "hello": {
      const resume = new Map<string, number>();
      if (f.resume !== undefined) {
        if (typeof f.resume !== "object" || f.resume === null || Array.isArray(f.resume)) throw new FrameError("resume maps conversation ids to the last seq received");
        const entries = Object.entries(f.resume);
        if (entries.length > MAX_RESUME) throw new FrameError(`resume lists at most ${MAX_RESUME} conversations`);
        for (const [id, last] of entries) resume.set(conversationId(id), seq(last, `resume.${id}`));
      }
      return { type: "hello", resume };
    }
    case "ack":
    case "receipt":
      return { type: f.type, conversation_id: conversationId(f.conversation_id), seq: seq(f.seq) };
    case "typing":
      return { type: "typing", conversation_id: conversationId(f.conversation_id) };
    case "ping":
      return { type: "ping", id: typeof f.id === "string" ? f.id.slice(0, 64) : "" };
    default:
      throw new FrameError(`unknown frame type ${JSON.stringify(String(f.type)).slice(0, 40)}; expected hello, ack, receipt, typing or ping`);
  }
}
