/** Entry of a kernel thread: claims path positions in increasing order and simulates them. */
import { parentPort, workerData } from 'node:worker_threads';
import { CONTROL, SharedPlan } from './plan';
import { CANCELLED, PixelSampler } from './sampler';

export interface ThreadData {
  plan: SharedPlan;
  slot: number;
  kernelModule: WebAssembly.Module;
}

/** What a kernel slot does next: go on, wait while the run is paused, or stop (done or cancelled). */
export type SlotState = 'more' | 'paused' | 'stop';

/**
 * Claims and simulates path positions until `deadline` (performance.now() milliseconds) or the end; the loop
 * of every kernel slot, in a thread or (see runner.ts) on the calling thread in time slices.
 */
export function simulatePositions(plan: SharedPlan, sampler: PixelSampler, deadline = Infinity): SlotState {
  const control = plan.control;
  for (;;) {
    if (Atomics.load(control, CONTROL.CANCEL) !== 0) return 'stop';
    if (Atomics.load(control, CONTROL.PAUSE) !== 0) return 'paused';
    if (performance.now() >= deadline) return 'more';
    const i = Atomics.add(control, CONTROL.NEXT, 1);
    if (i >= Atomics.load(control, CONTROL.END)) return 'stop';
    if (plan.positionDone[i] !== 0) continue;
    try {
      sampler.simulate(i);
    } catch (e) {
      if (e === CANCELLED) return 'stop';
      throw e;
    }
    plan.positionDone[i] = 1;
    const slotInLog = Atomics.add(control, CONTROL.LOG, 1);
    Atomics.store(plan.log, slotInLog, i + 1);
    Atomics.add(control, CONTROL.DONE, 1);
  }
}

function run({ plan, slot, kernelModule }: ThreadData): void {
  const sampler = new PixelSampler(plan, slot, kernelModule);
  const control = plan.control;
  Atomics.store(control, CONTROL.WAITING + slot, -1);
  while (simulatePositions(plan, sampler) === 'paused') {
    while (Atomics.load(control, CONTROL.PAUSE) !== 0 && Atomics.load(control, CONTROL.CANCEL) === 0) {
      Atomics.wait(control, CONTROL.PAUSE, 1, 100);
    }
  }
}

if (parentPort) {
  const port = parentPort;
  try {
    run(workerData as ThreadData);
    port.postMessage({ ok: true });
  } catch (e) {
    port.postMessage({ ok: false, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
  }
}
