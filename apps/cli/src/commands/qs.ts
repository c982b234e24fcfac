/** `dqs qs`: QuickSampling on this machine, with G2S's flags. */
import { randomInt } from 'node:crypto';
import { QsParams, resolveThreadCount, simulate } from '@dqs/qs';
import { numberList, parseG2sArgs, singleNumber, singleString, switchFlag, UsageError } from '../g2s-args';
import { loadDi, loadKernel, loadMap, loadQsGrid, parseKinds } from '../qs-inputs';
import { writeSimulation } from '../outputs';
import { progressBar } from '../progress';

export const QS_FLAGS: Record<string, string[]> = {
  ti: ['-ti'],
  di: ['-di'],
  dt: ['-dt'],
  k: ['-k'],
  n: ['-n'],
  s: ['-s'],
  j: ['-j', '--jobs'],
  ki: ['-ki'],
  ks: ['-ks'],
  sp: ['-sp'],
  ii: ['-ii'],
  ni: ['-ni'],
  kvi: ['-kvi'],
  cti: ['-cti'],
  force: ['--forceSimulation', '-forceSimulation'],
  o: ['-o', '--output'],
  json: ['--json'],
  quiet: ['--quiet', '-silent'],
  help: ['-h', '--help'],
};

export const QS_HELP = `dqs qs: QuickSampling (G2S's -a qs) on this machine

  dqs qs -ti stone.tiff -di 200x200 -dt 0 -k 1.2 -n 50 -s 100 -j 2 -o out/sim

  -ti FILE...      training image(s): .tiff, .npy, .png (8/16-bit gray) or .json
  -di FILE|RxC     destination image (NaN = simulate, numbers = hard data), or a size such as 200x200 or 50x50x50
  -dt T...         one type per variable: 0 = continuous, 1 = categorical; with several, the last axis of
                   every grid holds the variables
  -k K             number of best candidates, a real number >= 1 (1.2 takes the 2nd best one time in six)
  -n N...          closest informed neighbours (the simulated cell counts as one), one value or one per variable
  -s SEED          seed (default: random, printed so that the run can be repeated)
  -j J             threads: an integer, or a fraction of the cores (0.5 = half); the result never depends on it
  -ki FILE         weighting kernel (NaN = offset not searched); default uniform, TI size / 2 + 1
  -ks SIZE...      size of the default kernel
  -sp FILE         simulation path (ascending; -inf = never simulated)
  -ii FILE         TI index per cell    -ni FILE  n per cell    -kvi FILE  k per cell
  -cti             periodic training image(s)
  --forceSimulation  re-simulate cells of the path that already hold values
  -o PREFIX        output prefix (default sim): PREFIX.npy, PREFIX.index.npy, PREFIX.png
  --json           print a JSON summary on stdout     --quiet  no progress on stderr
`;

export async function runQs(argv: string[]): Promise<number> {
  const { flags, positional } = parseG2sArgs(argv, QS_FLAGS);
  if (switchFlag(flags, 'help')) {
    process.stdout.write(QS_HELP);
    return 0;
  }
  if (positional.length > 0)
    throw new UsageError(`unexpected argument(s) ${positional.join(' ')}; every value follows a flag`);
  const kinds = parseKinds(numberList(flags, 'dt', '-dt'));
  const V = kinds.length;
  const tiFiles = flags.get('ti');
  if (!tiFiles || tiFiles.length === 0)
    throw new UsageError('-ti is required: one or more training image files');
  const diSpec = singleString(flags, 'di', '-di');
  if (!diSpec)
    throw new UsageError('-di is required: a grid file, or a size such as 200x200 for an empty grid');
  const k = singleNumber(flags, 'k', '-k');
  if (k === undefined) throw new UsageError('-k is required (for example -k 1.2)');
  const n = numberList(flags, 'n', '-n');
  if (n === undefined) throw new UsageError('-n is required (for example -n 50)');
  const seed = singleNumber(flags, 's', '-s') ?? randomInt(0, 2 ** 31);
  const jValues = flags.get('j');
  const j = jValues === undefined ? undefined : jValues.length === 0 ? 0 : singleNumber(flags, 'j', '-j');
  const threads = resolveThreadCount(j);
  const tis = tiFiles.map((f) => loadQsGrid(f, V));
  const di = loadDi(diSpec, V);
  const mapFile = (name: string) => singleString(flags, name, `-${name}`);
  const params: QsParams = {
    tis,
    di,
    kinds,
    k,
    n,
    seed,
    kernel: mapFile('ki') ? loadKernel(mapFile('ki')!) : undefined,
    kernelSize: numberList(flags, 'ks', '-ks'),
    path: mapFile('sp') ? loadMap(mapFile('sp')!, di.shape, '-sp').data : undefined,
    tiIndexMap: mapFile('ii') ? loadMap(mapFile('ii')!, di.shape, '-ii').data : undefined,
    nMap: mapFile('ni') ? loadMap(mapFile('ni')!, di.shape, '-ni', [1, V]) : undefined,
    kMap: mapFile('kvi') ? loadMap(mapFile('kvi')!, di.shape, '-kvi').data : undefined,
    periodicTi: switchFlag(flags, 'cti', '-cti'),
    forceSimulation: switchFlag(flags, 'force', '--forceSimulation'),
  };
  const prefix = singleString(flags, 'o', '-o') ?? 'sim';
  const json = switchFlag(flags, 'json', '--json');
  const progress = progressBar('qs', switchFlag(flags, 'quiet', '--quiet'));
  let result;
  try {
    result = await simulate(params, {
      threads,
      labels: { tis: tiFiles, di: diSpec },
      onProgress: (done, total) => progress.update(done, total),
    });
  } finally {
    progress.stop();
  }
  const outputs = writeSimulation(prefix, result.sim, result.index, kinds);
  const summary = {
    seed,
    threads: result.threads,
    seconds: Number(result.seconds.toFixed(3)),
    shape: result.sim.shape,
    vars: result.sim.vars,
    simulated: result.simulated,
    peakRssMB: Number((process.resourceUsage().maxRSS / 1024).toFixed(1)),
    outputs,
  };
  if (json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    process.stdout.write(
      `simulated ${result.simulated} cells of ${result.sim.shape.join('x')} in ${result.seconds.toFixed(2)} s ` +
        `(${result.threads} thread${result.threads > 1 ? 's' : ''}, seed ${seed})\n` +
        `  values  ${outputs.sim}\n  index   ${outputs.index}\n  preview ${outputs.preview}\n`,
    );
  }
  return 0;
}
