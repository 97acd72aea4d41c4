/**
 * The host FF-A driver: Linux `drivers/firmware/arm_ffa/driver.c` as the host kernel at EL1 runs it
 * (peers-and-tests.md §2.8), the current fixed driver by default, with the driver bugs that matter to the proxy
 * selectable as quirks (bug-history.md part B). Every call builds a real SMC register file and goes through
 * `smc`; results are values, never exceptions.
 */
import {
  constituentsOffset,
  DescBuffer,
  fragmentDescriptor,
  type MemTransactionInit,
  memTransaction,
  parsePartitionInfo,
  writeMemTransaction,
} from '../ffa/desc/index.ts';
import type { DescVersion, PartitionInfo } from '../ffa/desc/types.ts';
import { ffaErrorName } from '../ffa/errors.ts';
import { FFA } from '../ffa/ids.ts';
import { uuidParse, uuidToW4, uuidToX2 } from '../ffa/uuid.ts';
import { FFA_VERSION_1_2, type VersionWord, versionMajor, versionMinor } from '../ffa/version.ts';
import type { PhysMem } from '../mem/phys.ts';
import { hi32, lo32, RegisterFile, u64Of } from '../smccc/regs.ts';
import type { TraceSink } from '../trace/events.ts';

/** Issues one SMC from the host CPU. */
export type SmcFn = (regs: RegisterFile) => RegisterFile;

/** Driver deviations (bug-history.md part B). Defaults model the fixed driver. */
export interface HostQuirks {
  /** D3: attributes written for MEM_LEND (the fix writes 0). */
  lendAttributes?: number;
  /** D11: EMAD size written at ≥1.1 (the fix: 32 at 1.2, 16 below). */
  emadSize?: 16 | 32;
  /** D13: RXTX_MAP page count (the fix: PAGE_SIZE / 4K). */
  rxtxPageCount?: number;
  /** D14: ep_mem_offset written at ≥1.1 (the fix: 48, right after the header). */
  emadOffset?: number;
  /** D10: FFA_RX_RELEASE after a count-only PARTITION_INFO_GET. */
  releaseAfterCountOnly?: boolean;
}

export interface HostDriverOptions {
  smc: SmcFn;
  mem: PhysMem;
  pageSize: 4096 | 16384 | 65536;
  /** Host-owned physical pages of pageSize; returns the PA. */
  allocPages: (count: number) => number;
  /** FFA_DRIVER_VERSION (default 1.2). */
  driverVersion?: VersionWord;
  quirks?: HostQuirks;
  trace?: TraceSink;
}

export type HostResult<T> =
  | { ok: true; value: T; regs: RegisterFile }
  | { ok: false; error: string; code?: number; regs: RegisterFile; detail?: string };

export interface MemSendOptions {
  receivers: { id: number; perm: 'RO' | 'RW' }[];
  constituents: { address: number | bigint; pageCount: number }[];
  tag?: bigint;
  flags?: number;
  /** Use the SMC64 function ID (Linux uses FFA_FN_NATIVE, the 64-bit ID on arm64). Default true. */
  smc64?: boolean;
}

/** What {@link HostDriver.snapshot} returns. */
export interface HostDriverSnapshot {
  readonly version: VersionWord | undefined;
  readonly tx: number;
  readonly rx: number;
  readonly rxtxBytes: number;
  readonly rxtxPages: number;
  readonly partitions: readonly PartitionInfo[];
  readonly lastResumes: number;
}

const PERM = { RO: 0x01, RW: 0x02 } as const;

export class HostDriver {
  private readonly o: HostDriverOptions;
  private readonly q: HostQuirks;
  /** Negotiated FF-A version (undefined until `negotiate`). */
  version: VersionWord | undefined;
  tx = 0;
  rx = 0;
  /** Buffer size in bytes and in 4 KiB pages. */
  rxtxBytes = 0;
  rxtxPages = 0;
  partitions: PartitionInfo[] = [];
  /** FFA_RUN resumes performed by the last direct request. */
  lastResumes = 0;
  /** Reused descriptor buffer (grown on demand): avoids an off-heap allocation per share. */
  private readonly out = new DescBuffer(4096);

  constructor(o: HostDriverOptions) {
    this.o = o;
    this.q = o.quirks ?? {};
  }

  /** The driver's state (negotiated version, buffers, partitions seen), for World.snapshot. */
  snapshot(): HostDriverSnapshot {
    return {
      version: this.version,
      tx: this.tx,
      rx: this.rx,
      rxtxBytes: this.rxtxBytes,
      rxtxPages: this.rxtxPages,
      partitions: [...this.partitions],
      lastResumes: this.lastResumes,
    };
  }

  /** Puts back a {@link snapshot}. */
  restore(s: HostDriverSnapshot): void {
    this.version = s.version;
    this.tx = s.tx;
    this.rx = s.rx;
    this.rxtxBytes = s.rxtxBytes;
    this.rxtxPages = s.rxtxPages;
    this.partitions = [...s.partitions];
    this.lastResumes = s.lastResumes;
  }

  /** Own FF-A endpoint ID (the host kernel under pKVM is endpoint 0). */
  get id(): number {
    return 0;
  }

  private call(values: readonly (number | bigint)[]): RegisterFile {
    const r = new RegisterFile();
    values.forEach((v, i) => {
      if (typeof v === 'bigint') r.setX(i, v);
      else r.setW(i, v);
    });
    return this.o.smc(r);
  }

  /** Maps an FFA_ERROR (or anything unexpected) answer to a failed result. */
  private fail<T>(regs: RegisterFile, detail?: string): HostResult<T> {
    if (regs.w(0) === FFA.ERROR) {
      const code = regs.w(2) | 0;
      return {
        ok: false,
        error: ffaErrorName(code) ?? `error(${code})`,
        code,
        regs,
        ...(detail ? { detail } : {}),
      };
    }
    return {
      ok: false,
      error: 'UNEXPECTED',
      regs,
      detail: detail ?? `unexpected answer x0=${regs.toHex()[0]}`,
    };
  }

  private note(text: string): void {
    this.o.trace?.emit({ kind: 'note', who: 'host', text });
  }

  private layout(): DescVersion {
    const m = versionMinor(this.version ?? FFA_VERSION_1_2);
    return m === 0 ? '1.0' : m === 1 ? '1.1' : '1.2';
  }

  /** `ffa_version_check` + `ffa_compatible_version_find`. */
  negotiate(): HostResult<{ version: VersionWord }> {
    const mine = this.o.driverVersion ?? FFA_VERSION_1_2;
    const r = this.call([FFA.VERSION, mine]);
    const fw = r.w(0);
    if ((fw | 0) === -1)
      return { ok: false, error: 'NOT_SUPPORTED', regs: r, detail: 'FFA_VERSION not supported' }; // D7 fix
    if (versionMajor(fw) !== versionMajor(mine))
      return { ok: false, error: 'INCOMPATIBLE', regs: r, detail: `firmware ${fw.toString(16)}` };
    // The older of the two wins (Linux ffa_compatible_version_find).
    this.version = versionMinor(fw) <= versionMinor(mine) ? fw : mine;
    this.note(
      `driver ${versionMajor(mine)}.${versionMinor(mine)}, firmware ${versionMajor(fw)}.${versionMinor(fw)}: using ${versionMajor(this.version)}.${versionMinor(this.version)}`,
    );
    return { ok: true, value: { version: this.version }, regs: r };
  }

  idGet(): HostResult<{ id: number }> {
    const r = this.call([FFA.ID_GET]);
    return r.w(0) === FFA.SUCCESS ? { ok: true, value: { id: r.w(2) & 0xffff }, regs: r } : this.fail(r);
  }

  features(fid: number, inputProps = 0): HostResult<{ w2: number; w3: number }> {
    const r = this.call([FFA.FEATURES, fid, inputProps]);
    return r.w(0) === FFA.SUCCESS ? { ok: true, value: { w2: r.w(2), w3: r.w(3) }, regs: r } : this.fail(r);
  }

  /** FEATURES(FFA_FN64_RXTX_MAP) for the minimum size, then FFA_FN64_RXTX_MAP of PAGE_SIZE-aligned buffers. */
  rxtxMap(): HostResult<{ tx: number; rx: number; pages: number }> {
    const f = this.features(FFA.RXTX_MAP64);
    let min = 4096;
    if (f.ok) min = [4096, 65536, 16384, 4096][f.value.w2 & 3]!;
    const bytes = Math.max(this.o.pageSize, min);
    const n = Math.ceil(bytes / this.o.pageSize);
    const tx = this.o.allocPages(n);
    const rx = this.o.allocPages(n);
    const pages = this.q.rxtxPageCount ?? bytes / 4096; // D13 fix: PAGE_SIZE/4K
    const r = this.call([FFA.RXTX_MAP64, BigInt(tx), BigInt(rx), pages]);
    if (r.w(0) !== FFA.SUCCESS) return this.fail(r);
    this.tx = tx;
    this.rx = rx;
    this.rxtxBytes = bytes;
    this.rxtxPages = pages;
    return { ok: true, value: { tx, rx, pages }, regs: r };
  }

  /** FFA_RXTX_UNMAP with w1 = 0 (upstream a4e8473b7751 dropped the ID argument). */
  rxtxUnmap(): HostResult<void> {
    const r = this.call([FFA.RXTX_UNMAP, 0]);
    if (r.w(0) !== FFA.SUCCESS) return this.fail(r);
    this.tx = 0;
    this.rx = 0;
    return { ok: true, value: undefined, regs: r };
  }

  /** Partition discovery: count-only query (≥1.1), then the full query, read RX, FFA_RX_RELEASE. */
  partitionInfo(uuid?: string): HostResult<PartitionInfo[]> {
    const u = uuid === undefined ? new Uint8Array(16) : uuidParse(uuid);
    if (u === undefined)
      return { ok: false, error: 'INVALID_UUID', regs: new RegisterFile(), detail: `not a UUID: ${uuid}` };
    const w = uuidToW4(u);
    const v = this.layout();
    if (v !== '1.0') {
      const c = this.call([FFA.PARTITION_INFO_GET, ...w, 1]);
      if (c.w(0) !== FFA.SUCCESS) return this.fail(c);
      if (this.q.releaseAfterCountOnly) this.call([FFA.RX_RELEASE]);
    }
    const r = this.call([FFA.PARTITION_INFO_GET, ...w, 0]);
    if (r.w(0) !== FFA.SUCCESS) return this.fail(r);
    const count = r.w(2);
    const size = v === '1.0' ? 8 : r.w(3);
    const span = count === 0 ? 0 : (count - 1) * size + (v === '1.0' ? 8 : 24);
    const buf = this.o.mem.read(this.rx, Math.min(span, this.rxtxBytes || this.o.pageSize));
    const p = parsePartitionInfo(buf, v, count, size);
    this.call([FFA.RX_RELEASE]);
    if (!p.ok) return { ok: false, error: 'MALFORMED', regs: r, detail: p.error.message };
    this.partitions = p.value;
    return { ok: true, value: p.value, regs: r };
  }

  memShare(o: MemSendOptions): HostResult<{ handle: bigint; fragments: number }> {
    return this.memSend(o, 'share');
  }

  memLend(o: MemSendOptions): HostResult<{ handle: bigint; fragments: number }> {
    return this.memSend(o, 'lend');
  }

  /** `ffa_setup_and_transmit`: build the descriptor in TX, first fragment, then FRAG_TX until SUCCESS. */
  private memSend(
    o: MemSendOptions,
    kind: 'share' | 'lend',
  ): HostResult<{ handle: bigint; fragments: number }> {
    if (this.tx === 0)
      return { ok: false, error: 'NO_TX', regs: new RegisterFile(), detail: 'RXTX not mapped' };
    const v = this.layout();
    const emadSize = v === '1.0' ? 16 : (this.q.emadSize ?? (v === '1.2' ? 32 : 16));
    const init: MemTransactionInit = {
      version: v,
      sender: this.id,
      attributes: kind === 'share' ? 0x2f : (this.q.lendAttributes ?? 0), // D3 fix: no attributes for LEND
      flags: o.flags ?? 0,
      tag: o.tag ?? 0n,
      receivers: o.receivers.map((r) => ({ endpointId: r.id, permissions: PERM[r.perm] })),
      constituents: o.constituents.map((c) => ({ address: BigInt(c.address), pageCount: c.pageCount })),
      emadSize,
    };
    if (v !== '1.0' && this.q.emadOffset !== undefined) init.emadOffset = this.q.emadOffset; // not spread (hot)
    const tx = memTransaction(init);
    const bytes = writeMemTransaction(tx, this.out);
    const frags = fragmentDescriptor(bytes, this.rxtxBytes, constituentsOffset(tx));
    const smc64 = o.smc64 !== false;
    const fid =
      kind === 'share' ? (smc64 ? FFA.MEM_SHARE64 : FFA.MEM_SHARE) : smc64 ? FFA.MEM_LEND64 : FFA.MEM_LEND;
    this.o.mem.write(this.tx, frags[0]!);
    let r = this.call([fid, bytes.length, frags[0]!.length, 0, 0]);
    let sent = frags[0]!.length;
    let i = 1;
    for (;;) {
      while (r.w(0) === FFA.MEM_OP_PAUSE) r = this.call([FFA.MEM_OP_RESUME, r.w(1), r.w(2)]);
      // ffa_mem_first_frag / ffa_mem_next_frag accept only FFA_SUCCESS (SMC32) or FFA_MEM_FRAG_RX.
      if (r.w(0) === FFA.SUCCESS) {
        if (i < frags.length) return this.fail(r, 'SUCCESS before the last fragment');
        const handle = u64Of(r.w(2), r.w(3));
        if (frags.length > 1) this.note(`${kind} sent in ${frags.length} fragments`);
        return { ok: true, value: { handle, fragments: frags.length }, regs: r };
      }
      if (r.w(0) !== FFA.MEM_FRAG_RX) return this.fail(r);
      if (r.w(3) !== sent) return this.fail(r, `FRAG_RX offset ${r.w(3)} ≠ ${sent} bytes sent`);
      if (i >= frags.length) return this.fail(r, 'FRAG_RX after the last fragment');
      const f = frags[i++]!;
      this.o.mem.write(this.tx, f);
      r = this.call([FFA.MEM_FRAG_TX, r.w(1), r.w(2), f.length, 0]);
      sent += f.length;
    }
  }

  memReclaim(handle: bigint, flags = 0): HostResult<void> {
    const r = this.call([FFA.MEM_RECLAIM, lo32(handle), hi32(handle), flags]);
    return r.w(0) === FFA.SUCCESS ? { ok: true, value: undefined, regs: r } : this.fail(r);
  }

  /** DIRECT_REQ (32/64) from endpoint 0, following YIELD/INTERRUPT with FFA_RUN until DIRECT_RESP. */
  directReq(
    receiver: number,
    payload: readonly bigint[],
    o: { smc64?: boolean } = {},
  ): HostResult<{ payload: bigint[] }> {
    const smc64 = o.smc64 !== false;
    const fid = smc64 ? FFA.MSG_SEND_DIRECT_REQ64 : FFA.MSG_SEND_DIRECT_REQ;
    const args: (number | bigint)[] = [fid, (this.id << 16) | receiver, 0];
    for (let i = 0; i < 5; i++)
      args.push(smc64 ? (payload[i] ?? 0n) : Number((payload[i] ?? 0n) & 0xffff_ffffn));
    const r = this.complete(this.call(args));
    const want = smc64 ? FFA.MSG_SEND_DIRECT_RESP64 : FFA.MSG_SEND_DIRECT_RESP;
    if (r.w(0) !== want) return this.fail(r);
    return {
      ok: true,
      value: { payload: [3, 4, 5, 6, 7].map((i) => (smc64 ? r.x(i) : BigInt(r.w(i)))) },
      regs: r,
    };
  }

  /** True when FEATURES says DIRECT_REQ2 exists (Linux uses REQ2 only then). */
  supportsReq2(): boolean {
    return this.features(FFA.MSG_SEND_DIRECT_REQ2).ok;
  }

  /** DIRECT_REQ2 by UUID: x2/x3 UUID, x4–x17 payload. */
  directReq2(receiver: number, uuid: string, payload: readonly bigint[]): HostResult<{ payload: bigint[] }> {
    const u = uuidParse(uuid);
    if (u === undefined)
      return { ok: false, error: 'INVALID_UUID', regs: new RegisterFile(), detail: `not a UUID: ${uuid}` };
    const [lo, hi] = uuidToX2(u);
    const args: (number | bigint)[] = [FFA.MSG_SEND_DIRECT_REQ2, (this.id << 16) | receiver, lo, hi];
    for (let i = 0; i < 14; i++) args.push(payload[i] ?? 0n);
    const r = this.complete(this.call(args));
    if (r.w(0) !== FFA.MSG_SEND_DIRECT_RESP2) return this.fail(r);
    const out: bigint[] = [];
    for (let i = 4; i < 18; i++) out.push(r.x(i));
    return { ok: true, value: { payload: out }, regs: r };
  }

  /** `ffa_msg_send_wait_for_completion`: FFA_YIELD / FFA_INTERRUPT → FFA_RUN(target info). */
  private complete(first: RegisterFile): RegisterFile {
    let r = first;
    this.lastResumes = 0;
    while ((r.w(0) === FFA.YIELD || r.w(0) === FFA.INTERRUPT) && this.lastResumes < 1000) {
      this.lastResumes++;
      r = this.call([FFA.RUN, r.w(1)]);
    }
    return r;
  }

  /** Any SMC, for scenarios and the fuzzer. */
  raw(regs: RegisterFile | readonly (bigint | number)[]): RegisterFile {
    return this.o.smc(regs instanceof RegisterFile ? regs.clone() : RegisterFile.of(regs));
  }
}
