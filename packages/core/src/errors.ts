/**
 * An error caused by the user's input (a file, an option, a missing download) rather than by a bug.
 * The CLI prints its message alone, without a stack trace, and exits with `exitCode`.
 */
export class FtError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = "FtError";
  }
}

/** A bad option or argument: exit code 2, like a usage error. */
export class UsageError extends FtError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}
