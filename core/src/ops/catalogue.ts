/**
 * The op catalogue: every op gramfleet knows, by wire name. Adding an op = one file in
 * this folder plus one line here (see CONTRIBUTING.md).
 */
import { createOpCatalogue, type AnyOpDef, type OpCatalogue } from './types';
import { grfWalksOp } from './grf-walks';

const ALL_OPS: readonly AnyOpDef[] = [
  grfWalksOp,
];

/** Every op, by id. */
export const OPS: OpCatalogue = createOpCatalogue(ALL_OPS);
