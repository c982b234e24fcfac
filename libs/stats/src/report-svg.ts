/** Draws a ComparisonReport as an SVG page: the images side by side, then one plot per statistic. */
import { ComparisonReport } from './stats';

export interface ReportImages {
  /** PNG bytes of previews, drawn in this order with their titles. */
  panels: { title: string; png: Uint8Array }[];
}

interface Series {
  label: string;
  colour: string;
  xs: number[];
  ys: number[];
  dashed?: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number | undefined, digits = 3) =>
  v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);

function linePlot(
  x0: number,
  y0: number,
  w: number,
  h: number,
  title: string,
  series: Series[],
  xLabel: string,
): string {
  const all = series.flatMap((s) => s.ys.filter(Number.isFinite));
  const xsAll = series.flatMap((s) => s.xs);
  const yMax = Math.max(1e-12, ...all) * 1.05;
  const yMin = Math.min(0, ...all);
  const xMin = Math.min(...xsAll);
  const xMax = Math.max(xMin + 1e-12, ...xsAll);
  const px = (x: number) => x0 + 50 + ((x - xMin) / (xMax - xMin)) * (w - 60);
  const py = (y: number) => y0 + h - 30 - ((y - yMin) / (yMax - yMin)) * (h - 60);
  let out = `<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="white" stroke="#ccc"/>`;
  out += `<text x="${x0 + w / 2}" y="${y0 + 18}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`;
  out += `<line x1="${px(xMin)}" y1="${py(yMin)}" x2="${px(xMax)}" y2="${py(yMin)}" stroke="#333"/>`;
  out += `<line x1="${px(xMin)}" y1="${py(yMin)}" x2="${px(xMin)}" y2="${py(yMax)}" stroke="#333"/>`;
  for (let i = 0; i <= 4; i++) {
    const yv = yMin + ((yMax - yMin) * i) / 4;
    out += `<text x="${x0 + 46}" y="${py(yv) + 4}" text-anchor="end" font-size="10">${yv.toPrecision(2)}</text>`;
    const xv = xMin + ((xMax - xMin) * i) / 4;
    out += `<text x="${px(xv)}" y="${y0 + h - 14}" text-anchor="middle" font-size="10">${Number(xv.toPrecision(3))}</text>`;
  }
  out += `<text x="${x0 + w - 8}" y="${y0 + h - 2}" text-anchor="end" font-size="10">${esc(xLabel)}</text>`;
  series.forEach((s, k) => {
    const pts = s.xs
      .map((x, i) => (Number.isFinite(s.ys[i]) ? `${px(x).toFixed(1)},${py(s.ys[i]).toFixed(1)}` : ''))
      .filter(Boolean)
      .join(' ');
    out += `<polyline points="${pts}" fill="none" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ''}/>`;
    out += `<line x1="${x0 + 60}" y1="${y0 + 32 + 14 * k}" x2="${x0 + 80}" y2="${y0 + 32 + 14 * k}" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ''}/>`;
    out += `<text x="${x0 + 85}" y="${y0 + 36 + 14 * k}" font-size="11">${esc(s.label)}</text>`;
  });
  return out;
}

function cdf(values: ArrayLike<number>): { xs: number[]; ys: number[] } {
  const sorted = Float64Array.from(Array.from(values).filter(Number.isFinite)).sort();
  const xs: number[] = [];
  const ys: number[] = [];
  const step = Math.max(1, Math.floor(sorted.length / 200));
  for (let i = 0; i < sorted.length; i += step) {
    xs.push(sorted[i]);
    ys.push((i + 1) / sorted.length);
  }
  if (sorted.length > 0 && xs[xs.length - 1] !== sorted[sorted.length - 1]) {
    xs.push(sorted[sorted.length - 1]);
    ys.push(1);
  }
  return { xs, ys };
}

export function reportSvg(
  report: ComparisonReport,
  images: ReportImages,
  values?: { ti: ArrayLike<number>; sim: ArrayLike<number> },
): string {
  const W = 1000;
  const imgSize = 300;
  const plots: string[] = [];
  const plotW = 480;
  const plotH = 260;
  const y = 40 + imgSize + 40;
  const place = (i: number) => ({ x: 13 + (i % 2) * (plotW + 14), y: y + Math.floor(i / 2) * (plotH + 14) });
  let p = 0;
  if (report.kind === 'continuous' && values) {
    const a = cdf(values.ti);
    const b = cdf(values.sim);
    const at = place(p++);
    plots.push(
      linePlot(
        at.x,
        at.y,
        plotW,
        plotH,
        `Value distribution (KS ${fmt(report.ks)})`,
        [
          { label: 'training image', colour: '#1f77b4', ...a },
          { label: 'simulation', colour: '#d62728', ...b, dashed: true },
        ],
        'value',
      ),
    );
  }
  // with two classes the indicator variograms of both are the same: draw the second only
  const drawn =
    report.kind === 'categorical' && report.variograms.length === 2
      ? report.variograms.slice(1)
      : report.variograms;
  for (const v of drawn) {
    const at = place(p++);
    plots.push(
      linePlot(
        at.x,
        at.y,
        plotW,
        plotH,
        `Variogram ${v.label} (rel. err. rows ${fmt(v.relErr.rows)}, cols ${fmt(v.relErr.cols)})`,
        [
          { label: 'TI along rows', colour: '#1f77b4', xs: v.ti.lags, ys: v.ti.rows },
          { label: 'sim along rows', colour: '#1f77b4', xs: v.sim.lags, ys: v.sim.rows, dashed: true },
          { label: 'TI along cols', colour: '#ff7f0e', xs: v.ti.lags, ys: v.ti.cols },
          { label: 'sim along cols', colour: '#ff7f0e', xs: v.sim.lags, ys: v.sim.cols, dashed: true },
        ],
        'lag (cells)',
      ),
    );
  }
  const rows = Math.ceil(p / 2);
  const textTop = y + rows * (plotH + 14) + 10;
  const lines: string[] = [];
  lines.push(
    `simulation ${report.shape[0]}x${report.shape[1]}: mean ${fmt(report.sim.mean)} / std ${fmt(report.sim.std)}; TI mean ${fmt(report.ti.mean)} / std ${fmt(report.ti.std)}`,
  );
  if (report.ks !== undefined) lines.push(`KS distance of values: ${fmt(report.ks, 4)}`);
  for (const pr of report.proportions ?? []) {
    lines.push(`class ${pr.class}: proportion TI ${fmt(pr.ti, 4)}, simulation ${fmt(pr.sim, 4)}`);
  }
  for (const rl of report.runLengths ?? []) {
    lines.push(
      `class ${rl.class}: mean run length h/v TI ${fmt(rl.ti.h, 1)}/${fmt(rl.ti.v, 1)}, simulation ${fmt(rl.sim.h, 1)}/${fmt(rl.sim.v, 1)}`,
    );
  }
  if (report.verbatimAdjacency) {
    lines.push(
      `verbatim adjacency h/v: ${fmt(report.verbatimAdjacency.h)} / ${fmt(report.verbatimAdjacency.v)} (higher = more verbatim copy)`,
    );
  }
  const H = textTop + lines.length * 18 + 20;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans">`;
  svg += `<rect width="${W}" height="${H}" fill="#f7f7f7"/>`;
  svg += `<text x="${W / 2}" y="26" text-anchor="middle" font-size="18" font-weight="bold">dqs stats: simulation against training image</text>`;
  const n = images.panels.length;
  const gap = n > 0 ? (W - n * imgSize) / (n + 1) : 0;
  images.panels.forEach((panel, i) => {
    const x = gap + i * (imgSize + gap);
    const href = `data:image/png;base64,${Buffer.from(panel.png).toString('base64')}`;
    svg += `<image x="${x}" y="50" width="${imgSize}" height="${imgSize}" preserveAspectRatio="xMidYMid meet" href="${href}"/>`;
    svg += `<text x="${x + imgSize / 2}" y="${50 + imgSize + 18}" text-anchor="middle" font-size="13">${esc(panel.title)}</text>`;
  });
  svg += plots.join('');
  lines.forEach((l, i) => {
    svg += `<text x="20" y="${textTop + 14 + i * 18}" font-size="13">${esc(l)}</text>`;
  });
  return svg + '</svg>';
}
