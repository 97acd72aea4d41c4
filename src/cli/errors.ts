/** A usage or input error: message printed, exit code 2 (its own module so servers and bundles need not load main). */
export class UsageError extends Error {
  readonly exitCode = 2;
}
