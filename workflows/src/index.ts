// Workflows registered with the orchestrator worker. Explicit exports only.
export { grfWorkflow, progressQuery } from './grf';
export type { GrfCarry } from './grf';
export { datagenWorkflow, datagenProgressQuery } from './datagen';
export type { DatagenCarry } from './datagen';
