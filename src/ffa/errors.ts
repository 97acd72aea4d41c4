/**
 * FF-A status codes (abi.md §3.1; Linux `arm_ffa.h`; NOT_READY from Hafnium/Trusty, abi.md §13 #7).
 * On the wire an error is x0 = FFA_ERROR, w2 = the code as a two's-complement 32-bit value.
 */

/** Error names, spelled as the spec spells them. */
export type FfaErrorName =
  | 'NOT_SUPPORTED'
  | 'INVALID_PARAMETERS'
  | 'NO_MEMORY'
  | 'BUSY'
  | 'INTERRUPTED'
  | 'DENIED'
  | 'RETRY'
  | 'ABORTED'
  | 'NO_DATA'
  | 'NOT_READY';

/** Code values (negative integers). */
export const FFA_ERROR_CODES: Readonly<Record<FfaErrorName, number>> = {
  NOT_SUPPORTED: -1,
  INVALID_PARAMETERS: -2,
  NO_MEMORY: -3,
  BUSY: -4,
  INTERRUPTED: -5,
  DENIED: -6,
  RETRY: -7,
  ABORTED: -8,
  NO_DATA: -9,
  NOT_READY: -10,
};

const BY_CODE = new Map<number, FfaErrorName>(
  (Object.entries(FFA_ERROR_CODES) as [FfaErrorName, number][]).map(([n, c]) => [c, n]),
);

/** Error name for a code given as the low 32 bits of w2 (compared as s32, abi.md §13 #3), or undefined. */
export function ffaErrorName(w2: number): FfaErrorName | undefined {
  return BY_CODE.get(w2 | 0);
}

/** Short form used in traces: `DENIED` or `error(-42)`. */
export function ffaErrorLabel(w2: number): string {
  return ffaErrorName(w2) ?? `error(${w2 | 0})`;
}
