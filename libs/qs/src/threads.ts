import { availableParallelism } from 'node:os';
import { QsInputError } from './errors';

/**
 * G2S's -j: an integer is a thread count; a non-integer x is a fraction of the cores, max(1, floor(x * cores));
 * a value below 1 after that (a bare -j, or -j 0) means every core.
 */
export function resolveThreadCount(j: number | undefined, cores = availableParallelism()): number {
  if (j === undefined) return 1;
  if (!Number.isFinite(j) || j < 0) throw new QsInputError(`-j must be a number >= 0 (got ${j})`);
  const n = Number.isInteger(j) ? j : Math.max(1, Math.floor(j * cores));
  return n < 1 ? cores : n;
}
