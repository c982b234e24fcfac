import { ChunkScheduler, MAX_PRIORITY, queuePreference, requeuePriority } from './chunk-scheduler';

const limits = (slots: number, maxHeld: number, yieldAfterMs = 5000) => ({ slots, maxHeld, yieldAfterMs });

describe('ChunkScheduler: the pool of slots (rule 1)', () => {
  it('admits up to `slots` computing chunks, then gates the queue until a slot frees', () => {
    const s = new ChunkScheduler(limits(2, 8));
    expect(s.admit('chunks')).toBe('take');
    s.started('a', 'chunks');
    expect(s.admit('chunks')).toBe('take'); // reserved, not started yet: it counts
    expect(s.admit('chunks@gpu')).toBe('full');
    expect(s.ungate()).toEqual([]);
    s.started('b', 'chunks');
    s.setState('a', 'blocked');
    expect(s.ungate()).toEqual(['chunks@gpu']);
    expect(s.ungate()).toEqual([]);
  });

  it('a paused or stopping worker admits nothing', () => {
    const s = new ChunkScheduler(limits(1, 4));
    s.paused = true;
    expect(s.admit('chunks')).toBe('paused');
    s.paused = false;
    s.closing = true;
    expect(s.admit('chunks')).toBe('paused');
  });

  it('an admitted chunk that never starts gives its slot back', () => {
    const s = new ChunkScheduler(limits(1, 4));
    expect(s.admit('chunks')).toBe('take');
    expect(s.admit('chunks')).toBe('full');
    s.abandoned();
    expect(s.admit('chunks')).toBe('take');
  });
});

describe('ChunkScheduler: held chunks (rule 2)', () => {
  it('takes another chunk while held ones are blocked or paused, up to maxHeld', () => {
    const s = new ChunkScheduler(limits(1, 3));
    s.admit('chunks');
    s.started('a', 'chunks');
    expect(s.wantsOverflow()).toBe(false); // computing: the slot is used
    s.setState('a', 'blocked');
    expect(s.wantsOverflow()).toBe(true);
    s.admit('chunks');
    s.started('b', 'chunks');
    s.setState('b', 'paused');
    expect(s.wantsOverflow()).toBe(true);
    s.admit('chunks');
    s.started('c', 'chunks');
    s.setState('c', 'blocked');
    expect(s.heldCount()).toBe(3);
    expect(s.wantsOverflow()).toBe(false); // at maxHeld
    s.released('c');
    expect(s.wantsOverflow()).toBe(true);
  });
});

describe('requeuePriority (rule 3)', () => {
  it('keeps the order g = i * N + r, one-to-one while the run has fewer cells than priorities', () => {
    const N = 81;
    const cells = 400;
    const all: number[] = [];
    for (let i = 0; i < cells; i++) for (let r = 0; r < N; r++) all.push(requeuePriority(i, r, N, cells));
    expect(all.every((p, k) => k === 0 || p > all[k - 1])).toBe(true);
    expect(all[0]).toBe(1);
    expect(all[all.length - 1]).toBeLessThan(MAX_PRIORITY);
  });

  it('stays within BullMQ priorities for huge runs, in order (not strictly)', () => {
    const N = 100;
    const cells = 4000 * 4000;
    let last = 0;
    for (const i of [0, 1, 1000, 10 ** 6, cells - 1]) {
      const p = requeuePriority(i, N - 1, N, cells);
      expect(p).toBeGreaterThanOrEqual(last);
      expect(p).toBeLessThanOrEqual(MAX_PRIORITY - 1);
      last = p;
    }
    expect(requeuePriority(cells + 5, 0, N, cells)).toBeLessThan(MAX_PRIORITY);
    expect(requeuePriority(0, 0, 1, 1)).toBe(1);
  });
});

describe('ChunkScheduler: swaps at the held limit (rule 4)', () => {
  const full = () => {
    const s = new ChunkScheduler(limits(1, 2, 1000));
    for (const [key, p] of [
      ['a', 50],
      ['b', 80],
    ] as const) {
      s.admit('chunks');
      s.started(key, 'chunks');
      s.setPriority(key, p);
      s.setState(key, 'blocked', 0);
    }
    return s;
  };

  it('hands back the blocked chunk furthest ahead when the queue has a chunk ahead of it', () => {
    const s = full();
    expect(s.swapWanted()).toBe(true);
    expect(s.pickYield(10, 1)).toBe('b');
    expect(s.pickYield(0, 1)).toBe('b'); // a fresh chunk
    expect(s.pickYield(79, 1)).toBe('b');
  });

  it('keeps its chunks when the queue has nothing better, or nothing at all', () => {
    const s = full();
    expect(s.pickYield(80, 1)).toBeUndefined();
    expect(s.pickYield(500, 1)).toBeUndefined();
    expect(s.pickYield(undefined, 10 ** 6)).toBeUndefined();
  });

  it('hands back the chunk blocked longest once it has waited yieldAfterMs, while anything waits', () => {
    const s = full();
    s.setState('b', 'computing', 0);
    s.setState('b', 'blocked', 600);
    expect(s.pickYield(500, 999)).toBeUndefined();
    expect(s.pickYield(500, 1000)).toBe('a');
  });

  it('does not swap below the limit, with a slot computing, or for paused chunks', () => {
    const s = full();
    s.setState('a', 'computing');
    expect(s.swapWanted()).toBe(false);
    expect(s.pickYield(0)).toBeUndefined();
    s.setState('a', 'paused');
    s.setState('b', 'paused');
    expect(s.swapWanted()).toBe(false);
    s.released('b');
    s.setState('a', 'blocked');
    expect(s.swapWanted()).toBe(false);
  });
});

describe('ChunkScheduler: capabilities first (rule 5)', () => {
  const mine = ['gpu', 'avx2'];
  const pref = (q: string) =>
    queuePreference(q.includes('@') ? q.slice(q.indexOf('@') + 1).split('+') : [], mine);

  it('prefers the queues that require more of its tags', () => {
    expect(pref('chunks')).toBe(0);
    expect(pref('chunks@gpu')).toBe(1);
    expect(pref('chunks@avx2+gpu')).toBe(2);
    expect(pref('chunks@highmem')).toBe(-1);
  });

  it('defers a plain chunk while a queue of its tags has work, until undefer()', () => {
    const s = new ChunkScheduler(limits(1, 4), pref);
    expect(s.preferredOver('chunks', ['chunks', 'chunks@gpu'])).toEqual(['chunks@gpu']);
    expect(s.preferredOver('chunks@gpu', ['chunks', 'chunks@gpu'])).toEqual([]);
    expect(s.admit('chunks', ['chunks@gpu'])).toBe('deferred');
    expect(s.isGated('chunks')).toBe(true);
    expect(s.ungate()).toEqual([]); // a free slot does not end a deferral
    expect(s.admit('chunks@gpu', ['chunks', 'chunks@gpu'])).toBe('take');
    expect(s.undefer()).toEqual(['chunks']);
    expect(s.admit('chunks', [])).toBe('full');
  });
});

/**
 * The rules on a model of a run: chunks on a grid, each with M path positions; chunk r's position i needs every
 * neighbour's positions ordered before it (i' * N + r' < i * N + r), the tightest coupling QS can have. One worker
 * with one slot and maxHeld held chunks; a queue that hands out priority 0 first, then the smallest priority, ties
 * in arrival order, as BullMQ does. Every step, each held chunk that can go on simulates one cell.
 */
function simulateRun(
  rows: number,
  cols: number,
  M: number,
  maxHeld: number,
  opts: { yieldAfterSteps?: number; oldRules?: boolean } = {},
) {
  const yieldAfterSteps = opts.yieldAfterSteps ?? 1e9;
  const N = rows * cols;
  const done = new Array<number>(N).fill(0);
  const neighbours = (r: number) => {
    const out: number[] = [];
    const [y, x] = [Math.floor(r / cols), r % cols];
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const [ny, nx] = [y + dy, x + dx];
        if ((dy || dx) && ny >= 0 && ny < rows && nx >= 0 && nx < cols) out.push(ny * cols + nx);
      }
    return out;
  };
  const canGo = (r: number) =>
    done[r] < M && neighbours(r).every((q) => done[q] >= Math.min(M, done[r] + (q < r ? 1 : 0)));
  let seq = 0;
  const queue = Array.from({ length: N }, (_, r) => ({ r, priority: 0, seq: seq++ }));
  const pop = () => {
    queue.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
    return queue.shift();
  };
  const s = new ChunkScheduler({ slots: 1, maxHeld, yieldAfterMs: yieldAfterSteps });
  const held = new Set<number>();
  let takes = 0;
  let steps = 0;
  while (done.some((d) => d < M)) {
    if (++steps > 50 * N * M) throw new Error(`no progress: ${done.join(',')}`);
    // take: the main worker when nothing is held, overflow workers while held chunks are idle
    while (queue.length && (held.size === 0 || s.wantsOverflow())) {
      const next = pop()!;
      expect(s.admit('chunks')).toBe('take');
      s.started(String(next.r), 'chunks', next.priority);
      held.add(next.r);
      takes++;
    }
    for (const r of [...held]) {
      if (canGo(r)) {
        done[r]++;
        s.setState(String(r), 'computing', steps);
      } else s.setState(String(r), 'blocked', steps);
      if (done[r] === M) {
        held.delete(r);
        s.released(String(r));
      }
    }
    for (const r of held) s.setPriority(String(r), requeuePriority(done[r], r, N, M));
    // the rules before this scheduler: back of the queue, and only once blocked for a while
    const best = queue.length
      ? opts.oldRules
        ? MAX_PRIORITY
        : Math.min(...queue.map((q) => q.priority))
      : undefined;
    const out = s.pickYield(best, steps);
    if (out !== undefined) {
      const r = Number(out);
      held.delete(r);
      s.released(out);
      queue.push({ r, priority: opts.oldRules ? 0 : requeuePriority(done[r], r, N, M), seq: seq++ });
    }
  }
  return { steps, takes };
}

describe('the rules on a model run: no deadlock, no livelock, whatever the held limit', () => {
  it.each([
    [3, 3, 1],
    [3, 3, 2],
    [3, 3, 4],
    [4, 5, 1],
    [4, 5, 3],
    [4, 5, 19],
    [9, 9, 4],
  ])('a %ix%i grid with at most %i held chunk(s) finishes', (rows, cols, maxHeld) => {
    const M = 30;
    const { steps, takes } = simulateRun(rows, cols, M, maxHeld);
    // every cell is simulated once; a take is paid for by at least one cell (so takes <= cells + chunks)
    expect(steps).toBeGreaterThanOrEqual(M);
    expect(takes).toBeLessThanOrEqual(rows * cols * (M + 1));
  });

  it('needs far fewer steps than the old rules (back of the queue after a blocked while)', () => {
    const now = simulateRun(4, 4, 30, 2);
    const before = simulateRun(4, 4, 30, 2, { oldRules: true, yieldAfterSteps: 5 });
    // (905 steps against 1640 here; a step of the model costs the same whatever the rules, a take costs nothing)
    expect(before.steps).toBeGreaterThan(1.5 * now.steps);
    expect(now.takes).toBeLessThan(before.takes);
  });

  it('with every chunk held, nothing is handed back', () => {
    const { takes } = simulateRun(3, 3, 30, 9);
    expect(takes).toBe(9);
  });
});
