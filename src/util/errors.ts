/**
 * A mistake in what the user gave us (a file, a flag, the machine): the CLI prints its message
 * as one line and exits non-zero, without a stack trace. Messages name the thing and the place,
 * e.g. `model.txt line 12: "abc" is not a number`.
 */
export class UserError extends Error {
  override name = 'UserError';
}
