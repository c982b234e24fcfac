/** Entry of a kernel thread: claims path positions in increasing order and simulates them. */
import { parentPort, workerData } from 'node:worker_threads';
import { CONTROL, SharedPlan } from './plan';
import { PixelSampler } from './sampler';
import { simulatePositions } from './slot-loop';

export interface ThreadData {
  plan: SharedPlan;
  slot: number;
  kernelModule: WebAssembly.Module;
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
