/**
 * Located decode errors and the Result type every untrusted-input decoder returns
 * (../shared/STYLE.md habits 1 and 2: decoding never throws; errors carry a stable code and where).
 */

/** Where a decode error was found: a register and bit range, or a byte offset and field. */
export type Location =
  | { kind: 'register'; reg: number; bits?: readonly [hi: number, lo: number] }
  | { kind: 'bytes'; offset: number; size?: number; field: string };

/** A decode error: stable `code`, a namespaced `name`, where it is, what was expected and what was found. */
export interface DecodeError {
  /** Stable machine code, e.g. `DESC_OFFSET_OUT_OF_BOUNDS`. Tests assert on this, never on `message`. */
  readonly code: string;
  /** Namespaced name, e.g. `Descriptor.OffsetOutOfBounds`. */
  readonly name: string;
  readonly at: Location;
  readonly expected?: string;
  readonly got?: string;
  /** Strict-mode rule that failed (`desc/emad-offset-align`; docs/decode.md lists them), when one did. */
  readonly rule?: string;
  /** Human text derived from the fields above. */
  readonly message: string;
}

export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: DecodeError };

/** Wraps a value as a successful Result. */
export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** Formats a location as `x3[63:32]` or `byte 52 (emad[0].composite_off)`. */
export function formatLocation(at: Location): string {
  if (at.kind === 'register') {
    return at.bits === undefined ? `x${at.reg}` : `x${at.reg}[${at.bits[0]}:${at.bits[1]}]`;
  }
  const span = at.size === undefined ? `byte ${at.offset}` : `bytes ${at.offset}..${at.offset + at.size - 1}`;
  return `${span} (${at.field})`;
}

/** Builds a failed Result with a derived message. */
export function fail<T = never>(
  code: string,
  name: string,
  at: Location,
  why: string,
  expected?: string,
  got?: string,
  rule?: string,
): Result<T> {
  let message = `${formatLocation(at)}: ${why}`;
  if (expected !== undefined) message += `; expected ${expected}`;
  if (got !== undefined) message += `, got ${got}`;
  const error: DecodeError = {
    code,
    name,
    at,
    message,
    ...(expected === undefined ? {} : { expected }),
    ...(got === undefined ? {} : { got }),
    ...(rule === undefined ? {} : { rule }),
  };
  return { ok: false, error };
}
