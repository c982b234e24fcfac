/** dqs download and dqs mosaic: a run's outputs, waiting until they are written. */
import { extname, join } from 'node:path';
import { writeFileAtomic } from '@dqs/grids';
import { SERVER_FLAGS, detached } from '../connection';
import { parseG2sArgs, singleNumber, singleString, switchFlag, UsageError } from '../g2s-args';
import { progressBar } from '../progress';
import { NAMESPACE_FLAG, namespaceOf, jobRange, help } from './common';

function formatOf(file: string, given: string | undefined): string {
  if (given) return given;
  const ext = extname(file).toLowerCase().slice(1);
  if (['npy', 'tiff', 'tif', 'png', 'json'].includes(ext)) return ext === 'tif' ? 'tiff' : ext;
  throw new UsageError(`-o ${file}: give a .npy, .tiff, .png or .json file (or --format)`);
}

export const DOWNLOAD_HELP = `dqs download ID -o FILE.npy [--run RUN] [--index] [--format npy|tiff|png|json] [--namespace NS] [--server URL]
dqs download 1-6,15 -o FOLDER [--format npy]          several jobs: FOLDER/chunk_<id>.<format>

Waits until each chunk is written (G2S's -waitAndDownload), then saves it. Without --run: the latest run with
that job in the namespace (--namespace, else DQS_NAMESPACE, else 'default'). dqs fetch reads the archive.
`;

export async function runDownload(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    ...SERVER_FLAGS,
    o: ['-o', '--output'],
    run: ['--run'],
    index: ['--index'],
    format: ['--format'],
    timeout: ['--timeout'],
    ...NAMESPACE_FLAG,
  });
  if (switchFlag(flags, 'help')) return help(DOWNLOAD_HELP);
  if (positional.length !== 1) {
    throw new UsageError(
      'give a job id or a range: dqs download 101 -o FILE.npy, or dqs download 101-104 -o FOLDER',
    );
  }
  const ids = jobRange(positional[0]);
  const out = singleString(flags, 'o', '-o');
  if (!out)
    throw new UsageError(
      '-o FILE (one job: .npy, .tiff, .png or .json) or -o FOLDER (several jobs) is required',
    );
  const index = switchFlag(flags, 'index', '--index');
  const run = singleString(flags, 'run', '--run');
  const timeout = singleNumber(flags, 'timeout', '--timeout') ?? 86400;
  const namespace = namespaceOf(flags);
  const c = detached(flags, 'download');
  const several = ids.length > 1;
  for (const id of ids) {
    const given = singleString(flags, 'format', '--format');
    const format = several ? (given ?? 'npy') : formatOf(out, given);
    const file = several
      ? join(out, `chunk_${id}${index ? '.index' : ''}.${format === 'tiff' ? 'tiff' : format}`)
      : out;
    const q = new URLSearchParams({ format, wait: 'true', timeout: String(timeout) });
    if (index) q.set('part', 'index');
    if (!run) q.set('namespace', namespace);
    const path = run ? `/v1/runs/${run}/chunks/${id}?${q}` : `/v1/chunks/${id}?${q}`;
    const bytes = await c.bytes(
      path,
      progressBar(`download ${id}`, false, { unit: 'bytes', terminalOnly: true }),
    );
    writeFileAtomic(file, bytes);
    process.stdout.write(`chunk ${id} -> ${file} (${bytes.length} bytes)\n`);
  }
  return 0;
}

export const MOSAIC_HELP = `dqs mosaic RUN -o FILE.npy [--index] [--format npy|tiff|png|json] [--server URL]: the assembled run (waits)\n`;

export async function runMosaic(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, {
    ...SERVER_FLAGS,
    o: ['-o', '--output'],
    index: ['--index'],
    format: ['--format'],
  });
  if (switchFlag(flags, 'help')) return help(MOSAIC_HELP);
  if (positional.length !== 1) throw new UsageError('give one run id: dqs mosaic RUN -o FILE.npy');
  const out = singleString(flags, 'o', '-o');
  if (!out) throw new UsageError('-o FILE is required (.npy, .tiff, .png or .json)');
  const q = new URLSearchParams({
    format: formatOf(out, singleString(flags, 'format', '--format')),
    wait: 'true',
  });
  if (switchFlag(flags, 'index', '--index')) q.set('part', 'index');
  const bytes = await detached(flags, 'mosaic').bytes(
    `/v1/runs/${positional[0]}/mosaic?${q}`,
    progressBar(`mosaic ${positional[0]}`, false, { unit: 'bytes', terminalOnly: true }),
  );
  writeFileAtomic(out, bytes);
  process.stdout.write(`mosaic of ${positional[0]} -> ${out} (${bytes.length} bytes)\n`);
  return 0;
}
