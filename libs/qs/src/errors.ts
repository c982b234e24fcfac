/** A bad QS input: the message names the parameter (with its G2S flag) and what to do. */
export class QsInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QsInputError';
  }
}

/** The simulation was cancelled before it finished. */
export class QsCancelledError extends Error {
  constructor(readonly completed: number) {
    super(`simulation cancelled after ${completed} path positions`);
    this.name = 'QsCancelledError';
  }
}
