// Messaging as its own process (distributed runtime). `flotilla up` and the
// Kubernetes Deployment start this file; configuration comes from FLOTILLA_* variables.
import { runServiceProcess } from "@flotilla/kit";
import { messagingService } from "./service.ts";

await runServiceProcess(messagingService);
