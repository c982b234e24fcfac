/** Entry of a kernel thread: claims path positions in increasing order and simulates them. */
import { parentPort, workerData } from 'node:worker_threads';
import { CONTROL, SharedPlan } from './plan';
import { CANCELLED, PixelSampler } from './sampler';

export interface ThreadData {
  plan: SharedPlan;
  slot: number;
  kernelModule: WebAssembly.Module;
}

function run({ plan, slot, kernelModule }: ThreadData): void {
  const sampler = new PixelSampler(plan, slot, kernelModule);
  const control = plan.control;
  Atomics.store(control, CONTROL.WAITING + slot, -1);
  for (;;) {
    if (Atomics.load(control, CONTROL.CANCEL) !== 0) return;
    while (Atomics.load(control, CONTROL.PAUSE) !== 0) {
      if (Atomics.load(control, CONTROL.CANCEL) !== 0) return;
      Atomics.wait(control, CONTROL.PAUSE, 1, 100);
    }
    const i = Atomics.add(control, CONTROL.NEXT, 1);
    if (i >= Atomics.load(control, CONTROL.END)) return;
    if (plan.positionDone[i] !== 0) continue;
    try {
      sampler.simulate(i);
    } catch (e) {
      if (e === CANCELLED) return;
      throw e;
    }
    plan.positionDone[i] = 1;
    const slotInLog = Atomics.add(control, CONTROL.LOG, 1);
    Atomics.store(plan.log, slotInLog, i + 1);
    Atomics.add(control, CONTROL.DONE, 1);
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
