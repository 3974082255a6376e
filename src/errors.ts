// Error classes shared by the core, the CLI and the page. Exit codes: 2 bad usage or input, 1 anything else.

/** Base class: every error queuectl raises on purpose carries a code and, where known, the cause. */
export class QueuectlError extends Error {
  readonly code: string;
  constructor(message: string, code = 'EQUEUECTL', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueuectlError';
    this.code = code;
  }
}

/** Input that is not what was expected (a job, a flag, a config value). Nothing was changed. */
export class InputError extends QueuectlError {
  constructor(message: string) {
    super(message, 'EINPUT');
    this.name = 'InputError';
  }
}

/** No job with that id in any state. */
export class JobNotFoundError extends QueuectlError {
  constructor(readonly id: string) {
    super(`No job with id "${id}" in any state (pending, waiting, processing, completed, dead)`, 'ENOTFOUND');
    this.name = 'JobNotFoundError';
  }
}

/** The queue root cannot be used (permissions, owner, filesystem, format). */
export class RootError extends QueuectlError {
  constructor(message: string) {
    super(message, 'EROOT');
    this.name = 'RootError';
  }
}

/** Exit status for an error reaching the CLI: 2 for bad input or usage, 1 for the rest. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof InputError || error instanceof JobNotFoundError) return 2;
  if (error && typeof error === 'object' && (error as { name?: string }).name === 'CACError') return 2;
  return 1;
}

/** True when err is a Node system error with the given code (ENOENT, EEXIST, ...). */
export function isErrno(err: unknown, ...codes: string[]): boolean {
  return !!err && typeof err === 'object' && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}
