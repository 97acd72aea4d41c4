/**
 * SMCCC 1.2 register file: x0–x17 as 64-bit values.
 *
 * Representation (chosen by `bench/regfile.ts`, see docs/register-file.md): a plain array of 36 numbers,
 * x[i] = words[2i+1]:words[2i], each word an unsigned 32-bit value. FF-A reads almost every field as a 32-bit
 * w-register, so the u32 halves never allocate a bigint; and a plain array is allocated on the V8 heap — a
 * Uint32Array of 144 bytes is not (typed arrays over 64 bytes get an off-heap backing store, measured at ≈2.4 µs
 * per allocation on this machine's Node 20 against ≈24 ns for copying a 36-element array).
 *
 * SMC32 views (SMCCC 1.2 §2.6 as quoted in pKVM `ffa_set_retval`; abi.md §1.2): `w(i)` is the low 32 bits of
 * x[i]. On input, callees in this model read w-registers for SMC32 calls and ignore the upper halves (HF, CR and
 * pKVM all do). On output, `setW` writes the low half and clears the upper half (a 32-bit result is
 * zero-extended, as Hafnium does); a component that sign-extends (pKVM's error codes) uses `setSigned32`, so the
 * difference stays visible in traces (abi.md §13 #3).
 */

/** Number of argument/result registers under SMCCC 1.2 (x0–x17). */
export const NUM_REGS = 18;
/** 2^64 − 1. */
export const U64_MASK = 0xffff_ffff_ffff_ffffn;
const U32 = 0x1_0000_0000;

/**
 * The u64 `hi:lo` from two u32 halves (a handle split over w1/w2, an x-register's words): one bigint when the
 * value fits in 53 bits, as nearly every modelled handle and address does, instead of three.
 */
export function u64Of(lo: number, hi: number): bigint {
  return hi < 0x20_0000 ? BigInt(hi * U32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/** The low 32 bits of `v` (two's complement for a negative), with no bigint arithmetic when `v` is below 2^53. */
export function lo32(v: bigint): number {
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n >>> 0 : Number(BigInt.asUintN(32, v));
}

/** Bits 63:32 of `v` (two's complement for a negative), with no bigint arithmetic when `v` is below 2^53. */
export function hi32(v: bigint): number {
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? Math.floor(n / U32) : Number(BigInt.asUintN(32, v >> 32n));
}

/** A value outside 0..2^64−1 given for a register. */
export class RegisterRangeError extends RangeError {
  readonly code = 'REG_OUT_OF_RANGE';
  readonly reg: number;
  readonly got: string;
  constructor(reg: number, got: string) {
    super(`invalid u64 in x${reg}: ${got}`);
    this.reg = reg;
    this.got = got;
  }
}

/** An SMCCC 1.2 register file x0–x17. Mutable; copy with {@link RegisterFile.clone} or {@link RegisterFile.copyFrom}. */
export class RegisterFile {
  /** x[i] low word at [2i], high word at [2i+1]; every element an integer in 0..2^32−1. */
  readonly words: number[];

  constructor(words?: number[]) {
    this.words = words ?? [
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0,
    ];
  }

  /**
   * Builds a register file from up to 18 values (x0 first); missing registers are 0.
   * @throws RegisterRangeError for a value outside 0..2^64−1 or a non-integer number.
   */
  static of(values: readonly (bigint | number)[]): RegisterFile {
    if (values.length > NUM_REGS) throw new RangeError(`at most ${NUM_REGS} registers, got ${values.length}`);
    const r = new RegisterFile();
    values.forEach((v, i) => {
      r.setX(i, assertU64(v, i));
    });
    return r;
  }

  /** Low 32 bits of x[i] (the SMC32 w-register), as an unsigned number. */
  w(i: number): number {
    return this.words[2 * i]!;
  }

  /** High 32 bits of x[i]. */
  hi(i: number): number {
    return this.words[2 * i + 1]!;
  }

  /** x[i] as a bigint. */
  x(i: number): bigint {
    return u64Of(this.words[2 * i]!, this.words[2 * i + 1]!);
  }

  /** x[i] as a number when it fits in 53 bits, else undefined. */
  xNumber(i: number): number | undefined {
    const hi = this.words[2 * i + 1]!;
    if (hi >= 0x20_0000) return undefined;
    return hi * U32 + this.words[2 * i]!;
  }

  /** Sets w[i] and clears the upper half of x[i] (32-bit results are zero-extended). */
  setW(i: number, v: number): this {
    this.words[2 * i] = v >>> 0;
    this.words[2 * i + 1] = 0;
    return this;
  }

  /** Sets x[i] from a bigint; the value is truncated to 64 bits (two's complement for negatives). */
  setX(i: number, v: bigint): this {
    this.words[2 * i] = lo32(v);
    this.words[2 * i + 1] = hi32(v);
    return this;
  }

  /** Sets x[i] from its two halves. */
  setPair(i: number, lo: number, hi: number): this {
    this.words[2 * i] = lo >>> 0;
    this.words[2 * i + 1] = hi >>> 0;
    return this;
  }

  /** Sets x[i] to a sign-extended 32-bit value (pKVM stores `int` codes into u64 registers this way). */
  setSigned32(i: number, v: number): this {
    this.words[2 * i] = v >>> 0;
    this.words[2 * i + 1] = v < 0 ? 0xffff_ffff : 0;
    return this;
  }

  /** True when x[i] is zero. */
  isZero(i: number): boolean {
    return this.words[2 * i] === 0 && this.words[2 * i + 1] === 0;
  }

  /** Copies every register of `other` into this file. */
  copyFrom(other: RegisterFile): this {
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < 36; i++) a[i] = b[i]!;
    return this;
  }

  /** Copies registers [from, to] (inclusive) of `other` into this file. */
  copyRange(other: RegisterFile, from: number, to: number): this {
    const a = this.words;
    const b = other.words;
    for (let i = 2 * from; i < 2 * to + 2; i++) a[i] = b[i]!;
    return this;
  }

  /** Sets every register to 0. */
  clear(): this {
    this.words.fill(0);
    return this;
  }

  /** A fresh copy. */
  clone(): RegisterFile {
    return new RegisterFile(this.words.slice());
  }

  /** True when both files hold the same 18 values. */
  equals(other: RegisterFile): boolean {
    const a = this.words;
    const b = other.words;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** Index of the highest non-zero register, or −1. */
  lastNonZero(): number {
    for (let i = NUM_REGS - 1; i >= 0; i--) if (!this.isZero(i)) return i;
    return -1;
  }

  /** All 18 registers as 0x-prefixed 16-digit lowercase hex. */
  toHex(): string[] {
    const out: string[] = [];
    for (let i = 0; i < NUM_REGS; i++) out.push(hex64(this.words[2 * i + 1]!, this.words[2 * i]!));
    return out;
  }

  /** All 18 registers as bigints. */
  toBigInts(): bigint[] {
    const out: bigint[] = [];
    for (let i = 0; i < NUM_REGS; i++) out.push(this.x(i));
    return out;
  }
}

/** `0x` + 16 hex digits for a (hi, lo) pair. */
export function hex64(hi: number, lo: number): string {
  return `0x${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`;
}

/** `0x` + 8 hex digits. */
export function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * Range-checked u64 conversion (protobuf-es `uParse` habit).
 * @throws RegisterRangeError when `v` is not an integer in 0..2^64−1.
 */
export function assertU64(v: bigint | number, reg = 0): bigint {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new RegisterRangeError(reg, String(v));
    return BigInt(v);
  }
  if (v < 0n || v > U64_MASK) throw new RegisterRangeError(reg, `0x${v.toString(16)}`);
  return v;
}
