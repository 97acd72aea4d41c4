/**
 * Sparse physical memory: 4 KiB frames allocated on first write, zero when never written.
 * Every component (host, hyp, SPMC) reads and writes the same PhysMem, as on hardware; who may touch which page
 * is the page-state tables' business (./stage2.ts), not this store's.
 */

const FRAME_SHIFT = 12;
const FRAME_SIZE = 1 << FRAME_SHIFT;
const FRAME_MASK = FRAME_SIZE - 1;

/** Addresses are numbers: the modelled PA space stays below 2^52, well inside Number's exact range. */
export type PhysAddr = number;

/** Largest physical address the model accepts (52-bit PA space, FEAT_LPA). */
export const MAX_PA = 2 ** 52;

/** What {@link PhysMem.snapshot} returns: each frame's number and a copy of its bytes. */
export type PhysMemSnapshot = ReadonlyMap<number, Uint8Array>;

/** Freed frames kept for reuse by {@link PhysMem.restore} (a fresh 4 KiB typed array is an off-heap allocation). */
const SPARE_FRAMES = 64;

export class PhysMem {
  private readonly frames = new Map<number, Uint8Array>();
  /** Frames backed by caller bytes ({@link attach}): never recycled. */
  private readonly attached = new WeakSet<Uint8Array>();
  /** Zero-filled on reuse. */
  private readonly spare: Uint8Array[] = [];

  /** A copy of every frame. */
  snapshot(): PhysMemSnapshot {
    const out = new Map<number, Uint8Array>();
    for (const [k, f] of this.frames) out.set(k, f.slice());
    return out;
  }

  /**
   * Puts back a {@link snapshot}: the same frames with the same bytes. Frames that exist in both keep their
   * storage (an attached frame stays attached and gets the bytes); frames allocated since are dropped.
   */
  restore(s: PhysMemSnapshot): void {
    for (const [k, f] of this.frames) {
      if (s.has(k)) continue;
      this.frames.delete(k);
      if (!this.attached.has(f) && this.spare.length < SPARE_FRAMES) this.spare.push(f);
    }
    for (const [k, b] of s) {
      const f = this.frames.get(k);
      if (f === undefined) this.frames.set(k, b.slice());
      else f.set(b);
    }
  }

  /** A zeroed frame: a recycled one if {@link restore} left any. */
  private newFrame(): Uint8Array {
    const f = this.spare.pop();
    if (f === undefined) return new Uint8Array(FRAME_SIZE);
    f.fill(0);
    return f;
  }

  /** Number of frames that hold data. */
  get frameCount(): number {
    return this.frames.size;
  }

  /**
   * Copies `len` bytes starting at `addr` into a new array.
   * @throws RangeError for an address range outside [0, MAX_PA).
   */
  read(addr: PhysAddr, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.readInto(addr, out);
    return out;
  }

  /**
   * Fills `out` from memory starting at `addr`.
   * @throws RangeError for an address range outside [0, MAX_PA).
   */
  readInto(addr: PhysAddr, out: Uint8Array): void {
    checkRange(addr, out.length);
    let done = 0;
    while (done < out.length) {
      const a = addr + done;
      const frame = Math.floor(a / FRAME_SIZE);
      const off = a & FRAME_MASK;
      const n = Math.min(FRAME_SIZE - off, out.length - done);
      const f = this.frames.get(frame);
      if (f === undefined) out.fill(0, done, done + n);
      else out.set(f.subarray(off, off + n), done);
      done += n;
    }
  }

  /**
   * The little-endian unsigned integer of `size` (1–4) bytes at `addr`, read in place: the EL2 field reads of the
   * proxy go through here, so no view or copy is made per read.
   * @throws RangeError for an address range outside [0, MAX_PA).
   */
  uint(addr: PhysAddr, size: 1 | 2 | 4): number {
    checkRange(addr, size);
    const off = addr & FRAME_MASK;
    if (off <= FRAME_SIZE - size) {
      const f = this.frames.get(Math.floor(addr / FRAME_SIZE));
      if (f === undefined) return 0;
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = v * 256 + f[off + i]!;
      return v;
    }
    // Straddles two frames.
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const a = addr + i;
      v = v * 256 + (this.frames.get(Math.floor(a / FRAME_SIZE))?.[a & FRAME_MASK] ?? 0);
    }
    return v;
  }

  /**
   * `n` little-endian u32 words from `addr` into `out[at…]` (a constituent's address and page count in one frame
   * lookup).
   * @throws RangeError for an address range outside [0, MAX_PA).
   */
  words(addr: PhysAddr, n: number, out: Uint32Array, at: number): void {
    checkRange(addr, 4 * n);
    const off = addr & FRAME_MASK;
    if (off > FRAME_SIZE - 4 * n) {
      for (let i = 0; i < n; i++) out[at + i] = this.uint(addr + 4 * i, 4);
      return;
    }
    const f = this.frames.get(Math.floor(addr / FRAME_SIZE));
    for (let i = 0; i < n; i++) {
      const o = off + 4 * i;
      // Stored into a Uint32Array: the signed result of the shifts is taken mod 2^32.
      out[at + i] = f === undefined ? 0 : f[o]! | (f[o + 1]! << 8) | (f[o + 2]! << 16) | (f[o + 3]! << 24);
    }
  }

  /**
   * `count` groups of `group` little-endian u32 words, the groups `stride` bytes apart from `addr`, into
   * `out[at…]` back to back: an array of fixed-size records (a descriptor's constituents) read with one frame
   * lookup per frame instead of one per record.
   * @throws RangeError for an address range outside [0, MAX_PA).
   */
  stridedWords(
    addr: PhysAddr,
    count: number,
    stride: number,
    group: number,
    out: Uint32Array,
    at: number,
  ): void {
    if (count <= 0) return;
    checkRange(addr, stride * (count - 1) + 4 * group);
    let frame = -1;
    let f: Uint8Array | undefined;
    for (let k = 0; k < count; k++) {
      const a = addr + k * stride;
      const off = a & FRAME_MASK;
      if (off > FRAME_SIZE - 4 * group) {
        this.words(a, group, out, at + k * group); // a record across two frames
        continue;
      }
      const fr = Math.floor(a / FRAME_SIZE);
      if (fr !== frame) {
        frame = fr;
        f = this.frames.get(fr);
      }
      for (let i = 0; i < group; i++) {
        const o = off + 4 * i;
        out[at + k * group + i] =
          f === undefined ? 0 : f[o]! | (f[o + 1]! << 8) | (f[o + 2]! << 16) | (f[o + 3]! << 24);
      }
    }
  }

  /**
   * The little-endian u64 at `addr`, read in place.
   * @throws RangeError for an address range outside [0, MAX_PA).
   */
  u64(addr: PhysAddr): bigint {
    checkRange(addr, 8);
    const hi = this.uint(addr + 4, 4);
    const lo = this.uint(addr, 4);
    // Below 2^53 the value is exact as a Number: one BigInt instead of three.
    return hi < 0x20_0000 ? BigInt(hi * 0x1_0000_0000 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
  }

  /**
   * Writes `bytes` at `addr`.
   * @throws RangeError for an address range outside [0, MAX_PA).
   */
  write(addr: PhysAddr, bytes: Uint8Array): void {
    checkRange(addr, bytes.length);
    let done = 0;
    while (done < bytes.length) {
      const a = addr + done;
      const frame = Math.floor(a / FRAME_SIZE);
      const off = a & FRAME_MASK;
      const n = Math.min(FRAME_SIZE - off, bytes.length - done);
      let f = this.frames.get(frame);
      if (f === undefined) {
        f = this.newFrame();
        this.frames.set(frame, f);
      }
      // The whole of `bytes` in one frame (nearly every write): no subarray.
      f.set(n === bytes.length ? bytes : bytes.subarray(done, done + n), off);
      done += n;
    }
  }

  /**
   * Copies `len` bytes from `src` to `dst` (a memcpy between physical ranges) without an intermediate buffer.
   * Overlapping ranges copy as if through a temporary.
   * @throws RangeError for a range outside [0, MAX_PA).
   */
  copy(dst: PhysAddr, src: PhysAddr, len: number): void {
    checkRange(src, len);
    checkRange(dst, len);
    if (len === 0 || dst === src) return;
    if (dst > src && dst < src + len) {
      this.write(dst, this.read(src, len));
      return;
    }
    let done = 0;
    while (done < len) {
      const s = src + done;
      const frame = Math.floor(s / FRAME_SIZE);
      const off = s & FRAME_MASK;
      const n = Math.min(FRAME_SIZE - off, len - done);
      const f = this.frames.get(frame);
      if (f === undefined) this.fill(dst + done, n, 0);
      else {
        const d = dst + done;
        const doff = d & FRAME_MASK;
        const df = doff <= FRAME_SIZE - n ? this.frames.get(Math.floor(d / FRAME_SIZE)) : undefined;
        // Source and destination chunks each in one frame that exists (the mailbox copies): frame to frame.
        if (df !== undefined) df.set(f.subarray(off, off + n), doff);
        else this.write(d, f.subarray(off, off + n));
      }
      done += n;
    }
  }

  /**
   * Backs the frames of [addr, addr + bytes.length) with `bytes` itself: from now on reads and writes of those
   * addresses are reads and writes of `bytes`, and whoever else holds `bytes` (kernel mode's C code, through
   * the same memory) sees them. What the frames held is copied into `bytes` first. `addr` and the length must
   * be multiples of 4 KiB.
   * @throws RangeError for an unaligned or out-of-range argument.
   */
  attach(addr: PhysAddr, bytes: Uint8Array): void {
    checkRange(addr, bytes.length);
    if ((addr & FRAME_MASK) !== 0 || (bytes.length & FRAME_MASK) !== 0)
      throw new RangeError(`attach 0x${addr.toString(16)}+${bytes.length}: not whole 4 KiB frames`);
    for (let off = 0; off < bytes.length; off += FRAME_SIZE) {
      const frame = (addr + off) / FRAME_SIZE;
      const view = bytes.subarray(off, off + FRAME_SIZE);
      const old = this.frames.get(frame);
      if (old === undefined) view.fill(0);
      else if (old !== view) view.set(old);
      this.frames.set(frame, view);
      this.attached.add(view);
    }
  }

  /**
   * Gives the frames of [addr, addr + len) storage of their own again, holding what they hold now (undoes
   * {@link attach}; the previously attached bytes are no longer read or written).
   * @throws RangeError for an unaligned or out-of-range argument.
   */
  detach(addr: PhysAddr, len: number): void {
    checkRange(addr, len);
    if ((addr & FRAME_MASK) !== 0 || (len & FRAME_MASK) !== 0)
      throw new RangeError(`detach 0x${addr.toString(16)}+${len}: not whole 4 KiB frames`);
    for (let off = 0; off < len; off += FRAME_SIZE) {
      const frame = (addr + off) / FRAME_SIZE;
      const f = this.frames.get(frame);
      if (f !== undefined) this.frames.set(frame, f.slice());
    }
  }

  /** Sets `len` bytes at `addr` to `value` (frames that stay zero are not allocated). */
  fill(addr: PhysAddr, len: number, value = 0): void {
    checkRange(addr, len);
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const frame = Math.floor(a / FRAME_SIZE);
      const off = a & FRAME_MASK;
      const n = Math.min(FRAME_SIZE - off, len - done);
      const f = this.frames.get(frame);
      if (f !== undefined) f.fill(value, off, off + n);
      else if (value !== 0) {
        const nf = this.newFrame();
        nf.fill(value, off, off + n);
        this.frames.set(frame, nf);
      }
      done += n;
    }
  }
}

function checkRange(addr: number, len: number): void {
  if (
    !Number.isSafeInteger(addr) ||
    addr < 0 ||
    !Number.isSafeInteger(len) ||
    len < 0 ||
    addr + len > MAX_PA
  ) {
    throw new RangeError(`physical range 0x${addr.toString(16)}+${len} outside the modelled PA space`);
  }
}
