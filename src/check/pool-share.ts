/**
 * The fuzzer's `big` share (H6: more constituents than ffa_desc_buf holds): `n` one-page constituents walking
 * the host page pool. Building its ~37 KB descriptor from 2 300 bigint constituents cost the fuzz loop about a
 * sixth of its time (measured); the bytes for `n` constituents are the bytes for more constituents cut after the
 * n-th, with the composite's two counts set to `n`. So one descriptor per (pool, page size, layout) is built and
 * each call copies a prefix of it — byte for byte what {@link buildMemTransaction} gives
 * (test/check/incremental.test.ts compares them).
 */
import { buildMemTransaction, memTransaction } from '../ffa/desc/index.ts';
import type { DescVersion } from '../ffa/desc/types.ts';

/** Constituents the template holds (the fuzzer draws 2 200–2 400; more are built directly). */
const TEMPLATE_N = 2400;

const templates = new Map<string, { bytes: Uint8Array; head: number }>();

function build(pool: number, poolPages: number, ps: number, version: DescVersion, n: number) {
  const tx = memTransaction({
    version,
    sender: 0,
    attributes: 0x2f,
    receivers: [{ endpointId: 0x8001, permissions: 2 }],
    constituents: Array.from({ length: n }, (_, i) => ({
      address: BigInt(pool + (i % poolPages) * ps),
      pageCount: ps / 4096,
    })),
  });
  return { bytes: buildMemTransaction(tx), head: (tx.emads[0]?.compositeOffset ?? 0) + 16 };
}

/**
 * The descriptor of a share of `n` constituents `pool + (i mod poolPages) × ps` (one kernel page each) to
 * partition 0x8001 (RW), and the offset of its first constituent. The bytes are the caller's to keep.
 */
export function poolShareDescriptor(
  pool: number,
  poolPages: number,
  ps: number,
  version: DescVersion,
  n: number,
): { bytes: Uint8Array; head: number } {
  if (n > TEMPLATE_N) return build(pool, poolPages, ps, version, n);
  const key = `${pool}:${poolPages}:${ps}:${version}`;
  let t = templates.get(key);
  if (t === undefined) {
    t = build(pool, poolPages, ps, version, TEMPLATE_N);
    templates.set(key, t);
  }
  const bytes = t.bytes.slice(0, t.head + 16 * n);
  const v = new DataView(bytes.buffer);
  const composite = t.head - 16;
  v.setUint32(composite, (n * ps) / 4096, true); // total_pg_cnt
  v.setUint32(composite + 4, n, true); // addr_range_cnt
  return { bytes, head: t.head };
}
