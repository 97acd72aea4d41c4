/**
 * virtio-msg in a trace, for the page map and the bytes pane (docs/virtio-msg.md, docs/view.md). DOM-free.
 *
 * The virtqueue areas are derived from the trace alone, never from addresses the view knows: an FFA_MEM_SHARE
 * (or LEND) the host call answers with a handle gives the handle's pages — the host stage-2 changes of that call,
 * in the order the proxy moved them (the constituent order), which is the area's offset order; a virtio-msg
 * AREA_SHARE in a DIRECT_REQ2 names the area ID and that handle; SET_VQUEUE gives each ring's bus address,
 * `area_id << 48 | offset`, and the queue size its length (virtio 1.2 §2.7). AREA_UNSHARE and MEM_RECLAIM end an
 * area. Where the driver put its buffers is not on the wire (the descriptor table in the shared memory holds
 * their addresses), so the pages of an area that hold no ring are labelled "buffer space".
 */
import { RegisterFile } from '../../../src/smccc/regs.ts';
import {
  annotateVirtioPayload,
  type VirtioAnnotated,
  type VirtioPayload,
  virtioPayload,
} from '../../../src/trace/virtio.ts';
import {
  availRingBytes,
  descTableBytes,
  payloadBytes,
  splitBusAddress,
  usedRingBytes,
  vmsgErrorName,
} from '../../../src/virtio/index.ts';
import { callInfo, eventAt, findHop, type PageChange, type TraceIndex } from './trace-index.ts';

const FFA_SUCCESS_32 = 0x84000061;
const FFA_SUCCESS_64 = 0xc4000061;
const FFA_ERROR = 0x84000060;

/** The register file of hop `i` (undefined when its `regs` are not 18 hex strings). */
export function hopRegs(ix: TraceIndex, i: number | undefined): RegisterFile | undefined {
  if (i === undefined) return undefined;
  const r = eventAt(ix, i).regs;
  if (!Array.isArray(r) || r.length !== 18) return undefined;
  try {
    return RegisterFile.of(r.map((x) => BigInt(String(x))));
  } catch {
    return undefined;
  }
}

/** One ring of a virtqueue inside an area. */
export interface RingPart {
  devNum: number;
  queue: number;
  what: 'desc' | 'avail' | 'used';
  /** Offset in the area and length in bytes. */
  offset: number;
  bytes: number;
  /** Seq of the SET_VQUEUE host call, and of the RESET_VQUEUE that ended it (if any). */
  setSeq: number;
  resetSeq?: number;
}

/** A virtio-msg area as the trace shows it. */
export interface VirtioArea {
  areaId: number;
  handle: bigint;
  pageCount: number;
  /** `announced` (AREA_SHARE answered), `refused` (an ERROR answer), `failed` (REQ2 not delivered), `pending`. */
  status: 'announced' | 'refused' | 'failed' | 'pending';
  /** Why it was refused or failed (`ERROR NO_MEMORY`, `FFA_ERROR NOT_SUPPORTED`). */
  why?: string;
  /** Seq of the AREA_SHARE host call's first hop. */
  shareSeq: number;
  /** Seq of AREA_UNSHARE (answered) and of the MEM_RECLAIM of its handle (succeeded), when they happen. */
  unshareSeq?: number;
  reclaimSeq?: number;
  /** The handle's physical ranges in area-offset order (from the MEM_SHARE's host page changes). */
  ranges: { addr: number; size: number }[];
  rings: RingPart[];
}

/** A label over physical pages of an area, for the page map. */
export interface PageLabel {
  addr: number;
  size: number;
  /** Short label (`virtio area 1: vq0 desc/avail/used, vq1 desc/avail/used, buffer space`). */
  label: string;
  /** The long form for the tooltip and the text alternative. */
  detail: string;
  areaId: number;
  /** Seqs the label holds between (AREA_SHARE to AREA_UNSHARE / MEM_RECLAIM; `to` undefined: the trace end). */
  from: number;
  to?: number;
}

const MEM_SEND = /^FFA_(FN64_)?MEM_(SHARE|LEND)/;

/** Handles of successful memory sends → the host page changes that made them, in event order. */
function handlePages(ix: TraceIndex): Map<bigint, PageChange[]> {
  const byCall = new Map<number, PageChange[]>();
  for (const p of ix.pages) {
    if (p.table !== 'host' || (p.to !== 'SHARED_OWNED' && p.to !== 'NOPAGE')) continue;
    const c = ix.call[p.event]!;
    const l = byCall.get(c) ?? [];
    l.push(p);
    byCall.set(c, l);
  }
  const out = new Map<bigint, PageChange[]>();
  let pending: PageChange[] = [];
  for (const info of ix.calls) {
    const head = MEM_SEND.test(info.name);
    const frag = /FRAG_TX/.test(info.name);
    if (!head && !frag) continue;
    if (head) pending = [];
    pending = pending.concat(byCall.get(info.call) ?? []);
    if (info.status !== 'SUCCESS') continue;
    const ret = hopRegs(ix, findHop(ix, info.call, 'hyp', 'host', 1, true));
    if (ret === undefined) continue;
    const x0 = ret.w(0);
    if (x0 !== FFA_SUCCESS_32 && x0 !== FFA_SUCCESS_64) continue;
    out.set(BigInt(ret.w(2)) | (BigInt(ret.w(3)) << 32n), pending);
    pending = [];
  }
  return out;
}

function ranges(pages: PageChange[] | undefined): { addr: number; size: number }[] {
  const out: { addr: number; size: number }[] = [];
  for (const p of pages ?? []) {
    const last = out[out.length - 1];
    if (last !== undefined && last.addr + last.size === p.addr) last.size += p.size;
    else out.push({ addr: p.addr, size: p.size });
  }
  return out;
}

/** The virtio-msg request and answer of a DIRECT_REQ2 host call, as the host sent and received them. */
export function hostVirtio(
  ix: TraceIndex,
  call: number,
): { req?: VirtioPayload; resp?: VirtioPayload; x0?: number; x2?: number; seq: number } | undefined {
  const info = callInfo(ix, call);
  if (info === undefined || !info.name.startsWith('FFA_MSG_SEND_DIRECT_REQ2')) return undefined;
  const callHop = findHop(ix, call, 'host', 'hyp', 0);
  const c = hopRegs(ix, callHop);
  if (c === undefined || callHop === undefined) return undefined;
  const req = virtioPayload(c);
  if (req === undefined) return undefined;
  const r = hopRegs(ix, findHop(ix, call, 'hyp', 'host', 1, true));
  const resp = r === undefined ? undefined : virtioPayload(r, c);
  return {
    req,
    ...(resp === undefined ? {} : { resp }),
    ...(r === undefined ? {} : { x0: r.w(0), x2: r.w(2) | 0 }),
    seq: ix.seq[callHop]!,
  };
}

/** Every virtio-msg area of the trace, in AREA_SHARE order. */
export function virtioAreas(ix: TraceIndex): VirtioArea[] {
  const areas: VirtioArea[] = [];
  const live = new Map<number, VirtioArea>();
  let handles: Map<bigint, PageChange[]> | undefined;
  const byHandle = (h: bigint): VirtioArea | undefined => {
    for (let k = areas.length - 1; k >= 0; k--) if (areas[k]!.handle === h) return areas[k];
    return undefined;
  };
  for (const info of ix.calls) {
    if (/^FFA_MEM_RECLAIM/.test(info.name) && info.status === 'SUCCESS') {
      const c = hopRegs(ix, findHop(ix, info.call, 'host', 'hyp', 0));
      const a = c === undefined ? undefined : byHandle(BigInt(c.w(1)) | (BigInt(c.w(2)) << 32n));
      if (a !== undefined && a.reclaimSeq === undefined) a.reclaimSeq = ix.seq[info.first]!;
      continue;
    }
    const v = hostVirtio(ix, info.call);
    if (v?.req?.kind !== 'msg') continue;
    const m = v.req.msg;
    const answer = v.resp?.kind === 'msg' ? v.resp.msg : undefined;
    if (m.name === 'AREA_SHARE' && !m.response) {
      handles ??= handlePages(ix);
      const id = Number(m.fields.area_id);
      const handle = BigInt(m.fields.mem_handle ?? 0n);
      let a = live.get(id);
      // A retry after busy is the same AREA_SHARE: keep the area; anything else starts a new one.
      if (a === undefined || a.status !== 'pending' || a.handle !== handle) {
        a = {
          areaId: id,
          handle,
          pageCount: Number(m.fields.page_count),
          status: 'pending',
          shareSeq: v.seq,
          ranges: ranges(handles.get(handle)),
          rings: [],
        };
        areas.push(a);
        live.set(id, a);
      }
      if (answer?.name === 'AREA_SHARE' && answer.response) a.status = 'announced';
      else if (answer?.name === 'ERROR') {
        a.status = 'refused';
        a.why = `ERROR ${vmsgErrorName(Number(answer.fields.error)) ?? String(answer.fields.error)}`;
      } else if (v.x0 === FFA_ERROR) {
        a.status = 'failed';
        a.why = `FFA_ERROR ${v.x2}`;
      }
    } else if (m.name === 'AREA_UNSHARE' && answer?.name === 'AREA_UNSHARE') {
      const a = live.get(Number(m.fields.area_id));
      if (a !== undefined) {
        a.unshareSeq ??= v.seq;
        live.delete(a.areaId);
      }
    } else if (m.name === 'SET_VQUEUE' && answer?.name === 'SET_VQUEUE') {
      const size = Number(m.fields.size);
      const parts: [RingPart['what'], string, number][] = [
        ['desc', 'desc_addr', descTableBytes(size)],
        ['avail', 'driver_addr', availRingBytes(size)],
        ['used', 'device_addr', usedRingBytes(size)],
      ];
      for (const [what, field, bytes] of parts) {
        const { areaId, offset } = splitBusAddress(BigInt(m.fields[field] ?? 0n));
        const a = live.get(areaId);
        if (a === undefined) continue;
        a.rings.push({
          devNum: m.devNum,
          queue: Number(m.fields.index),
          what,
          offset: Number(offset),
          bytes,
          setSeq: v.seq,
        });
      }
    } else if (m.name === 'RESET_VQUEUE' && answer?.name === 'RESET_VQUEUE') {
      for (const a of live.values())
        for (const r of a.rings)
          if (r.devNum === m.devNum && r.queue === Number(m.fields.index) && r.resetSeq === undefined)
            r.resetSeq = v.seq;
    }
  }
  return areas;
}

/** The physical address of byte `offset` of an area (undefined past its ranges). */
function physAt(a: VirtioArea, offset: number): number | undefined {
  let o = offset;
  for (const r of a.ranges) {
    if (o < r.size) return r.addr + o;
    o -= r.size;
  }
  return undefined;
}

const hx = (n: number): string => `0x${n.toString(16)}`;

/** `vq0 desc/avail/used` (or the parts there are) for each queue with a ring in `rings`. */
function ringSummary(rings: readonly RingPart[]): string {
  const q = new Map<string, string[]>();
  for (const r of rings) {
    const k = `${r.devNum}:${r.queue}`;
    const l = q.get(k) ?? [];
    if (!l.includes(r.what)) l.push(r.what);
    q.set(k, l);
  }
  const devs = new Set(rings.map((r) => r.devNum));
  return [...q.entries()]
    .map(([k, parts]) => {
      const [dev, queue] = k.split(':');
      const order = ['desc', 'avail', 'used'].filter((p) => parts.includes(p));
      return `${devs.size > 1 ? `dev ${dev} ` : ''}vq${queue} ${order.join('/')}`;
    })
    .join(', ');
}

/**
 * Labels for the page map: per area, each run of pages with the same contents — the rings that lie in them
 * (`vq0 desc/avail/used`), and "buffer space" for the rest; a refused or failed area is one label.
 */
export function virtioPageLabels(areas: readonly VirtioArea[], pageSize: number): PageLabel[] {
  const out: PageLabel[] = [];
  for (const a of areas) {
    const total = a.ranges.reduce((n, r) => n + r.size, 0);
    if (total === 0) continue;
    const to = a.reclaimSeq ?? a.unshareSeq;
    const span = { from: a.shareSeq, ...(to === undefined ? {} : { to }) };
    const head = `virtio area ${a.areaId}`;
    const devs = [...new Set(a.rings.map((r) => r.devNum))];
    const about = `handle ${hx(Number(a.handle))}, ${a.pageCount} page(s)${devs.length ? `, dev ${devs.join(', ')}` : ''}`;
    if (a.status !== 'announced') {
      const what =
        a.status === 'pending' ? 'AREA_SHARE not answered' : `AREA_SHARE ${a.status} (${a.why ?? '?'})`;
      for (const r of a.ranges)
        out.push({
          addr: r.addr,
          size: r.size,
          label: `${head}: ${what}`,
          detail: `${head} (${about}): ${what}${a.reclaimSeq === undefined ? '' : `; reclaimed at #${a.reclaimSeq}`}`,
          areaId: a.areaId,
          ...span,
        });
      continue;
    }
    // Page by page: the rings that overlap it; consecutive pages with the same rings (and contiguous) merge.
    let cur: PageLabel | undefined;
    for (let off = 0; off < total; off += pageSize) {
      const here = a.rings.filter((r) => r.offset < off + pageSize && r.offset + r.bytes > off);
      const covered = here.reduce(
        (n, r) => n + Math.min(off + pageSize, r.offset + r.bytes) - Math.max(off, r.offset),
        0,
      );
      const parts = [here.length ? ringSummary(here) : '', covered < pageSize ? 'buffer space' : '']
        .filter((x) => x !== '')
        .join(', ');
      const label = `${head}: ${parts}`;
      const addr = physAt(a, off);
      if (addr === undefined) break;
      if (cur !== undefined && cur.label === label && cur.addr + cur.size === addr) {
        cur.size += pageSize;
        continue;
      }
      const rings = here
        .map(
          (r) =>
            `${devs.length > 1 ? `dev ${r.devNum} ` : ''}vq${r.queue} ${r.what} +${hx(r.offset)} (${r.bytes} B, set at #${r.setSeq}${r.resetSeq === undefined ? '' : `, reset at #${r.resetSeq}`})`,
        )
        .join('; ');
      cur = {
        addr,
        size: pageSize,
        label,
        detail: `${head} (${about}) +${hx(off)}: ${rings || 'no ring'}${covered < pageSize ? '; buffer space: where the driver puts its buffers (their addresses are in the descriptor table, not in the trace)' : ''}`,
        areaId: a.areaId,
        ...span,
      };
      out.push(cur);
    }
  }
  return out;
}

/** Addresses where page-map rows must split so each label covers whole rows. */
export function labelCuts(labels: readonly PageLabel[]): number[] {
  const out = new Set<number>();
  for (const l of labels) {
    out.add(l.addr);
    out.add(l.addr + l.size);
  }
  return [...out];
}

/** The label of the range [addr, addr+size) in force at `seq`, if any. */
export function labelAt(
  labels: readonly PageLabel[],
  addr: number,
  size: number,
  seq: number,
): PageLabel | undefined {
  for (let k = labels.length - 1; k >= 0; k--) {
    const l = labels[k]!;
    if (
      l.addr < addr + size &&
      addr < l.addr + l.size &&
      seq >= l.from &&
      (l.to === undefined || seq <= l.to)
    )
      return l;
  }
  return undefined;
}

/** The trace's page size (header `world.pageSize`, else 4096). */
export function tracePageSize(ix: TraceIndex): number {
  const w = ix.header?.world as { pageSize?: unknown } | undefined;
  return typeof w?.pageSize === 'number' && w.pageSize > 0 ? w.pageSize : 4096;
}

/** A bytes-pane tab of a virtio-msg payload. */
export interface VirtioTab {
  title: string;
  bytes: Uint8Array;
  ann: VirtioAnnotated;
  /** True for the answer (RESP2), false for the request (REQ2). */
  response: boolean;
}

/**
 * The virtio-msg payloads of the selected hop's exchange: the request and its answer on the selected link (the
 * hop and the one it pairs with), or — when the selected hop carries none — the host's call and answer.
 */
export function virtioTabs(ix: TraceIndex, sel: number, match: number | undefined): VirtioTab[] {
  const pair = (callHop: number | undefined, retHop: number | undefined): VirtioTab[] => {
    const c = hopRegs(ix, callHop);
    if (c === undefined || callHop === undefined || virtioPayload(c) === undefined) return [];
    const tabs: VirtioTab[] = [];
    const link = (i: number): string =>
      `${ix.components[ix.from[i]!]}→${ix.components[ix.to[i]!]} #${ix.seq[i]}`;
    const cb = payloadBytes(c);
    tabs.push({
      title: `virtio-msg request ${link(callHop)}`,
      bytes: cb,
      ann: annotateVirtioPayload(cb),
      response: false,
    });
    const r = hopRegs(ix, retHop);
    if (r !== undefined && retHop !== undefined && virtioPayload(r, c) !== undefined) {
      const rb = payloadBytes(r);
      tabs.push({
        title: `virtio-msg answer ${link(retHop)}`,
        bytes: rb,
        ann: annotateVirtioPayload(rb),
        response: true,
      });
    }
    return tabs;
  };
  if (sel < 0 || sel >= ix.n) return [];
  const isRet = ix.dir[sel] === 1;
  const mine = isRet ? pair(match, sel) : pair(sel, match);
  if (mine.length > 0) return mine;
  const call = ix.call[sel]!;
  return pair(findHop(ix, call, 'host', 'hyp', 0), findHop(ix, call, 'hyp', 'host', 1, true));
}
