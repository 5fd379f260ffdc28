// Workflows registered with the orchestrator worker. Explicit exports only.
export { grfWorkflow, progressQuery } from './grf';
export type { GrfCarry } from './grf';
export { eigenProWorkflow, eigenProProgressQuery } from './eigenpro';
