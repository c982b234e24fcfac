/** One-call QS: validate, plan, run on kernel threads, crop. */
import { PlanOptions, cropResult, createPlan } from './plan';
import { RunOptions, SimulationRun } from './runner';
import { QsParams, QsResult } from './types';

export interface SimulateOptions extends Omit<RunOptions, 'threads'> {
  threads?: number;
  labels?: PlanOptions['labels'];
  recordRanks?: boolean;
  /** Receives the run as soon as it starts, for pause, resume and cancel. */
  onStart?: (run: SimulationRun) => void;
}

export async function simulate(params: QsParams, options: SimulateOptions = {}): Promise<QsResult> {
  const plan = createPlan(params, { labels: options.labels, recordRanks: options.recordRanks });
  // every earlier cell is in this path, so no position waits on the event loop: the calling thread can work
  const run = new SimulationRun(plan.shared, {
    ...options,
    threads: options.threads ?? 1,
    useCallingThread: true,
  });
  options.onStart?.(run);
  const summary = await run.done;
  const { sim, index } = cropResult(plan, params.di.shape);
  return {
    sim,
    index,
    seconds: summary.seconds,
    threads: summary.threads,
    simulated: summary.simulated,
    ranks: plan.shared.ranks ? Int32Array.from(plan.shared.ranks) : undefined,
  };
}
