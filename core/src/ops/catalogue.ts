/**
 * The op catalogue: every op gramfleet knows, by wire name. Adding an op = one file in
 * this folder plus one line here (see CONTRIBUTING.md).
 */
import { createOpCatalogue, type AnyOpDef, type OpCatalogue } from './types';

const ALL_OPS: readonly AnyOpDef[] = [
];

/** Every op, by id. */
export const OPS: OpCatalogue = createOpCatalogue(ALL_OPS);
