/** The activity interface the workflows call (implemented in orchestrator/). */
import type { GrfAssembleInput, GrfJobResult } from '../grf/job';
import type { ShardBatchInput, ShardBatchOutput } from './shards';

/** Activities of the cluster. Names are part of the Temporal history: add, never rename. */
export interface ClusterActivities {
  /** Publishes a batch of shards (those without a result yet) and collects their results. */
  runShardBatch(input: ShardBatchInput): Promise<ShardBatchOutput>;
  /** Announces cancellation to workers and purges the job's queued shards. */
  cancelJobShards(input: { readonly jobId: string }): Promise<{ readonly purged: number }>;
  /** Assembles Φ from shard outputs and computes the requested extras (GRF workflows before batches kept their rows). */
  assembleGrf(input: GrfAssembleInput): Promise<Omit<GrfJobResult, 'shards' | 'duplicateResults' | 'publishedTasks' | 'backends' | 'workers' | 'computeMs'>>;
}
