/** Progress on stderr: a bar on a terminal, a line every 10 % otherwise (logs, CI). */
import { SingleBar, Presets } from 'cli-progress';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export function progressBar(
  label: string,
  quiet = false,
  options: { unit?: string; terminalOnly?: boolean } = {},
): Progress {
  const unit = options.unit ?? 'cells';
  if (quiet || (options.terminalOnly && !process.stderr.isTTY))
    return { update: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    const bar = new SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} cells | {eta_formatted} left`,
        stream: process.stderr,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total) {
        if (!started) {
          bar.start(total, 0);
          started = true;
        }
        bar.update(done);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let lastDecile = -1;
  return {
    update(done, total) {
      const decile = total > 0 ? Math.floor((10 * done) / total) : 10;
      if (decile > lastDecile) {
        lastDecile = decile;
        process.stderr.write(`${label}: ${decile * 10}% (${done}/${total} ${unit})\n`);
      }
    },
    stop: () => undefined,
  };
}
