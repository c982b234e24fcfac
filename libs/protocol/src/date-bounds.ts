/** Date filters as users type them: 2026-11-21, 2026-11-21T14:00, or an age such as 3d, 12h, 30m. */

export class DateBoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DateBoundError';
  }
}

const AGE = /^(\d+(?:\.\d+)?)\s*([mhdw])$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * The instant a bound stands for. A bare date is a whole day (UTC): as a lower bound its start, as an upper
 * bound its end, so that --since 2026-11-01 --until 2026-11-21 includes the 21st. An age counts back from now.
 */
export function parseDateBound(text: string, side: 'since' | 'until', now = Date.now()): Date {
  const t = text.trim();
  const age = AGE.exec(t);
  if (age) return new Date(now - Number(age[1]) * UNIT_MS[age[2]]);
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
    const start = Date.parse(`${t}T00:00:00Z`);
    if (!Number.isNaN(start)) return new Date(side === 'since' ? start : start + 86_400_000 - 1);
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(t)) {
    const at = Date.parse(t);
    if (!Number.isNaN(at)) return new Date(at);
  }
  throw new DateBoundError(
    `'${text}' is not a date: give YYYY-MM-DD (a whole day, UTC), YYYY-MM-DDTHH:MM[:SS][Z], or an age such as 3d, 12h, 30m, 2w`,
  );
}

/** The bounds of a date filter; --date D is the day D. Throws when since is after until. */
export function parseDateFilter(
  opts: { since?: string; until?: string; date?: string },
  now = Date.now(),
): { since?: Date; until?: Date } {
  let since = opts.since ? parseDateBound(opts.since, 'since', now) : undefined;
  let until = opts.until ? parseDateBound(opts.until, 'until', now) : undefined;
  if (opts.date) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(opts.date.trim()))
      throw new DateBoundError(
        `--date takes a day, YYYY-MM-DD (got '${opts.date}'); use --since/--until for other bounds`,
      );
    since = parseDateBound(opts.date, 'since', now);
    until = parseDateBound(opts.date, 'until', now);
  }
  if (since && until && since > until)
    throw new DateBoundError(
      `the date filter is empty: ${since.toISOString()} is after ${until.toISOString()}`,
    );
  return { since, until };
}
