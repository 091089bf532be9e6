export { loadNotificationsConfig, type NotificationsConfig, notificationsSettings } from "./config.ts";
export { notificationsErrors } from "./errors.ts";
export { createNotificationsService, MESSAGE_SEEN, MESSAGE_SENT, type NotificationsOptions, notificationsService } from "./service.ts";
