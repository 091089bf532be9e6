import { defineErrors } from "@flotilla/kit";

/** The messaging service's errors; each is documented in docs/errors.md. */
export const messagingErrors = defineErrors({
  MESSAGING_ERR_UNAUTHENTICATED: { rpc: "unauthenticated", retryable: false, doc: "The call carries no valid access token (missing, expired, wrong issuer or audience, bad signature)." },
  MESSAGING_ERR_CONVERSATION_NOT_FOUND: { rpc: "not_found", retryable: false, doc: "No conversation has this id." },
  MESSAGING_ERR_NOT_A_MEMBER: { rpc: "permission_denied", retryable: false, doc: "The caller is not a member of the conversation; only members read or write it." },
  MESSAGING_ERR_BAD_MEMBERS: { rpc: "invalid_argument", retryable: false, doc: "A direct conversation needs exactly one other member; a group needs at least one other member; nobody lists themself." },
  MESSAGING_ERR_BAD_PAGE_TOKEN: { rpc: "invalid_argument", retryable: false, doc: "The page token is not one this service issued, or it was altered." },
  MESSAGING_ERR_SEQ_AHEAD: { rpc: "invalid_argument", retryable: false, doc: "A read receipt names a sequence number the conversation has not reached." },
  MESSAGING_ERR_CLIENT_ID_REUSED: { rpc: "already_exists", retryable: false, doc: "The client_message_id was already used for a different text in this conversation; a retry must send the same message." },
  MESSAGING_ERR_BAD_FRAME: { rpc: "invalid_argument", retryable: false, doc: "A realtime frame is JSON but not a known frame, or a field is missing or malformed (sent as an error frame; the socket stays open)." },
  MESSAGING_ERR_REALTIME_UNAVAILABLE: { rpc: "unavailable", retryable: true, doc: "The replica could not subscribe the user's realtime feed (the broadcast backend is down); reconnect, possibly to another replica." },
});
