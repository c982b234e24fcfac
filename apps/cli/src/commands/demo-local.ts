/**
 * `dqs demo --local`: QS on this machine only. Makes two training images, simulates each with QS on every
 * core, and writes the results, previews and statistics reports into one folder.
 */
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { writeFileAtomic, writeGrid } from '@dqs/grids';
import { QsGrid, VariableKind, simulate } from '@dqs/qs';
import { compareWithTi, reportSvg } from '@dqs/stats';
import { channelsImage, smoothField } from '../demo-images';
import { previewPng, writeSimulation } from '../outputs';
import { progressBar } from '../progress';
import { svgToPng } from '../report-png';

interface Case {
  name: string;
  kind: VariableKind;
  ti: QsGrid;
  n: number;
}

export async function runLocalDemo(folder: string, quiet: boolean): Promise<number> {
  const threads = availableParallelism();
  const cases: Case[] = [
    {
      name: 'channels',
      kind: 'categorical',
      ti: { shape: [150, 150], vars: 1, data: channelsImage(150, 150) },
      n: 40,
    },
    {
      name: 'field',
      kind: 'continuous',
      ti: { shape: [150, 150], vars: 1, data: smoothField(150, 150) },
      n: 40,
    },
  ];
  process.stdout.write(
    `dqs demo: QuickSampling of two training images made by dqs, on ${threads} thread(s), into ${folder}\n`,
  );
  for (const c of cases) {
    const tiFile = join(folder, `${c.name}-ti.npy`);
    writeGrid(tiFile, { shape: c.ti.shape, dtype: 'float32', data: c.ti.data });
    writeFileAtomic(join(folder, `${c.name}-ti.png`), previewPng(c.ti, c.kind));
    const di: QsGrid = { shape: [120, 180], vars: 1, data: new Float32Array(120 * 180).fill(NaN) };
    const progress = progressBar(`${c.name}`, quiet);
    const result = await simulate(
      { tis: [c.ti], di, kinds: [c.kind], k: 1.2, n: [c.n], seed: 100 },
      { threads, onProgress: (d, t) => progress.update(d, t) },
    );
    progress.stop();
    const out = writeSimulation(join(folder, `${c.name}-sim`), result.sim, result.index, [c.kind]);
    const report = compareWithTi(
      { rows: c.ti.shape[0], cols: c.ti.shape[1], data: c.ti.data },
      { rows: di.shape[0], cols: di.shape[1], data: result.sim.data },
      { categorical: c.kind === 'categorical', index: result.index },
    );
    const reportFile = join(folder, `${c.name}-report.png`);
    const panels = [
      { title: 'training image', png: previewPng(c.ti, c.kind) },
      { title: 'simulation', png: previewPng(result.sim, c.kind) },
    ];
    writeFileAtomic(
      reportFile,
      svgToPng(reportSvg(report, { panels }, { ti: c.ti.data, sim: result.sim.data })),
    );
    const figure =
      c.kind === 'categorical'
        ? `class-1 proportion ${report.proportions?.find((p) => p.class === 1)?.sim.toFixed(3)} (TI ${report.proportions?.find((p) => p.class === 1)?.ti.toFixed(3)})`
        : `KS distance ${report.ks?.toFixed(3)}`;
    process.stdout.write(
      `  ${c.name} (${c.kind}): ${result.simulated} cells in ${result.seconds.toFixed(2)} s, ${figure}\n` +
        `    TI ${tiFile}\n    simulation ${out.sim} (index ${out.index})\n    preview ${out.preview}\n    report ${reportFile}\n`,
    );
  }
  process.stdout.write(`done. Open the PNG files in ${folder} to look at the results.\n`);
  return 0;
}
