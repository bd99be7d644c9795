// The one error the generator throws for bad arguments, so callers (the CLI, the server's
// demo) can tell a caller's mistake from a bug.

export class SynthInputError extends Error {
  readonly code = 'SYNTH_INVALID_INPUT';

  constructor(message: string) {
    super(message);
    this.name = 'SynthInputError';
  }
}
