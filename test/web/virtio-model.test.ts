/**
 * The web view's virtio-msg model (web/src/model/virtio.ts) in Node: virtqueue areas and page-map labels derived
 * from the trace alone — the pages move with the world's memory map and page size, never hard-coded — and the
 * bytes pane's payload annotation (src/trace/virtio.ts `annotateVirtioPayload`).
 */
import { describe, expect, it } from 'vitest';
import { annotateVirtioPayload } from '../../src/trace/virtio.ts';
import { buildVirtioMsg, busAddress } from '../../src/virtio/index.ts';
import { pageRows } from '../../web/src/model/pages.ts';
import { indexTrace, matchingHop, type TraceIndex } from '../../web/src/model/trace-index.ts';
import {
  labelAt,
  labelCuts,
  tracePageSize,
  virtioAreas,
  virtioPageLabels,
  virtioTabs,
} from '../../web/src/model/virtio.ts';
import { runWhatIf } from '../../web/src/model/whatif.ts';

function trace(scenario: string, profile: string, world?: object): { text: string; ix: TraceIndex } {
  const r = runWhatIf(
    { scenario, ...(world === undefined ? {} : { world: JSON.stringify(world) }) },
    profile,
  );
  if (!r.ok) throw new Error(r.error);
  return { text: r.jsonl, ix: indexTrace(r.jsonl) };
}

/**
 * The pages of the memory share whose handle the AREA_SHARE of `areaId` names, read from the JSONL the plain
 * way (an independent path to the same fact): the AREA_SHARE hop's decoded text gives the handle, the host's
 * FFA_SUCCESS of a MEM_SHARE call carries it in x2, and that call's host page changes are the pages.
 */
function sharedPages(text: string, areaId: number): { addr: number; size: number }[] {
  const ev = text
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const share = ev.find(
    (e) =>
      e.kind === 'hop' &&
      e.from === 'host' &&
      String((e.virtio as { text?: string } | undefined)?.text).includes(`AREA_SHARE token`) &&
      String((e.virtio as { text: string }).text).includes(`area_id=${areaId} `),
  );
  const said = String((share?.virtio as { text?: string } | undefined)?.text);
  const handle = /mem_handle=(0x[0-9a-f]+)/.exec(said)?.[1] ?? 'none';
  const ret = ev.find(
    (e) =>
      e.kind === 'hop' &&
      e.to === 'host' &&
      e.name === 'FFA_SUCCESS' &&
      BigInt((e.regs as string[])[2]!) === BigInt(handle) &&
      ev.some((c) => c.call === e.call && c.kind === 'hop' && String(c.name).startsWith('FFA_MEM_SHARE')),
  );
  return ev
    .filter(
      (e) => e.kind === 'pages' && e.call === ret?.call && e.table === 'host' && e.to === 'SHARED_OWNED',
    )
    .map((e) => ({ addr: Number(e.addr), size: Number(e.pages) * Number(e.pageSize) }));
}

describe('virtio-msg areas and page labels', () => {
  const { text, ix } = trace('virtio-msg', 'ffa-1.2-direct-msg');
  const areas = virtioAreas(ix);
  const labels = virtioPageLabels(areas, tracePageSize(ix));

  it('finds area 1 (announced, two queues, unshared and reclaimed) and area 2 (refused, reclaimed)', () => {
    expect(areas.map((a) => [a.areaId, a.status, a.handle])).toEqual([
      [1, 'announced', 1n],
      [2, 'refused', 2n],
    ]);
    const [a1, a2] = areas as [(typeof areas)[0], (typeof areas)[0]];
    expect(a1.ranges).toEqual(sharedPages(text, 1));
    expect(a1.ranges.reduce((n, r) => n + r.size, 0)).toBe(4 * 4096);
    expect(a1.rings.map((r) => `vq${r.queue} ${r.what} +0x${r.offset.toString(16)} ${r.bytes}`)).toEqual([
      'vq0 desc +0x0 64',
      'vq0 avail +0x40 14',
      'vq0 used +0x50 38',
      'vq1 desc +0x800 64',
      'vq1 avail +0x840 14',
      'vq1 used +0x850 38',
    ]);
    expect(a1.rings.every((r) => r.resetSeq !== undefined && r.resetSeq > r.setSeq)).toBe(true);
    expect(a1.unshareSeq).toBeGreaterThan(a1.shareSeq);
    expect(a1.reclaimSeq).toBeGreaterThan(a1.unshareSeq!);
    expect(a2.why).toBe('ERROR NO_MEMORY');
    expect(a2.reclaimSeq).toBeGreaterThan(a2.shareSeq);
  });

  it('labels the ring page, the buffer pages and the refused area; rows split at the labels', () => {
    const base = areas[0]!.ranges[0]!.addr;
    expect(labels.map((l) => [l.addr - base, l.size, l.label])).toEqual([
      [0, 4096, 'virtio area 1: vq0 desc/avail/used, vq1 desc/avail/used, buffer space'],
      [4096, 3 * 4096, 'virtio area 1: buffer space'],
      [areas[1]!.ranges[0]!.addr - base, 4096, 'virtio area 2: AREA_SHARE refused (ERROR NO_MEMORY)'],
    ]);
    expect(labels[0]!.detail).toMatch(/vq0 desc \+0x0 \(64 B, set at #\d+, reset at #\d+\)/);
    expect(labels[1]!.detail).toMatch(/not in the trace/);
    const rows = pageRows(ix, { truncated: false }, labelCuts(labels));
    expect(rows.map((r) => [r.addr, r.size])).toEqual(
      expect.arrayContaining([
        [base, 4096],
        [base + 4096, 3 * 4096],
      ]),
    );
    // Without the split the area is one row (its pages share one history).
    expect(pageRows(ix).some((r) => r.addr === base && r.size === 4 * 4096)).toBe(true);
    // A label holds from AREA_SHARE to MEM_RECLAIM.
    const l = labels[0]!;
    expect(labelAt(labels, base, 4096, l.from - 1)).toBeUndefined();
    expect(labelAt(labels, base, 4096, l.from)?.label).toBe(l.label);
    expect(labelAt(labels, base, 4096, l.to! + 1)).toBeUndefined();
  });

  it('follows the world: RAM elsewhere moves the labels, 16 KiB pages make the area one page', () => {
    const moved = trace('virtio-msg', 'ffa-1.2-direct-msg', {
      ram: [{ base: 0x1_0000_0000, size: 0x8000_0000 }],
      guest: [{ base: 0x1_7000_0000, size: 0x10_0000 }],
    });
    const mAreas = virtioAreas(moved.ix);
    const mLabels = virtioPageLabels(mAreas, tracePageSize(moved.ix));
    expect(mAreas[0]!.ranges).toEqual(sharedPages(moved.text, 1));
    expect(mLabels[0]!.addr).toBeGreaterThanOrEqual(0x1_0000_0000);
    expect(mLabels.map((l) => l.label)).toEqual(labels.map((l) => l.label));
    const big = trace('virtio-msg', 'ffa-1.2-direct-msg', { pageSize: 16384 });
    expect(tracePageSize(big.ix)).toBe(16384);
    const bLabels = virtioPageLabels(virtioAreas(big.ix), 16384);
    expect(bLabels.map((l) => [l.size, l.label])).toEqual([
      [16384, 'virtio area 1: vq0 desc/avail/used, vq1 desc/avail/used, buffer space'],
      [16384, 'virtio area 2: AREA_SHARE refused (ERROR NO_MEMORY)'],
    ]);
  });

  it('no virtio-msg, or REQ2 refused: no area, no label', () => {
    expect(virtioAreas(trace('share-lend-reclaim', 'ffa-1.2').ix)).toEqual([]);
    expect(virtioAreas(trace('virtio-msg', 'ffa-1.2').ix)).toEqual([]);
  });

  it('bytes tabs: the request and the answer on the selected link, decoded from the registers', () => {
    const req = ix.hops.find(
      (i) => ix.names[ix.nameId[i]!] === 'FFA_MSG_SEND_DIRECT_REQ2 · virtio-msg SET_VQUEUE',
    )!;
    const tabs = virtioTabs(ix, req, matchingHop(ix, req));
    expect(tabs.map((t) => [t.title.replace(/#\d+/, '#'), t.ann.payload.kind])).toEqual([
      ['virtio-msg request host→hyp #', 'msg'],
      ['virtio-msg answer hyp→host #', 'msg'],
    ]);
    // The SPMC's call into the partition: the same exchange on its own link.
    const inner = ix.hops.find(
      (i) => i > req && ix.components[ix.to[i]!]!.startsWith('sp:') && ix.dir[i] === 0,
    )!;
    expect(virtioTabs(ix, inner, matchingHop(ix, inner))[0]!.title).toMatch(
      /^virtio-msg request spmc→sp:0x8002/,
    );
    const busy = ix.hops.find((i) => ix.names[ix.nameId[i]!]!.endsWith('virtio-msg busy'))!;
    const bt = virtioTabs(ix, busy, matchingHop(ix, busy));
    expect(bt[1]?.ann.payload.kind).toBe('busy');
    expect(bt[1]?.ann.fields).toEqual([]);
  });
});

describe('annotateVirtioPayload', () => {
  const pad = (b: Uint8Array): Uint8Array => {
    const o = new Uint8Array(112);
    o.set(b);
    return o;
  };

  it('SET_VQUEUE: header, body fields at their offsets, bus addresses as area + offset', () => {
    const a = annotateVirtioPayload(
      pad(
        buildVirtioMsg({
          name: 'SET_VQUEUE',
          devNum: 1,
          token: 0xb,
          fields: {
            index: 1,
            size: 4,
            desc_addr: busAddress(1, 0x800),
            driver_addr: busAddress(1, 0x840),
            device_addr: busAddress(1, 0x850),
          },
        }),
      ),
    );
    expect(a.payload.kind).toBe('msg');
    expect(a.size).toBe(40);
    expect(
      a.fields.map((f) => `${f.offset}+${f.size} ${f.path}=${f.value}${f.note ? ` (${f.note})` : ''}`),
    ).toEqual([
      '0+1 header.type=0x0 (transport request)',
      '1+1 header.msg_id=0xa (SET_VQUEUE)',
      '2+2 header.dev_num=1',
      '4+2 header.token=0xb',
      '6+2 header.msg_size=40 (header + body)',
      '8+4 SET_VQUEUE.index=1',
      '12+4 SET_VQUEUE.size=4',
      '16+8 SET_VQUEUE.desc_addr=0x1000000000800 (area 1 + 0x800)',
      '24+8 SET_VQUEUE.driver_addr=0x1000000000840 (area 1 + 0x840)',
      '32+8 SET_VQUEUE.device_addr=0x1000000000850 (area 1 + 0x850)',
    ]);
  });

  it('EVENT_POLL with an embedded EVENT_USED; ERROR names the refused message', () => {
    const poll = annotateVirtioPayload(
      pad(
        buildVirtioMsg({
          name: 'EVENT_POLL',
          response: true,
          token: 0x10,
          fields: { pending: 2 },
          tail: { name: 'EVENT_USED', devNum: 1, fields: { index: 1 } },
        }),
      ),
    );
    expect(poll.fields.map((f) => f.path)).toContain('EVENT_POLL.event.EVENT_USED.index');
    expect(poll.fields.find((f) => f.path === 'EVENT_POLL.event.header.msg_id')?.note).toBe('EVENT_USED');
    const err = annotateVirtioPayload(
      pad(buildVirtioMsg({ name: 'ERROR', token: 0x12, fields: { error: 4, msg_type: 2, msg_id: 0x81 } })),
    );
    expect(err.fields.find((f) => f.path === 'ERROR.error')?.note).toBe('NO_MEMORY');
    expect(err.fields.find((f) => f.path === 'ERROR.msg_id')?.note).toBe('AREA_SHARE');
    expect(err.fields[0]?.note).toBe('bus message');
  });

  it('busy has no fields; a bad msg_size is a located error; a reserved field set is flagged', () => {
    expect(annotateVirtioPayload(new Uint8Array(112))).toEqual({
      payload: { kind: 'busy' },
      size: 0,
      fields: [],
    });
    const bad = pad(buildVirtioMsg({ name: 'GET_DEVICE_STATUS', devNum: 1, token: 1 }));
    bad[6] = 200;
    const a = annotateVirtioPayload(bad);
    expect(a.payload.kind).toBe('error');
    expect(a.error?.code).toBe('VMSG_SIZE_RANGE');
    expect(a.error?.at).toMatchObject({ kind: 'bytes', offset: 6, size: 2 });
    expect(a.fields.slice(0, 5).map((f) => f.path)).toEqual([
      'header.type',
      'header.msg_id',
      'header.dev_num',
      'header.token',
      'header.msg_size',
    ]);
    const rsv = pad(buildVirtioMsg({ name: 'AREA_UNSHARE', token: 2, fields: { area_id: 1 } }));
    rsv[10] = 1;
    const r = annotateVirtioPayload(rsv);
    expect(r.error?.code).toBe('VMSG_RESERVED');
    expect(r.fields.find((f) => f.path === 'AREA_UNSHARE.reserved')?.mbzViolation).toBe(true);
  });
});
