// Exit codes, as kubectl-style tools use them (DESIGN.md "The strata command").
export const EXIT = {
  OK: 0,
  /** Findings: a denied flow, lint errors, a mismatch — where the command says so. */
  FINDINGS: 1,
  /** Usage or input errors: bad flags, unreadable or invalid manifests. */
  USAGE: 2,
  /** A bug in Strata: reported in one line, never as a stack trace. */
  INTERNAL: 3,
} as const;

/** Thrown by commands for bad flags; main prints the message and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
