/** An error about one grid file: it always names the file and says what is wrong with it. */
export class GridFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'GridFileError';
  }
}
