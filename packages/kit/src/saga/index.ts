// Orchestrated sagas persisted in the service's own database (docs/decisions/0004-sagas.md).
export { defineSaga } from "./define-saga.ts";
export { type SagaErrorCode, sagaErrors } from "./errors.ts";
export { sagaMigrations } from "./migrations.ts";
export { SagaOrchestrator } from "./orchestrator.ts";
export {
  type CompensationPolicy,
  type RetryPolicy,
  type SagaDefinition,
  type SagaOrchestratorOptions,
  type SagaState,
  SagaStatus,
  type SagaStep,
  type SagaSummary,
  type StartOptions,
  type StepContext,
  StepPhase,
  type StepRecord,
  StepStatus,
} from "./types.ts";
