// Notifications and the real messaging service on one bus and one PGlite, as
// `flotilla dev` runs them, with the fake push providers of the harness.
import { PgliteProvider } from "@flotilla/kit/internal";
import { createIssuer, type Hosted, hostMessaging, type Issuer } from "../../messaging/test/support.ts";
import { type Harness, startHarness } from "./harness.ts";

export interface MessagingWorld {
  h: Harness;
  messaging: Hosted;
  issuer: Issuer;
  stop(): Promise<void>;
}

export async function startMessagingWorld(): Promise<MessagingWorld> {
  const provider = new PgliteProvider();
  // Messaging stamps messages with the real time: the service clock starts there.
  const h = await startHarness(provider, new Date());
  const issuer = await createIssuer();
  const messaging = await hostMessaging({ issuer, provider, bus: h.bus });
  return {
    h,
    messaging,
    issuer,
    async stop() {
      await messaging.stop();
      await h.stop();
      await provider.close();
    },
  };
}
