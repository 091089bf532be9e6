export { chassisMigrations, type HostedService, type HostOptions, hostService } from "./host-service.ts";
export { createInvoker, type Invoke, type InvokeOptions, type Invoker, type InvokerDeps, serviceNameOf, telemetryInterceptor } from "./invoker.ts";
export { handleOps, type OpsState } from "./ops-endpoints.ts";
export { loadServiceProcessConfig, parseLabels, securitySettings, serviceProcessSettings } from "./process-config.ts";
export { type SecurityOptions, securityInterceptors } from "./security.ts";
export { runServiceProcess } from "./service-process.ts";
export { onShutdown } from "./shutdown.ts";
