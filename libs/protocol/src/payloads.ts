/** What travels in BullMQ jobs: references (sha256 of stored arrays, ids), never grids. */

/** QS flags of a distributed run, the same for every chunk. */
export interface RunParams {
  /** -dt: 0 = continuous, other = categorical, one per variable. */
  dt: number[];
  k: number;
  n: number[];
  /** Base seed: chunk r uses seed + r. */
  seed: number;
  /** -j of each chunk, G2S's form (integer = threads, fraction = share of the worker's cores). */
  j?: number;
  ks?: number[];
  /** sha256 of a -ki kernel array. */
  kernel?: string;
  cti?: boolean;
  forceSimulation?: boolean;
}

export interface NeighbourRef {
  position: number;
  jobId: string;
  diId: string;
  diSha: string;
  /** Offset in the job grid, -1/0/+1 per grid axis. */
  offset: number[];
}

export interface ChunkJobData {
  runId: string;
  /** The run's namespace and batch (where its outputs are archived). */
  namespace: string;
  batch: string;
  jobId: string;
  /** Row-major position r in the job grid, and the number of jobs N: global order g = i * N + r. */
  position: number;
  jobCount: number;
  gridShape: number[];
  coords: number[];
  diId: string;
  diSha: string;
  tiShas: string[];
  /** Spatial shape of every tile, and the halo width per spatial axis (floor(kernel / 2)). */
  tileShape: number[];
  halo: number[];
  vars: number;
  params: RunParams;
  neighbours: NeighbourRef[];
}

export interface RunJobData {
  runId: string;
}

/** What a finished chunk job returns: where its records are. */
export interface ChunkResult {
  streamKey: string;
  cells: number;
}

export type ChunkState =
  'waiting' | 'running' | 'blocked' | 'paused' | 'simulated' | 'durable' | 'failed' | 'cancelled';

export interface ChunkStatus {
  jobId: string;
  position: number;
  state: ChunkState;
  /** 0-100: share of the chunk's path simulated (100 only once the output is durable). */
  progress: number;
  error?: string;
  worker?: string;
}

export type RunState = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

export interface RunRecord {
  runId: string;
  /** Job ids and prepared inputs are looked up in this namespace; outputs go to archive/<namespace>/<batch>/<runId>. */
  namespace: string;
  batch: string;
  state: RunState;
  createdAt: string;
  finishedAt?: string;
  gridShape: number[];
  jobIds: string[];
  diIds: string[];
  endpoints?: string[];
  tileShape: number[];
  vars: number;
  params: RunParams;
  error?: string;
  /** Notified (POST, JSON summary) when the run ends. */
  webhook?: string;
  /** sha256 of every array the run reads (kept by the clean-up while the run's records are). */
  arrays?: string[];
  /** How many times the run was retried after it ended (dqs retry): its chunks' job ids end in ~<k>. */
  retries?: number;
  /** Capabilities a worker needs to take this run's chunks; they are queued on chunkQueueFor(requires). */
  requires?: string[];
}
