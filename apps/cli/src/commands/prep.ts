/** dqs prep: register a job's inputs (G2S's qs_prep). */
import { readGrid } from '@dqs/grids';
import { DqsClient } from '../dqs-client';
import { SERVER_FLAGS, connect } from '../connection';
import { numberList, parseG2sArgs, singleString, switchFlag, UsageError } from '../g2s-args';
import { progressBar } from '../progress';
import { NAMESPACE_FLAG, namespaceOf, help } from './common';

export const PREP_HELP = `dqs prep: register a job's inputs (G2S's qs_prep)

  dqs prep --id 101 -ti ti.tiff [more TIs] -di di.npy -dt 0 [--namespace NS] [--server URL]

Uploads the arrays once (by sha256) and names them input_ti_<k>_<id> and input_di_<id> in the namespace
(--namespace, else DQS_NAMESPACE, else 'default'): two users' job 101 never collide.
Without --server (or DQS_URL) it runs attached: a private stack on the data directory, stopped at the end.
`;

export async function runPrep(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    ...SERVER_FLAGS,
    ...NAMESPACE_FLAG,
    id: ['--id', '-id'],
    ti: ['-ti'],
    di: ['-di'],
    dt: ['-dt'],
  });
  if (switchFlag(flags, 'help')) return help(PREP_HELP);
  if (positional.length) throw new UsageError(`unexpected argument(s) ${positional.join(' ')}`);
  const id = singleString(flags, 'id', '--id');
  if (!id || !/^\d+$/.test(id)) throw new UsageError('--id is required: the job id, a non-negative integer');
  const dt = numberList(flags, 'dt', '-dt');
  if (!dt) throw new UsageError('-dt is required: one type per variable (0 = continuous, 1 = categorical)');
  const tiFiles = flags.get('ti');
  if (!tiFiles?.length) throw new UsageError('-ti is required: one or more training image files');
  const diFile = singleString(flags, 'di', '-di');
  if (!diFile) throw new UsageError('-di is required: the destination image file of this job');
  const namespace = namespaceOf(flags);
  const files = [...tiFiles, diFile];
  const arrays = files.map((f) => readGrid(f));
  const conn = await connect(flags, { workers: 0 });
  try {
    const r = await prepOn(conn.client, { id, namespace, dt, arrays });
    process.stdout.write(`prepared job ${r.id} in namespace ${r.namespace}: ${r.names.join(', ')}\n`);
    return 0;
  } finally {
    await conn.close();
  }
}

/** Uploads a job's arrays once (by sha256) and registers them as input_ti_<k>_<id> and input_di_<id>. */
export async function prepOn(
  c: DqsClient,
  job: { id: string; namespace: string; dt: number[]; arrays: ReturnType<typeof readGrid>[] },
): Promise<{ id: string; namespace: string; names: string[] }> {
  const { id, namespace, dt, arrays } = job;
  const bar = progressBar(`upload job ${id}`, false, { unit: 'arrays', terminalOnly: true });
  const shas: string[] = [];
  try {
    for (const [k, a] of arrays.entries()) {
      bar.update(k, arrays.length);
      shas.push(await c.uploadArray(a));
    }
    bar.update(arrays.length, arrays.length);
  } finally {
    bar.stop();
  }
  const di = shas.pop()!;
  const ti = shas;
  return c.json<{ id: string; namespace: string; names: string[] }>('POST', '/v1/prep', {
    id,
    ti,
    di,
    dt,
    namespace,
  });
}
