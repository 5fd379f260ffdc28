// Public entry of @gramfleet/orchestrator. Explicit exports only.
export { readZip, writeZip } from './io/zip';
export type { WriteZipOptions, ZipEntry } from './io/zip';
export {
  csrFromNpz, decodeNpyValue, decodeNpz, encodeCsrNpz, encodeNpyRaw, encodeNpz, isStringArray, readCsrNpz, readNpy, readNpz,
  writeCsrNpz, writeNpy, writeNpz,
} from './io/npz';
export type { NpyStringArray, NpzValue, WriteCsrNpzOptions, WriteNpzOptions } from './io/npz';
export { loadGraph, parseAdjlist, parseMatrixMarket } from './io/graph-files';
export type { GraphFileFormat, LoadGraphOptions, LoadedGraph } from './io/graph-files';
