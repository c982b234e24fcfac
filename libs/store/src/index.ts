export { pathInside, resolveDataDirs } from './data-dirs';
export type { DataDirs } from './data-dirs';
export { ArrayStore, atomicWrite } from './array-store';
export type { ArrayInfo, NamedArray } from './array-store';
export { RunRepository } from './run-repository';
export type { ChunkStateRecord } from './run-repository';
export { chunkOutputFiles, mosaicFiles, runOutputDir } from './outputs';
export { WorkerRegistry } from './worker-registry';
export type { WorkerInfo } from './worker-registry';
