// Workflows registered with the orchestrator worker. Explicit exports only.
export { grfWorkflow, progressQuery } from './grf';
export type { GrfCarry } from './grf';
export { kronGpWorkflow, kronProgressQuery } from './kron';
export { CAMPAIGN_ACTIVITY_MAX_ATTEMPTS, CAMPAIGN_HISTORY_LIMIT, campaignProgressQuery, campaignRunningQuery, campaignWorkflow } from './campaign';
export type { CampaignCarry, CampaignWorkflowOptions } from './campaign';
export { eigenProWorkflow, eigenProProgressQuery } from './eigenpro';
export { datagenReleaseWorkflow, datagenWorkflow, datagenProgressQuery } from './datagen';
export type { DatagenCarry } from './datagen';
export { joinUploadWorkflow } from './uploads';
