/**
 * The secure world's decisions (src/spmc/rules.ts): every rejection or special answer of the SPMC and SPMD names
 * a rule with a reason and a source in the trace; decisions only observe (answers are the same without a trace);
 * every rule is documented in docs/trace-format.md.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildMemTransaction, memTransaction } from '../../src/ffa/desc/index.ts';
import { ffaErrorName } from '../../src/ffa/errors.ts';
import { FFA } from '../../src/ffa/ids.ts';
import { PhysMem } from '../../src/mem/phys.ts';
import { RegisterFile } from '../../src/smccc/regs.ts';
import { SECURE_RULES, type SecureRuleId, SPMC, type SPMCOptions, SPMD } from '../../src/spmc/index.ts';
import type { PartitionContext } from '../../src/spmc/types.ts';
import { TraceBus, type TraceEvent } from '../../src/trace/events.ts';

const U1 = '40ee25f0-a2bc-304c-8c4c-a173c57d8af1';
const TX = 0x8000_0000;
const RX = 0x8000_1000;
type Decision = Extract<TraceEvent, { kind: 'decision' }>;

function secure(o: Partial<SPMCOptions> = {}, traced = true) {
  const mem = new PhysMem();
  const trace = traced ? new TraceBus() : undefined;
  const spmc = new SPMC({
    mem,
    partitions: [{ id: 0x8001, uuids: [U1], properties: 0x70f, execContexts: 1 }],
    ...(trace ? { trace } : {}),
    ...o,
  });
  const spmd = new SPMD({ spmc, ...(trace ? { trace } : {}) });
  const decisions: Decision[][] = [];
  const call = (v: (number | bigint)[]): RegisterFile => {
    const before = trace?.events.length ?? 0;
    const r = spmd.smc(RegisterFile.of(v));
    decisions.push((trace?.events ?? []).slice(before).filter((e): e is Decision => e.kind === 'decision'));
    return r;
  };
  /** Decisions of the last call. */
  const last = (): Decision[] => decisions[decisions.length - 1] ?? [];
  return { mem, spmc, call, last, trace };
}

function shareDesc(receiver = 0x8001, sender = 0): Uint8Array {
  return buildMemTransaction(
    memTransaction({
      version: '1.2',
      sender,
      attributes: 0x2f,
      receivers: [{ endpointId: receiver, permissions: 2 }],
      constituents: [{ address: 0x9000_0000n, pageCount: 1 }],
    }),
  );
}

/** Hypervisor retrieve request for `handle` (1.2 header, EMAD count 0). */
function hypRetrieve(handle: bigint, count = 0): Uint8Array {
  const b = new Uint8Array(48);
  const v = new DataView(b.buffer);
  v.setBigUint64(8, handle, true);
  v.setUint32(28, count, true);
  return b;
}

describe('SPMC decisions: reclaim of an unknown handle', () => {
  it('names spmc/reclaim/unknown-handle with its reason and source, actor spmc', () => {
    const s = secure();
    s.call([FFA.VERSION, 0x10002]);
    const r = s.call([FFA.MEM_RECLAIM, 0x1234, 0, 0]);
    expect(r.w(0)).toBe(FFA.ERROR);
    expect(ffaErrorName(r.w(2))).toBe('INVALID_PARAMETERS');
    expect(s.last()).toHaveLength(1);
    const d = s.last()[0]!;
    expect(d).toMatchObject({
      actor: 'spmc',
      action: 'reject',
      rule: 'spmc/reclaim/unknown-handle',
      change: 'base',
    });
    expect(d.text).toMatch(/^handle 0x1234 is not a transaction this SPMC holds .* → INVALID_PARAMETERS$/);
    expect(d.source).toMatch(/FF-A v1\.0 §11\.7/);
    expect(d.source).toMatch(/Hafnium ffa_memory_reclaim/);
    expect(d.source).toMatch(/abi\.md §9\.5 #23/);
  });
});

describe('SPMC decisions: one rule per rejection or special answer', () => {
  /** [rule, answer code or undefined for a special answer, SPMC options, calls (the last one is checked)]. */
  type Case = [
    SecureRuleId,
    string | undefined,
    Partial<SPMCOptions>,
    (s: ReturnType<typeof secure>) => void,
  ];
  const mapped = (s: ReturnType<typeof secure>): void => {
    s.call([FFA.VERSION, 0x10002]);
    s.call([FFA.RXTX_MAP64, TX, RX, 1]);
  };
  const shared = (s: ReturnType<typeof secure>): bigint => {
    mapped(s);
    const b = shareDesc();
    s.mem.write(TX, b);
    const r = s.call([FFA.MEM_SHARE64, b.length, b.length]);
    return (BigInt(r.w(3)) << 32n) | BigInt(r.w(2));
  };
  const cases: Case[] = [
    ['spmd/not-ffa', 'SMCCC NOT_SUPPORTED', {}, (s) => s.call([0x8400_0000])],
    ['spmd/el3-intr-handle', 'NOT_SUPPORTED', {}, (s) => s.call([FFA.EL3_INTR_HANDLE])],
    ['spmc/dispatch/unknown-fid', 'NOT_SUPPORTED', {}, (s) => s.call([0x8400_00f0])],
    [
      'spmc/dispatch/newer-than-caller',
      'NOT_SUPPORTED',
      {},
      (s) => {
        s.call([FFA.VERSION, 0x10000]);
        s.call([FFA.SPM_ID_GET]);
      },
    ],
    ['spmc/dispatch/not-at-nsp', 'NOT_SUPPORTED', {}, (s) => s.call([FFA.MSG_WAIT])],
    ['spmc/relinquish/not-at-nsp', 'NOT_SUPPORTED', {}, (s) => s.call([FFA.MEM_RELINQUISH])],
    ['spmc/rx-acquire/no-vms', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.RX_ACQUIRE])],
    ['spmc/version/bit31', 'NOT_SUPPORTED', {}, (s) => s.call([FFA.VERSION, 0x8001_0002])],
    ['spmc/version/incompatible', 'NOT_SUPPORTED', {}, (s) => s.call([FFA.VERSION, 0x20000])],
    [
      'spmc/version/incompatible-own',
      undefined,
      { versionLock: 'none' },
      (s) => s.call([FFA.VERSION, 0x20000]),
    ],
    [
      'spmc/version/locked-differs',
      'NOT_SUPPORTED',
      {},
      (s) => {
        s.call([FFA.VERSION, 0x10002]);
        s.call([FFA.ID_GET]);
        s.call([FFA.VERSION, 0x10001]);
      },
    ],
    [
      'spmc/version/locked-same',
      undefined,
      {},
      (s) => {
        s.call([FFA.VERSION, 0x10002]);
        s.call([FFA.ID_GET]);
        s.call([FFA.VERSION, 0x10002]);
      },
    ],
    [
      'spmc/version/locked-tfa',
      undefined,
      { versionLock: 'tfa' },
      (s) => {
        s.call([FFA.VERSION, 0x10001]);
        s.call([FFA.ID_GET]);
        s.call([FFA.VERSION, 0x10002]);
      },
    ],
    ['spmc/features/not-implemented', 'NOT_SUPPORTED', {}, (s) => s.call([FFA.FEATURES, FFA.MSG_WAIT])],
    ['spmc/features/feature-id-unsupported', 'NOT_SUPPORTED', {}, (s) => s.call([FFA.FEATURES, 1])],
    ['spmc/rxtx-map/forwarding-form', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.RXTX_MAP64, 0, 0, 0])],
    ['spmc/rxtx-map/page-count', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.RXTX_MAP64, TX, RX, 0])],
    ['spmc/rxtx-map/w3-mbz', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.RXTX_MAP64, TX, RX, 0x41])],
    ['spmc/rxtx-map/alignment', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.RXTX_MAP64, TX + 8, RX, 1])],
    ['spmc/rxtx-map/overlap', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.RXTX_MAP64, TX, TX, 1])],
    [
      'spmc/rxtx-map/already-mapped',
      'DENIED',
      {},
      (s) => {
        mapped(s);
        s.call([FFA.RXTX_MAP64, TX, RX, 1]);
      },
    ],
    ['spmc/rxtx-unmap/not-mapped', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.RXTX_UNMAP])],
    ['spmc/rx-release/not-owned', 'DENIED', {}, (s) => s.call([FFA.RX_RELEASE])],
    [
      'spmc/part-info/unknown-uuid',
      'INVALID_PARAMETERS',
      {},
      (s) => s.call([FFA.PARTITION_INFO_GET, 1, 2, 3, 4]),
    ],
    ['spmc/part-info/no-rx', 'DENIED', {}, (s) => s.call([FFA.PARTITION_INFO_GET])],
    [
      'spmc/part-info/rx-busy',
      'BUSY',
      {},
      (s) => {
        mapped(s);
        s.call([FFA.PARTITION_INFO_GET]);
        s.call([FFA.PARTITION_INFO_GET]);
      },
    ],
    ['spmc/part-info-regs/tag', 'RETRY', {}, (s) => s.call([FFA.PARTITION_INFO_GET_REGS, 0, 0, 0x10000])],
    [
      'spmc/part-info-regs/start-index',
      'INVALID_PARAMETERS',
      {},
      (s) => s.call([FFA.PARTITION_INFO_GET_REGS, 0, 0, 9]),
    ],
    [
      'spmc/direct/unknown-receiver',
      'INVALID_PARAMETERS',
      {},
      (s) => s.call([FFA.MSG_SEND_DIRECT_REQ64, 0x8009]),
    ],
    ['spmc/direct/sender', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.MSG_SEND_DIRECT_REQ64, 0x1_8001])],
    ['spmc/direct/w2-mbz', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.MSG_SEND_DIRECT_REQ64, 0x8001, 1])],
    [
      'spmc/direct/req2-unknown-uuid',
      'INVALID_PARAMETERS',
      {},
      (s) => {
        s.call([FFA.VERSION, 0x10002]);
        s.call([FFA.MSG_SEND_DIRECT_REQ2, 0x8001, 5, 6]);
      },
    ],
    [
      'spmc/direct/bad-response',
      'ABORTED',
      {
        partitions: [{ id: 0x8001, uuids: [U1], properties: 1, execContexts: 1, handler: (r) => r.clone() }],
      },
      (s) => s.call([FFA.MSG_SEND_DIRECT_REQ64, 0x8001]),
    ],
    [
      'spmc/direct/yield',
      undefined,
      {
        partitions: [
          {
            id: 0x8001,
            uuids: [U1],
            properties: 1,
            execContexts: 1,
            handler: (r) => r.clone().setX(0, BigInt(FFA.YIELD)),
          },
        ],
      },
      (s) => s.call([FFA.MSG_SEND_DIRECT_REQ64, 0x8001]),
    ],
    ['spmc/run/nothing-pending', 'DENIED', {}, (s) => s.call([FFA.RUN, 0x8001_0000])],
    ['spmc/run/unknown-partition', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.RUN, 0x8009_0000])],
    ['spmc/mem-send/no-tx', 'DENIED', {}, (s) => s.call([FFA.MEM_SHARE64, 112, 112])],
    [
      'spmc/mem-send/sender',
      'DENIED',
      {},
      (s) => {
        mapped(s);
        const b = shareDesc(0x8001, 0x8002);
        s.mem.write(TX, b);
        s.call([FFA.MEM_SHARE64, b.length, b.length]);
      },
    ],
    [
      'spmc/mem-send/receiver',
      'INVALID_PARAMETERS',
      {},
      (s) => {
        mapped(s);
        const b = shareDesc(0x8009);
        s.mem.write(TX, b);
        s.call([FFA.MEM_SHARE64, b.length, b.length]);
      },
    ],
    [
      'spmc/mem-send/not-exclusive',
      'DENIED',
      {},
      (s) => {
        shared(s);
        const b = shareDesc();
        s.mem.write(TX, b);
        s.call([FFA.MEM_SHARE64, b.length, b.length]);
      },
    ],
    [
      'spmc/mem-send/descriptor',
      'INVALID_PARAMETERS',
      {},
      (s) => {
        mapped(s);
        s.mem.write(TX, new Uint8Array(112).fill(0xff));
        s.call([FFA.MEM_SHARE64, 112, 112]);
      },
    ],
    ['spmc/frag-tx/unknown-handle', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.MEM_FRAG_TX, 7, 0, 16])],
    [
      'spmc/retrieve/unknown-handle',
      'INVALID_PARAMETERS',
      {},
      (s) => {
        mapped(s);
        s.mem.write(TX, hypRetrieve(0x1234n));
        s.call([FFA.MEM_RETRIEVE_REQ64, 48, 48]);
      },
    ],
    [
      'spmc/retrieve/borrower-request',
      'INVALID_PARAMETERS',
      {},
      (s) => {
        mapped(s);
        s.mem.write(TX, hypRetrieve(1n, 1));
        s.call([FFA.MEM_RETRIEVE_REQ64, 48, 48]);
      },
    ],
    [
      'spmc/retrieve/rx-busy',
      'BUSY',
      {},
      (s) => {
        const h = shared(s);
        s.mem.write(TX, hypRetrieve(h));
        s.call([FFA.MEM_RETRIEVE_REQ64, 48, 48]);
        s.call([FFA.MEM_RETRIEVE_REQ64, 48, 48]);
      },
    ],
    ['spmc/frag-rx/unknown-handle', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.MEM_FRAG_RX, 7, 0, 0])],
    ['spmc/reclaim/flags', 'INVALID_PARAMETERS', {}, (s) => s.call([FFA.MEM_RECLAIM, 1, 0, 4])],
    [
      'spmc/reclaim/zeroed',
      undefined,
      {},
      (s) => {
        const h = shared(s);
        s.call([FFA.MEM_RECLAIM, Number(h), 0, 1]);
      },
    ],
    ['spmc/quirk/share-success64', undefined, { quirks: { shareSuccess64: true } }, (s) => void shared(s)],
    [
      'spmc/quirk/version-not-supported32',
      undefined,
      { quirks: { versionNotSupported32: true } },
      (s) => s.call([FFA.VERSION, 0x8000_0000]),
    ],
    ['spmc/notif/no-data', 'NO_DATA', {}, (s) => s.call([FFA.NOTIFICATION_INFO_GET])],
    ['spmc/notif/no-bitmap', 'DENIED', {}, (s) => s.call([FFA.NOTIFICATION_GET])],
    ['spmc/send2/no-tx', 'DENIED', {}, (s) => s.call([FFA.MSG_SEND2])],
  ];

  it.each(cases)('%s', (rule, answer, opts, run) => {
    const s = secure(opts);
    run(s);
    const d = s.last().find((x) => x.rule === rule);
    expect(
      d,
      `${rule} among ${s
        .last()
        .map((x) => x.rule)
        .join(', ')}`,
    ).toBeDefined();
    const r = SECURE_RULES[rule];
    expect(d!.actor).toBe(rule.startsWith('spmd/') ? 'spmd' : 'spmc');
    expect(d!.action).toBe(r.action);
    if (answer !== undefined) expect(d!.text.endsWith(`→ ${answer}`)).toBe(true);
    expect(d!.source).toContain(r.notes);
  });

  it('partition retrieve / relinquish refusals are decisions too (inside the direct request)', () => {
    let ctx: PartitionContext | undefined;
    const s = secure({
      partitions: [
        {
          id: 0x8001,
          uuids: [U1],
          properties: 1,
          execContexts: 1,
          handler: (r, c) => {
            ctx = c;
            return r.clone().setW(0, FFA.MSG_SEND_DIRECT_RESP64).setW(1, 0x8001_0000);
          },
        },
      ],
    });
    s.call([FFA.MSG_SEND_DIRECT_REQ64, 0x8001]);
    const before = s.trace!.events.length;
    expect(ctx!.retrieve(9n).ok).toBe(false);
    expect(ctx!.relinquish(9n).ok).toBe(false);
    const rules = s
      .trace!.events.slice(before)
      .flatMap((e) => (e.kind === 'decision' ? [`${e.actor} ${e.rule}`] : []));
    expect(rules).toEqual(['spmc spmc/sp-retrieve/unknown-handle', 'spmc spmc/sp-relinquish/not-retrieved']);
  });
});

describe('SPMC decisions: every error answer has exactly one reject decision; answers do not depend on the trace', () => {
  const FIDS: number[] = [...new Set<number>(Object.values(FFA))];
  const word = fc.oneof(
    fc.constantFrom(0, 1, 2, 16, 48, 112, 0x8001, 0x8002, 0x1_0000, 0x10002, 0x8001_0000, TX, RX, TX + 8),
    fc.integer({ min: 0, max: 0xffff_ffff }),
  );
  const call = fc.tuple(
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...FIDS) }, fc.integer({ min: 0, max: 0xffff_ffff })),
    fc.array(word, { maxLength: 5 }),
  );
  it('holds for random call sequences', () => {
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 25 }), (seq) => {
        const traced = secure();
        const bare = secure({}, false);
        for (const [fid, args] of seq) {
          // A share descriptor in TX now and then, so memory calls get past their first checks.
          if (args[0] === 112) for (const w of [traced, bare]) w.mem.write(TX, shareDesc());
          const r = traced.call([fid, ...args]);
          expect(bare.call([fid, ...args]).toHex()).toEqual(r.toHex());
          const rejects = traced.last().filter((d) => d.action === 'reject');
          for (const d of traced.last()) {
            expect(d.rule in SECURE_RULES).toBe(true);
            expect(d.actor).toBe(d.rule.startsWith('spmd/') ? 'spmd' : 'spmc');
            expect(d.source.length).toBeGreaterThan(20);
          }
          const error =
            r.w(0) === FFA.ERROR
              ? (ffaErrorName(r.w(2)) ?? '?')
              : r.x(0) === 0xffff_ffff_ffff_ffffn
                ? 'NOT_SUPPORTED'
                : undefined;
          if (error === undefined) expect(rejects).toEqual([]);
          else {
            expect(rejects, `${r.toHex()[0]} ${error}`).toHaveLength(1);
            expect(rejects[0]!.text).toMatch(new RegExp(`→ (SMCCC )?${error}$`));
          }
        }
      }),
      { numRuns: 300, seed: 13 },
    );
  });
});

describe('SPMC decisions: documentation', () => {
  const doc = readFileSync(new URL('../../docs/trace-format.md', import.meta.url), 'utf8');
  it.each(Object.keys(SECURE_RULES))('%s is listed in docs/trace-format.md and has a source', (id) => {
    expect(doc).toContain(`\`${id}\``);
    const r = SECURE_RULES[id as SecureRuleId];
    expect(r.follows.length).toBeGreaterThan(0);
    expect(r.notes).toMatch(/abi\.md|peers-and-tests\.md|bug-history\.md/);
  });
});
