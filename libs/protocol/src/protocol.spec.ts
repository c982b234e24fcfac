import {
  GridSpecError,
  coordsOf,
  decodeRecords,
  encodeRecords,
  formatJobRanges,
  neighbourOffsets,
  parseJobGrid,
  parseJobRanges,
  parseNameGrid,
} from './index';

describe('job ranges', () => {
  it('reads 1-6,15,20,25-30 and writes it back', () => {
    const ids = parseJobRanges('1-6,15,20,25-30');
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 15, 20, 25, 26, 27, 28, 29, 30]);
    expect(formatJobRanges(ids)).toBe('1-6,15,20,25-30');
    expect(parseJobRanges(' 7 , 3-4,4')).toEqual([3, 4, 7]);
  });
  it.each([
    ['', /not a job range/],
    ['1,,2', /not a job range/],
    ['a-3', /neither a job id nor a range/],
    ['9-3', /runs backwards; write 3-9/],
    ['1-99999999', /names more than/],
  ])('refuses %p', (text, message) => {
    expect(() => parseJobRanges(text)).toThrow(message);
  });
});

describe('job grids', () => {
  it('reads ids row-major and finds edge, corner and diagonal neighbours', () => {
    const g = parseJobGrid([
      [101, '102'],
      [103, 104],
    ]);
    expect(g).toEqual({ shape: [2, 2], ids: ['101', '102', '103', '104'] });
    expect(coordsOf(2, g.shape)).toEqual([1, 0]);
    expect(
      neighbourOffsets([0, 0], [3, 3])
        .map((n) => n.position)
        .sort(),
    ).toEqual([1, 3, 4]);
    expect(neighbourOffsets([1, 1], [3, 3])).toHaveLength(8);
  });
  it.each([
    [[[1, 2], [3]], /ragged grid/],
    [[], /empty/],
    [
      [
        [1, 2],
        [2, 4],
      ],
      /job id 2 appears more than once/,
    ],
    [[[1.5]], /not an integer/],
    [[['x']], /non-digit/],
    [[[-1]], /negative job id/],
    [[[2 ** 33]], /does not fit 32 bits/],
    ['[[1]]', /must be a JSON array/],
  ])('refuses %p', (grid, message) => {
    expect(() => parseJobGrid(grid)).toThrow(GridSpecError);
    expect(() => parseJobGrid(grid)).toThrow(message);
  });
  it('checks endpoint and DI grids against the job grid', () => {
    const g = parseJobGrid([[1, 2]]);
    expect(parseNameGrid([['a:1', 7]], '-eg', g)).toEqual(['a:1', '7']);
    expect(() => parseNameGrid([['a'], ['b']], '-eg', g)).toThrow(/shape \[2, 1\] does not match/);
    expect(() => parseNameGrid([['', 'b']], '-eg', g)).toThrow(/empty string/);
  });
});

describe('set-pixel records', () => {
  it('round-trip through their binary encoding', () => {
    const r = {
      vars: 2,
      g: Float64Array.from([0, 2 ** 40 + 3]),
      index: Uint32Array.from([5, 0xffffffff]),
      values: Float32Array.from([1.5, NaN, -2, 0.25]),
    };
    const back = decodeRecords(encodeRecords(r));
    expect(back.vars).toBe(2);
    expect(Array.from(back.g)).toEqual(Array.from(r.g));
    expect(Array.from(back.index)).toEqual(Array.from(r.index));
    expect(Buffer.from(back.values.buffer).equals(Buffer.from(r.values.buffer))).toBe(true);
    expect(() => decodeRecords(encodeRecords(r).subarray(0, 20))).toThrow(/does not hold/);
  });
});
