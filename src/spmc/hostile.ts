/**
 * A hostile secure world (issue 14 item 1): EL3 that lies. Sits in the SPMD on the way back to the hyp and may
 * change any answer — the function ID in x0, any of w1–w17, the u32 words the SPMC just wrote into the hyp's RX
 * buffer (retrieve-response offsets, counts, lengths, handles, constituent addresses) — besides the named quirks.
 *
 * Two modes, both deterministic:
 * - a plan (`{seed, rate}`): for the n-th answer to function F, a PRNG forked from (seed, F, n) decides whether to
 *   lie and how, biased toward boundary values (0, 1, page size ± 1, buffer sizes, 2^32 − 1). Keying the draws by
 *   (F, n) and not by a global answer counter keeps a lie where it was when unrelated calls are added or removed
 *   (the fuzzer's shrinking and mutation rely on it);
 * - a list of lies (`{lies: […]}`), each naming the answer (F, n), the target and the value to put there: what a
 *   finding's replay file carries, so it reproduces byte for byte without re-drawing anything.
 *
 * Every lie told is recorded in {@link HostileSpmc.applied} (absolute values) and, with a trace attached, as a
 * `decision` event of the SPMD (`spmd/hostile/lie`). Randomness comes only from the {@link Prng} passed in.
 */
import { FFA, ffaName } from '../ffa/ids.ts';
import type { PhysMem } from '../mem/phys.ts';
import type { RegisterFile } from '../smccc/regs.ts';
import type { TraceSink } from '../trace/events.ts';

/** A seeded deterministic PRNG: `next` gives a u32; `fork` a generator keyed by more words. */
export interface Prng {
  next(): number;
  fork(...keys: number[]): Prng;
}

/** 32-bit mixing (murmur3 finaliser). */
export function mix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85eb_ca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2_ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Hashes words into one u32 (order matters). */
export function hashWords(...words: number[]): number {
  let h = 0x9e37_79b9;
  for (const w of words) h = mix32((h ^ (w >>> 0)) + 0x7f4a_7c15);
  return h >>> 0;
}

/** splitmix32: small, fast, good enough for choosing mutations; never Math.random. */
export function seededPrng(seed: number): Prng {
  let s = seed >>> 0;
  const self: Prng = {
    next(): number {
      s = (s + 0x9e37_79b9) >>> 0;
      return mix32(s);
    },
    fork: (...keys: number[]) => seededPrng(hashWords(seed, ...keys)),
  };
  return self;
}

/** Where a lie goes: x0 (the function ID, as w0), w1–w17, or a u32 of the hyp RX buffer at byte `at`. */
export type LieTarget = 'x0' | 'rx' | `w${number}`;

/** One lie: the `nth` (1-based) answer to hyp call `call` (w0 of the hyp's SMC) gets `target` := `value`. */
export interface HostileLie {
  call: number;
  nth: number;
  target: LieTarget;
  /** Byte offset in the hyp RX buffer (target `rx`). */
  at?: number;
  value: number;
}

/** What a world file's `spmc.hostile` says (docs/world.md). */
export interface HostileConfig {
  /** Draw lies from this seed (plan mode). */
  seed?: number;
  /** Probability that an answer is a lie, 0..1 (plan mode; default 1/8). */
  rate?: number;
  /** Lies to tell, exactly (replay mode; may be combined with a plan). */
  lies?: HostileLie[];
}

export interface HostileOptions {
  /** Plan mode: the PRNG (forked per answer) and the lie rate 0..1. */
  prng?: Prng;
  rate?: number;
  lies?: readonly HostileLie[];
  mem: PhysMem;
  /** The hyp's RX buffer as the SPMC knows it (undefined while not mapped). */
  rx: () => number | undefined;
  pageSize: number;
  /** ffa_desc_buf's size: one of the boundaries worth lying about. */
  descBufLen: number;
  trace?: TraceSink;
}

/** Descriptor offsets worth a lie: header fields, EMAD, composite and first constituents (v1.0–v1.2 layouts). */
const RX_FIELDS = [
  0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84, 88, 92, 96, 100, 104,
  108,
];

/** x0 values an answer may carry instead of the true one. */
const X0_LIES = [
  FFA.SUCCESS,
  FFA.SUCCESS64,
  FFA.ERROR,
  FFA.MEM_FRAG_TX,
  FFA.MEM_FRAG_RX,
  FFA.MEM_RETRIEVE_RESP,
  0xffff_ffff,
];

/** The EL3 liar. Attach to {@link SPMD.hostile}. */
export class HostileSpmc {
  /** Every lie told so far, in order, as absolute values (a replay file's `spmc.hostile.lies`). */
  readonly applied: HostileLie[] = [];
  /** Called with each lie as it is told (kernel-mode workers stream them out before a fatal call can end them). */
  onLie: ((l: HostileLie) => void) | undefined;
  private readonly o: HostileOptions;
  private readonly rate: number;
  private readonly counts = new Map<number, number>();
  private readonly boundaries: number[];

  constructor(o: HostileOptions) {
    this.o = o;
    this.rate = Math.round((o.rate ?? 1 / 8) * 0x1_0000);
    const ps = o.pageSize;
    const d = o.descBufLen;
    this.boundaries = [
      0,
      1,
      2,
      4,
      15,
      16,
      17,
      32,
      48,
      64,
      80,
      96,
      ps - 16,
      ps - 1,
      ps,
      ps + 1,
      2 * ps,
      d - 1,
      d,
      d + 1,
      0x7fff_ffff,
      0x8000_0000,
      0xffff_fff0,
      0xffff_ffff,
    ];
  }

  /** The answer to `call` as the hyp will see it: `out` itself, changed in place when EL3 lies. */
  answer(call: RegisterFile, out: RegisterFile): RegisterFile {
    const fid = call.w(0);
    const nth = (this.counts.get(fid) ?? 0) + 1;
    this.counts.set(fid, nth);
    if (this.o.lies !== undefined)
      for (const l of this.o.lies) if (l.call === fid && l.nth === nth) this.tell(out, l);
    if (this.o.prng !== undefined) {
      const r = this.o.prng.fork(fid, nth);
      if (r.next() % 0x1_0000 < this.rate) {
        this.tell(out, this.draw(r, fid, nth, out));
        if (r.next() % 4 === 0) this.tell(out, this.draw(r, fid, nth, out));
      }
    }
    return out;
  }

  /** How many bytes the true answer put in the hyp RX buffer. */
  private written(out: RegisterFile): number {
    const ps = this.o.pageSize;
    const x0 = out.w(0);
    if (x0 === FFA.MEM_RETRIEVE_RESP) return Math.min(out.w(2), ps);
    if (x0 === FFA.MEM_FRAG_TX) return Math.min(out.w(3), ps);
    return 0;
  }

  private draw(r: Prng, fid: number, nth: number, out: RegisterFile): HostileLie {
    const wrote = this.written(out);
    const pick = r.next() % 100;
    if (pick < 12) {
      const v = X0_LIES[r.next() % X0_LIES.length]!;
      return { call: fid, nth, target: 'x0', value: v };
    }
    if (wrote > 0 && pick < 50 && this.o.rx() !== undefined) {
      const words = Math.max(1, Math.floor(wrote / 4));
      const at = r.next() % 2 === 0 ? RX_FIELDS[r.next() % RX_FIELDS.length]! : (r.next() % words) * 4;
      const orig = this.o.mem.uint((this.o.rx() ?? 0) + at, 4);
      return { call: fid, nth, target: 'rx', at, value: this.value(r, orig) };
    }
    // w1–w3 carry what the hyp reads of almost every answer (lengths, handles, error codes): most lies go there.
    const reg = r.next() % 4 === 0 ? 4 + (r.next() % 14) : 1 + (r.next() % 3);
    return { call: fid, nth, target: `w${reg}`, value: this.value(r, out.w(reg)) };
  }

  /** A value biased toward boundaries and near the true one. */
  private value(r: Prng, orig: number): number {
    const k = r.next() % 16;
    // 0 and 2^32 − 1 are the boundaries of every field: a quarter of the boundary picks.
    if (k < 9)
      return r.next() % 4 === 0
        ? (r.next() % 2) * 0xffff_ffff
        : this.boundaries[r.next() % this.boundaries.length]! >>> 0;
    if (k < 11) return (orig + 1) >>> 0;
    if (k < 13) return (orig - 1) >>> 0;
    if (k < 14) return (orig ^ (1 << (r.next() % 32))) >>> 0;
    if (k < 15) return (orig * 2) >>> 0;
    return r.next();
  }

  private tell(out: RegisterFile, l: HostileLie): void {
    let was: number;
    if (l.target === 'rx') {
      const rx = this.o.rx();
      const at = l.at ?? 0;
      if (rx === undefined || at + 4 > this.o.pageSize) return;
      was = this.o.mem.uint(rx + at, 4);
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, l.value >>> 0, true);
      this.o.mem.write(rx + at, b);
    } else {
      const reg = l.target === 'x0' ? 0 : Number(l.target.slice(1));
      if (!Number.isInteger(reg) || reg < 0 || reg > 17) return;
      was = out.w(reg);
      out.setW(reg, l.value >>> 0);
    }
    const told: HostileLie = l.target === 'rx' ? { ...l, at: l.at ?? 0 } : { ...l };
    this.applied.push(told);
    this.onLie?.(told);
    this.o.trace?.emit({
      kind: 'decision',
      actor: 'spmd',
      action: 'answer',
      rule: 'spmd/hostile/lie',
      change: 'spmc.hostile',
      source: 'issue 14: a hostile secure world (docs/fuzz.md)',
      text: `lie: ${describeLie(l)} (was 0x${was.toString(16)})`,
    });
  }
}

/** One lie for people: `FFA_MEM_FRAG_RX answer #2: w3 := 0xffffffff`. */
export function describeLie(l: HostileLie): string {
  const where = l.target === 'rx' ? `hyp RX +${l.at ?? 0}` : l.target;
  const v =
    l.target === 'x0' ? `${ffaName(l.value)} (0x${l.value.toString(16)})` : `0x${l.value.toString(16)}`;
  return `${ffaName(l.call)} answer #${l.nth}: ${where} := ${v}`;
}
