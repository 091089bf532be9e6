// Public surface of the generated contracts. Services, the gateway and clients
// import their descriptors and message types from here.
import type { DescService } from "@bufbuild/protobuf";
import { CatalogService } from "../gen/flotilla/catalog/v1/catalog_pb.js";
import { IdentityService } from "../gen/flotilla/identity/v1/identity_pb.js";
import { MessagingService } from "../gen/flotilla/messaging/v1/messaging_pb.js";
import { NotificationsService } from "../gen/flotilla/notifications/v1/notifications_pb.js";

export * as catalogV1 from "../gen/flotilla/catalog/v1/catalog_pb.js";
export * as catalogEventsV1 from "../gen/flotilla/catalog/v1/events_pb.js";
export * as messagingV1 from "../gen/flotilla/messaging/v1/messaging_pb.js";
export * as messagingEventsV1 from "../gen/flotilla/messaging/v1/events_pb.js";
export * as notificationsV1 from "../gen/flotilla/notifications/v1/notifications_pb.js";
export * as identityV1 from "../gen/flotilla/identity/v1/identity_pb.js";
export * as identityEventsV1 from "../gen/flotilla/identity/v1/events_pb.js";
export * as optionsV1 from "../gen/flotilla/options/v1/options_pb.js";
export * as googleApi from "../gen/google/api/annotations_pb.js";
export * as googleRpc from "../gen/google/rpc/error_details_pb.js";

/** Every service contract of the platform, for the gateway, OpenAPI and reflection. */
export const allServices: readonly DescService[] = [CatalogService, IdentityService, MessagingService, NotificationsService];
