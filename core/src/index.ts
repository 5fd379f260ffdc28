// Public entry of @gramfleet/core: pure, workflow-safe contracts. Explicit exports only.
export { ERROR_CODES, GramfleetError, isErrorCode, isGramfleetError, outOfRange, invalidField } from './errors';
export type { ErrorCode, ErrorPayload } from './errors';
export { num, int, oneOf, str, obj } from './validate';
export { allocTyped, decodeNpy, dtypeSize, encodeNpy, ndarray, shapeSize } from './array';
export type { AnyTypedArray, ArrayRef, CsrArrays, CsrRef, DType, NdArray, TypedArrayOf } from './array';
export { barabasiAlbert, canonicaliseCsr, csrBytes, csrFromTriplets, gridGraph, rmat, symmetrise, validateGraph } from './graph';
export type { CsrFromTripletsOptions, DuplicatePolicy, GraphSummary, SymmetriseMode, ValidateGraphOptions } from './graph';
export {
  PROTOCOL_VERSION, WORKER_CLASSES, allResultsFilter, allTasksFilter, cancelSubject, consumerName, isSubjectToken,
  jobResultsFilter, resourceNames, resultMsgId, resultSubject, taskFilter, taskMsgId, taskSubject,
} from './protocol';
export type { ResourceNames, Task, TaskResult, TaskStats, WorkerClass, WorkerRecord } from './protocol';
export { createKernelRegistry, createOpCatalogue } from './ops/types';
export type { AnyOpDef, KernelContext, KernelImpl, KernelRegistry, OpCatalogue, OpDef } from './ops/types';
// --- graph random features (owned by the GRF numerics work) ---
// --- kernel library (owned by the kernel-library work) ---
// kernel library: factorisations, eigensolvers, mode product
export { attrRecord, boolAttr, expectInputCount, frobenius, inputAt, matrix, matrixInput, noConvergence, notPositiveDefinite, requireFiniteF64, requireSymmetric, singularTriangle, squareInput, vector } from './ops/linalg-common';
export type { MatrixView } from './ops/linalg-common';
export { CHOLESKY_OP_ID, choleskyOp, choleskyReference } from './ops/cholesky';
export type { CholeskyAttrs } from './ops/cholesky';
export { TRIANGULAR_SOLVE_OP_ID, triangularSolveOp, triangularSolveReference, triangularSolveShape } from './ops/triangular-solve';
export type { TriangularSolveAttrs, TriangularSolveShape } from './ops/triangular-solve';
// end kernel library: factorisations
