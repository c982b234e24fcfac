/** The loop of every kernel slot, whether on a thread (thread-main.ts) or on the calling thread (runner.ts). */
import { CONTROL, SharedPlan } from './plan';
import { CANCELLED, PixelSampler } from './sampler';

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
