/**
 * The rules by which a worker takes, holds and hands back chunks (no Redis, no BullMQ: the worker service does
 * the I/O and asks this class what to do).
 *
 * A chunk is held from the moment it takes a slot until it completes or goes back to the queue. A held chunk is
 * computing, blocked (every kernel thread waits for neighbour cells) or paused; blocked and paused chunks use no
 * CPU, so the worker may take more chunks while some are blocked, up to maxHeld held at once.
 *
 * The rules:
 *  1. Pool: at most `slots` chunks compute at once, whatever queue they came from. A chunk fetched while the pool
 *     is full goes back at once, and its queue stops fetching until a slot frees.
 *  2. Overflow: while some held chunks are blocked or paused and a slot is free, the worker takes another chunk,
 *     up to maxHeld held.
 *  3. Order: a chunk that goes back to the queue is queued with the priority of its frontier (the global order
 *     g = i * N + r of its first unfinished path position; see requeuePriority); fresh chunks have none and are
 *     taken first. The queue hands out the smallest priority first, ties in arrival order.
 *  4. Swap: at maxHeld with a free slot, when the queue's best chunk has a smaller priority than the blocked held
 *     chunk with the largest priority (the one furthest ahead in the run's order, which waits for the most
 *     others), that chunk goes back, so that the queue's best takes its place. While anything waits, a chunk
 *     blocked for longer than yieldAfterMs at maxHeld goes back whatever its priority (equal priorities).
 *  5. Preference: a queue is served only while no queue that requires more of this worker's capabilities has
 *     chunks waiting (a gpu worker takes `--requires gpu` chunks before plain ones).
 *
 * No deadlock (and no livelock): within a run, the unfinished chunk c* with the smallest frontier can always
 * progress when it runs, since every cell ordered before its next cell is finished. Suppose no cell is simulated
 * any more: every held chunk is blocked, so c* is not held but queued, for every run. A worker below maxHeld
 * takes the queue's best (rule 2). A worker at maxHeld holds blocked chunks whose frontiers (so priorities) are
 * larger than their own run's c*, which is queued: the queue's best is smaller than that largest held priority,
 * so rule 4 hands one back and the worker takes the queue's best, which is c* of some run, or a chunk of equal
 * priority queued before it; each of those goes back behind c* when blocked (ties keep arrival order), and
 * rule 4's time limit covers equal priorities across runs. So some c* runs and simulates a cell: a contradiction.
 */

export type HeldState = 'computing' | 'blocked' | 'paused';

export interface SchedulerLimits {
  /** Chunks computing at once (DQS_SLOTS). */
  slots: number;
  /** Chunks held at once, blocked and paused ones included (DQS_MAX_HELD_CHUNKS). */
  maxHeld: number;
  /** A chunk blocked this long at maxHeld goes back whatever the queue shows (DQS_YIELD_AFTER_MS). */
  yieldAfterMs: number;
}

interface Held {
  queue: string;
  state: HeldState;
  /** requeuePriority of its frontier (0 until it is known). */
  priority: number;
  blockedSince?: number;
}

/** Why a chunk fetched from a queue does not start here: it goes back to that queue at once. */
export type Admission = 'take' | 'full' | 'deferred' | 'paused';

/** BullMQ's largest priority (2^21 - 1); 0 means none, which is served first. */
export const MAX_PRIORITY = 2 ** 21 - 1;

/**
 * The queue priority of a chunk whose first unfinished position is `position` (its frontier g = position *
 * jobCount + r): g scaled onto 1..MAX_PRIORITY - 1 by the run's size (tileCells * jobCount cells), so that it keeps
 * the run's order (one-to-one while the run has fewer cells than BullMQ has priorities) and runs of every size
 * share one scale (a share of the run's progress).
 */
export function requeuePriority(position: number, r: number, jobCount: number, tileCells: number): number {
  const total = Math.max(1, tileCells * jobCount);
  const g = Math.min(total - 1, Math.max(0, position * jobCount + r));
  return 1 + Math.floor((g * (MAX_PRIORITY - 2)) / Math.max(1, total - 1));
}

/** How strongly a worker with these capabilities prefers a queue: how many of its tags the queue requires. */
export function queuePreference(required: readonly string[], capabilities: readonly string[]): number {
  return required.every((t) => capabilities.includes(t)) ? required.length : -1;
}

export class ChunkScheduler {
  private readonly held = new Map<string, Held>();
  /** Chunks between admission and started() (their slot is reserved). */
  private starting = 0;
  /** Queues that stopped fetching because the pool was full (they resume when a slot frees). */
  private readonly gated = new Set<string>();
  /** Queues that stopped fetching because a preferred queue had work (they resume on undefer()). */
  private readonly deferred = new Set<string>();
  paused = false;
  closing = false;

  constructor(
    readonly limits: SchedulerLimits,
    /** Preference of each queue served (rule 5); a larger number is served first. */
    private readonly preference: (queue: string) => number = () => 0,
  ) {}

  /** Chunks computing now, and those about to start. */
  computing(): number {
    let n = this.starting;
    for (const h of this.held.values()) if (h.state === 'computing') n++;
    return n;
  }

  heldCount(): number {
    return this.held.size + this.starting;
  }

  private idle(): number {
    let n = 0;
    for (const h of this.held.values()) if (h.state !== 'computing') n++;
    return n;
  }

  /**
   * A chunk was fetched from `queue` (rules 1 and 5); `waiting` lists the served queues that have chunks
   * waiting. On 'take' its slot is reserved until started() or abandoned().
   */
  admit(queue: string, waiting: readonly string[] = []): Admission {
    if (this.paused || this.closing) return 'paused';
    if (this.computing() >= this.limits.slots) {
      this.gated.add(queue);
      return 'full';
    }
    const mine = this.preference(queue);
    if (waiting.some((q) => q !== queue && this.preference(q) > mine)) {
      this.deferred.add(queue);
      return 'deferred';
    }
    this.starting++;
    return 'take';
  }

  /** Which served queues to ask about before admitting a chunk of `queue` (those it would defer to). */
  preferredOver(queue: string, served: Iterable<string>): string[] {
    const mine = this.preference(queue);
    return [...served].filter((q) => this.preference(q) > mine);
  }

  started(key: string, queue: string, priority = 0): void {
    this.starting = Math.max(0, this.starting - 1);
    this.held.set(key, { queue, state: 'computing', priority });
  }

  /** An admitted chunk that never started (its run was cancelled, paused, ...). */
  abandoned(): void {
    this.starting = Math.max(0, this.starting - 1);
  }

  released(key: string): void {
    this.held.delete(key);
  }

  setState(key: string, state: HeldState, now = Date.now()): void {
    const h = this.held.get(key);
    if (!h || h.state === state) return;
    h.state = state;
    h.blockedSince = state === 'blocked' ? now : undefined;
  }

  setPriority(key: string, priority: number): void {
    const h = this.held.get(key);
    if (h) h.priority = priority;
  }

  state(key: string): HeldState | undefined {
    return this.held.get(key)?.state;
  }

  /** Queues that may fetch again now that a slot is free (rule 1); they are no longer gated. */
  ungate(): string[] {
    if (this.paused || this.closing || this.gated.size === 0 || this.computing() >= this.limits.slots)
      return [];
    const out = [...this.gated];
    this.gated.clear();
    return out.filter((q) => !this.deferred.has(q));
  }

  /** Deferred queues may fetch again (their preferred queues were served, or time passed): they are returned. */
  undefer(): string[] {
    const out = [...this.deferred].filter((q) => !this.gated.has(q));
    this.deferred.clear();
    return this.paused || this.closing ? [] : out;
  }

  /** A queue that does not fetch now (pool full, or deferred to a preferred queue). */
  isGated(queue: string): boolean {
    return this.gated.has(queue) || this.deferred.has(queue);
  }

  /** Rule 2: take another chunk while some held ones are idle and a slot is free. */
  wantsOverflow(): boolean {
    return (
      !this.paused &&
      !this.closing &&
      this.idle() > 0 &&
      this.computing() < this.limits.slots &&
      this.heldCount() < this.limits.maxHeld
    );
  }

  /** Rule 4 may apply: at maxHeld, a slot free, some held chunk blocked. */
  swapWanted(): boolean {
    if (this.paused || this.closing || this.heldCount() < this.limits.maxHeld) return false;
    if (this.computing() >= this.limits.slots) return false;
    for (const h of this.held.values()) if (h.state === 'blocked') return true;
    return false;
  }

  /**
   * Rule 4: the held chunk to hand back, given the smallest priority waiting in the queues served (undefined: none
   * waiting; 0: a fresh chunk), or undefined to keep every held chunk.
   */
  pickYield(queueBest: number | undefined, now = Date.now()): string | undefined {
    if (!this.swapWanted()) return undefined;
    let ahead: [string, Held] | undefined;
    let stale: [string, Held] | undefined;
    for (const entry of this.held) {
      const h = entry[1];
      if (h.state !== 'blocked') continue;
      if (!ahead || h.priority > ahead[1].priority) ahead = entry;
      if (now - (h.blockedSince ?? now) >= this.limits.yieldAfterMs)
        if (!stale || h.blockedSince! < stale[1].blockedSince!) stale = entry;
    }
    if (queueBest === undefined) return undefined; // nothing waits: handing a chunk back gains nothing
    if (ahead && queueBest < ahead[1].priority) return ahead[0];
    return stale?.[0];
  }
}
