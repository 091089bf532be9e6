export { type Authenticate, type Caller, tokenAuthenticator } from "./auth.ts";
export { loadMessagingConfig, type MessagingConfig, messagingSettings } from "./config.ts";
export { messagingErrors } from "./errors.ts";
export { CloseCode } from "./realtime/frames.ts";
export { REALTIME_PATH } from "./realtime/upgrade.ts";
export { createMessagingService, type MessagingOptions, messagingService } from "./service.ts";
