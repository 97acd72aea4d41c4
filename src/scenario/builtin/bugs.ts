/**
 * One scenario per proxy bug of bug-history.md (H1–H20). Each runs on its era's profile by default and shows the
 * bug there; run it with the fixing change present (the next profile, or `--with ID`) to see the fix. The
 * expectations follow the profile, so both runs pass: the trace is what differs.
 */
import { decoyEmadShare } from '../../ffa/desc/index.ts';
import { FFA } from '../../ffa/ids.ts';
import { RegisterFile } from '../../smccc/regs.ts';
import type { World } from '../../world/world.ts';
import type { Scenario, ScenarioContext } from '../scenario.ts';

const TRUSTY = 0x8001;
const GUEST_PAGE = 0xf000_0000;

const errOf = (r: RegisterFile): number | undefined => (r.w(0) === FFA.ERROR ? r.w(2) | 0 : undefined);

function setup(ctx: ScenarioContext): boolean {
  ctx.step('host driver: negotiate and map RXTX');
  const v = ctx.host.negotiate();
  const m = v.ok ? ctx.host.rxtxMap() : v;
  return ctx.expect(v.ok && m.ok, 'host driver set up');
}

/** A v1.1/v1.2 share descriptor written into the host TX (for raw-SMC scenarios). */
function writeShare(
  w: World,
  o: {
    v12?: boolean;
    constituents: [number | bigint, number][];
    emadOffset?: number;
    compositeOffset?: number;
  },
): number {
  const v12 = o.v12 !== false;
  const emad = v12 ? 32 : 16;
  const comp = 48 + emad;
  const len = comp + 16 + 16 * o.constituents.length;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint16(2, 0x2f, true);
  v.setUint32(24, emad, true);
  v.setUint32(28, 1, true);
  v.setUint32(32, o.emadOffset ?? 48, true);
  v.setUint16(48, TRUSTY, true);
  v.setUint8(50, 2);
  v.setUint32(52, o.compositeOffset ?? comp, true);
  if (comp + 16 <= len) {
    v.setUint32(
      comp,
      o.constituents.reduce((a, c) => a + c[1], 0),
      true,
    );
    v.setUint32(comp + 4, o.constituents.length, true);
    o.constituents.forEach(([addr, pages], i) => {
      v.setBigUint64(comp + 16 + 16 * i, BigInt(addr), true);
      v.setUint32(comp + 24 + 16 * i, pages, true);
    });
  }
  w.mem.write(w.host.tx, b);
  return len;
}

function bug(
  id: string,
  title: string,
  profile: string,
  fix: string | undefined,
  run: (ctx: ScenarioContext, fixed: boolean) => void,
  extra: Partial<Scenario> = {},
): Scenario {
  return {
    name: id,
    description: `${id.toUpperCase()}: ${title}${fix ? ` (shown on ${profile}; fixed by ${fix})` : ' (not fixed; every profile)'}`,
    profile,
    ...(fix === undefined ? {} : { fixedBy: fix }),
    ...extra,
    run: (ctx) => {
      const fixed = fix !== undefined && ctx.profile.has(fix);
      ctx.step(
        `${id.toUpperCase()}: ${title} — ${fix === undefined ? 'no fix exists' : fixed ? `fixed here by ${fix}` : `this profile lacks ${fix}`}`,
      );
      run(ctx, fixed);
    },
  };
}

export const BUG_SCENARIOS: readonly Scenario[] = [
  bug(
    'h1',
    '32-bit DIRECT_REQ denied while the 64-bit form was allowed',
    'linux-6.6',
    'direct-req32-allow',
    (ctx, fixed) => {
      ctx.host.negotiate();
      const r = ctx.host.directReq(TRUSTY, [1n], { smc64: false });
      if (fixed) ctx.expect(r.ok, 'SMC32 DIRECT_REQ forwarded and answered');
      else ctx.expect(!r.ok && r.error === 'NOT_SUPPORTED', 'SMC32 DIRECT_REQ → NOT_SUPPORTED from the hyp');
    },
    {
      world: (c) => {
        c.spmc.versionLock = 'tfa';
      },
    },
  ),
  bug(
    'h2',
    'calls above function number 0x7F bypass the proxy',
    'linux-6.10',
    'ffa-range-ff',
    (ctx, fixed) => {
      const regs = RegisterFile.of([FFA.NOTIFICATION_UNBIND, 0x80010000, 0, 1]);
      const r = ctx.world.smc(regs);
      if (fixed) ctx.expect(errOf(r) === -2, '0x84000080 before FFA_VERSION → INVALID_PARAMETERS (gated)');
      else ctx.expect(errOf(r) !== -2, '0x84000080 before FFA_VERSION reaches the SPMC unfiltered');
    },
  ),
  bug(
    'h3',
    'the host negotiated its FF-A version directly with the TEE',
    'linux-6.10',
    'version-trap',
    (ctx, fixed) => {
      const r = ctx.world.smc([FFA.VERSION, 0x10002]);
      if (fixed)
        ctx.expect(r.w(0) === ctx.world.hyp.hypVersion, 'FFA_VERSION answered at EL2 with hyp_ffa_version');
      else
        ctx.expect(
          r.w(0) === 0x10002 && ctx.world.hyp.hypVersion === 0x10000,
          'the SPMC answers 1.2 to the host while the hyp parses v1.0 layouts',
        );
    },
    {
      world: (c) => {
        c.spmc.versionLock = 'none';
      },
    },
  ),
  bug(
    'h4',
    'PARTITION_INFO_GET results never reached the host',
    'linux-6.10',
    'part-info-copy',
    (ctx, fixed) => {
      if (!setup(ctx)) return;
      const r = ctx.world.smc([FFA.PARTITION_INFO_GET, 0, 0, 0, 0, 0]);
      const copied = ctx.world.mem.read(ctx.host.rx, 2)[1] === 0x80;
      ctx.expect(r.w(0) === FFA.SUCCESS, 'the SPMC answers SUCCESS');
      ctx.expect(
        copied === fixed,
        fixed
          ? 'descriptors copied into the host RX'
          : 'the host RX stays empty (descriptors landed in the hyp RX)',
      );
    },
    {
      world: (c) => {
        c.spmc.versionLock = 'tfa';
      },
    },
  ),
  bug(
    'h5',
    'the hyp was stuck on FF-A v1.0 descriptor layouts',
    'linux-6.10',
    'hyp-ffa-v1-1',
    (ctx, fixed) => {
      if (!setup(ctx)) return;
      const p = ctx.world.allocHostPages(1);
      const s = ctx.host.memShare({
        receivers: [{ id: TRUSTY, perm: 'RW' }],
        constituents: [{ address: p, pageCount: ctx.world.config.pageSize / 4096 }],
      });
      ctx.expect(
        s.ok === fixed,
        fixed
          ? 'a v1.1 share is parsed as v1.1 and succeeds'
          : 'a v1.1 share is parsed with the v1.0 layout and fails',
      );
    },
    {
      world: (c) => {
        c.spmc.versionLock = 'none';
        c.host.driverVersion = '1.1';
      },
    },
  ),
  bug(
    'h6',
    'share accepted a descriptor that reclaim could never buffer',
    'linux-6.11',
    'mem-len-check',
    (ctx, fixed) => {
      if (!setup(ctx)) return;
      const ps = ctx.world.config.pageSize;
      const base = ctx.world.allocHostPages(2 * 2304);
      const cs = Array.from({ length: 2304 }, (_, i) => ({ address: base + 2 * ps * i, pageCount: 1 }));
      const s = ctx.host.memShare({ receivers: [{ id: TRUSTY, perm: 'RW' }], constituents: cs });
      if (fixed) {
        ctx.expect(!s.ok && s.error === 'NO_MEMORY', 'the first MEM_SHARE → NO_MEMORY; nothing shared');
        return;
      }
      ctx.expect(s.ok, 'the 2304-constituent share completes');
      if (!s.ok) return;
      const r = ctx.host.memReclaim(s.value.handle);
      ctx.expect(!r.ok && r.error === 'NO_MEMORY', 'reclaim → NO_MEMORY: the handle can never be reclaimed');
      ctx.expect(ctx.world.stage2.hostState(base) === 'SHARED_OWNED', 'pages stuck SHARED_OWNED');
    },
  ),
  bug(
    'h7',
    'composite_off + 16 overflow check (no wrap was reachable on arm64)',
    'linux-6.11',
    'offset-overflow-check',
    (ctx) => {
      if (!setup(ctx)) return;
      const p = ctx.world.allocHostPages(1);
      for (const off of [0xfffffff0, 0xfffffff8, 0xffffffff]) {
        writeShare(ctx.world, { constituents: [[p, 1]], compositeOffset: off });
        ctx.expect(
          errOf(ctx.world.smc([FFA.MEM_SHARE64, 112, 112])) === -2,
          `composite_off 0x${off.toString(16)} → INVALID_PARAMETERS (same with and without the change)`,
        );
      }
    },
  ),
  bug(
    'h8',
    'after negotiation a version downgrade was answered with the negotiated version',
    'linux-6.11',
    'version-downgrade-reject',
    (ctx, fixed) => {
      ctx.world.smc([FFA.VERSION, 0x10002]);
      const r = ctx.world.smc([FFA.VERSION, 0x10000]);
      if (fixed) ctx.expect(r.x(0) === 0xffff_ffff_ffff_ffffn, 'FFA_VERSION(1.0) → NOT_SUPPORTED');
      else ctx.expect(r.w(0) !== 0xffff_ffff, 'FFA_VERSION(1.0) → the negotiated version');
    },
  ),
  bug(
    'h9',
    'FEATURES(RXTX_MAP) answer compared as a whole register',
    'linux-6.11',
    'features-rxtx-mask',
    (ctx, fixed) => {
      const r = ctx.world.smc([FFA.VERSION, 0x10002]);
      if (fixed) ctx.expect(r.w(0) !== 0xffff_ffff, 'negotiation succeeds with w2 = 0x00010000');
      else ctx.expect(r.x(0) === 0xffff_ffff_ffff_ffffn, 'every FFA_VERSION → NOT_SUPPORTED');
    },
    {
      world: (c) => {
        c.spmc.quirks.featuresRxtxExtraBits = 0x0001_0000;
      },
    },
  ),
  bug(
    'h10',
    'notifications and optional 1.2 interfaces were forwarded to TZ',
    'linux-6.11',
    'deny-notifications',
    (ctx, fixed) => {
      ctx.world.smc([FFA.VERSION, 0x10002]);
      const r = ctx.world.smc([FFA.NOTIFICATION_BITMAP_CREATE, 0, 1]);
      if (fixed) ctx.expect(errOf(r) === -1, 'NOTIFICATION_BITMAP_CREATE → NOT_SUPPORTED from the hyp');
      else ctx.expect(r.w(0) === FFA.SUCCESS, 'NOTIFICATION_BITMAP_CREATE reaches the SPMC and succeeds');
    },
  ),
  bug(
    'h11',
    'results of hyp-handled calls were truncated to x0–x3',
    'linux-6.11',
    'smccc12-retval-all',
    (ctx, fixed) => {
      if (!setup(ctx)) return;
      const r = ctx.world.smc([FFA.RXTX_UNMAP, 1, 0, 0, 0xaa, 0xaa, 0xaa, 0xaa, 0xbb]);
      if (fixed) ctx.expect(r.isZero(4) && r.isZero(8), 'x0–x17 written back (x4, x8 = 0)');
      else if (ctx.profile.has('smccc12-retval-smc64'))
        ctx.expect(r.isZero(4) && r.x(8) === 0xbbn, 'v9: x0–x7 written, x8–x17 keep the SMC32 caller values');
      else ctx.expect(r.x(4) === 0xaan, 'x4–x17 keep the caller values');
    },
  ),
  bug(
    'h12',
    'host page ranges could overflow in stage-2 transitions',
    'linux-6.11',
    'range-validation',
    (ctx) => {
      if (!setup(ctx)) return;
      const s = ctx.host.memShare({
        receivers: [{ id: TRUSTY, perm: 'RW' }],
        constituents: [{ address: 2n ** 41n, pageCount: 1 }],
      });
      ctx.expect(!s.ok && s.error === 'DENIED', 'a range beyond the IPA space → DENIED, no state change');
    },
  ),
  bug(
    'h13',
    'reclaim trusted the SPMC composite offset and range count',
    'ffa-1.2',
    'reclaim-bounds',
    (ctx, fixed) => {
      if (!setup(ctx)) return;
      const p = ctx.world.allocHostPages(1);
      const s = ctx.host.memShare({
        receivers: [{ id: TRUSTY, perm: 'RW' }],
        constituents: [{ address: p, pageCount: ctx.world.config.pageSize / 4096 }],
      });
      if (!ctx.expect(s.ok, 'share succeeds') || !s.ok) return;
      const r = ctx.host.memReclaim(s.value.handle);
      if (fixed) {
        ctx.expect(
          !r.ok && r.error === 'ABORTED',
          'bogus retrieve response → ABORTED; FFA_MEM_RECLAIM not sent',
        );
        ctx.expect(ctx.world.hyp.counters.oob.length === 0, 'no EL2 read past the response');
      } else {
        ctx.expect(
          ctx.world.hyp.counters.oob.length > 0,
          'the hyp reads past the 96-byte response (recorded as out-of-bounds)',
        );
      }
    },
    {
      options: () => ({
        spmcQuirks: {
          retrieveResponse: (desc) => {
            const b = desc.slice(0, 96);
            new DataView(b.buffer).setUint32(52, 90, true);
            return { bytes: b, totalLength: 96, fragmentLength: 96 };
          },
        },
      }),
    },
  ),
  bug(
    'h14',
    'the hyp read the EMAD at a fixed offset while the SPMC follows ep_mem_offset',
    'ffa-1.2',
    'emad-offset-validate',
    (ctx, fixed) => {
      if (!setup(ctx)) return;
      const w = ctx.world;
      const Y = w.allocHostPages(1);
      const b = decoyEmadShare(BigInt(GUEST_PAGE), BigInt(Y));
      w.mem.write(w.host.tx, b);
      const r = w.smc([FFA.MEM_SHARE64, 144, 144]);
      const spmcHoldsGuest = w.spmc
        .transactions()
        .some((t) => t.constituents.some((c) => c.address === BigInt(GUEST_PAGE)));
      if (fixed)
        ctx.expect(
          errOf(r) === -6 && !spmcHoldsGuest,
          'the hyp checks the real EMAD: the guest page → DENIED, nothing forwarded',
        );
      else
        ctx.expect(
          spmcHoldsGuest && w.stage2.hostState(Y) === 'SHARED_OWNED',
          'the hyp shared decoy page Y while the SPMC holds guest page X',
        );
    },
    {
      world: (c) => {
        c.host.driverVersion = '1.1';
        c.spmc.exactLength = false;
      },
    },
  ),
  bug(
    'h15',
    'constituent addresses were not checked for page alignment (16 KiB pages)',
    'ffa-1.2',
    'page-aligned-ranges',
    (ctx, fixed) => {
      if (!setup(ctx)) return;
      const P = ctx.world.allocHostPages(2);
      const s = ctx.host.memShare({
        receivers: [{ id: TRUSTY, perm: 'RW' }],
        constituents: [{ address: P + 0x1000, pageCount: 4 }],
      });
      if (fixed) ctx.expect(!s.ok && s.error === 'DENIED', 'P + 0x1000 → DENIED');
      else
        ctx.expect(
          s.ok && ctx.world.stage2.hostState(P + 0x4000) === 'OWNED',
          'page P shared, its tail page P + 0x4000 left OWNED while the SPMC can reach it',
        );
    },
    {
      world: (c) => {
        c.pageSize = 16384;
      },
    },
  ),
  bug('h16', 'hyp stack contents leaked in FFA_VERSION replies', 'ffa-1.2', 'zeroed-result', (ctx, fixed) => {
    ctx.world.smc([FFA.VERSION, 0x10002]);
    const r = ctx.world.smc([FFA.VERSION, 0x10002]);
    let nonzero = 0;
    for (let i = 1; i < 18; i++) if (!r.isZero(i)) nonzero++;
    if (fixed) ctx.expect(nonzero === 0, 'x1–x17 = 0');
    else
      ctx.expect(
        nonzero > 0 && ctx.world.hyp.counters.leaks.length > 0,
        `x1–x17 carry stale hyp stack (${nonzero} registers)`,
      );
  }),
  bug(
    'h17',
    'NOT_SUPPORTED from FFA_VERSION compared as 64-bit',
    'ffa-1.2',
    'version-ns-s32',
    (ctx, fixed) => {
      const r = ctx.world.smc([FFA.VERSION, 0x80010001]);
      if (fixed)
        ctx.expect(
          !ctx.world.hyp.negotiated && r.w(0) === 0xffff_ffff,
          'the SPMC refusal is recognised and returned',
        );
      else
        ctx.expect(
          ctx.world.hyp.negotiated && ctx.world.hyp.hypVersion === 0x80010001,
          'the refusal is taken as acceptance: hyp_ffa_version = 0x80010001',
        );
    },
    {
      world: (c) => {
        c.spmc.quirks.versionNotSupported32 = true;
      },
    },
  ),
  bug(
    'h18',
    'a failing FRAG_TX leaves earlier pages stuck (documented limitation)',
    'ffa-1.2',
    undefined,
    (ctx) => {
      if (!setup(ctx)) return;
      const w = ctx.world;
      const A = w.allocHostPages(1);
      const len = writeShare(w, { constituents: [[A, 1]] });
      const first = w.smc([FFA.MEM_SHARE64, len + 16, len]);
      ctx.expect(first.w(0) === FFA.MEM_FRAG_RX, 'first fragment accepted');
      const frag = new Uint8Array(16);
      new DataView(frag.buffer).setBigUint64(0, BigInt(GUEST_PAGE), true);
      new DataView(frag.buffer).setUint32(8, 1, true);
      w.mem.write(w.host.tx, frag);
      ctx.expect(
        errOf(w.smc([FFA.MEM_FRAG_TX, first.w(1), first.w(2), 16])) === -6,
        'FRAG_TX over a guest page → DENIED',
      );
      ctx.expect(w.stage2.hostState(A) === 'SHARED_OWNED', 'page A stays SHARED_OWNED for good');
    },
  ),
  bug(
    'h19',
    'reclaim left the hyp RX buffer owned',
    'linux-6.6',
    'reclaim-rx-release',
    (ctx, fixed) => {
      if (!setup(ctx)) return;
      const page = ctx.world.allocHostPages(2);
      const res: string[] = [];
      for (let i = 0; i < 2; i++) {
        const s = ctx.host.memShare({
          receivers: [{ id: TRUSTY, perm: 'RW' }],
          constituents: [{ address: page + i * ctx.world.config.pageSize, pageCount: 1 }],
        });
        if (!s.ok) return void ctx.expect(false, `share ${i + 1} failed: ${s.error}`);
        const r = ctx.host.memReclaim(s.value.handle);
        res.push(r.ok ? 'ok' : r.error);
      }
      if (fixed) ctx.expect(res.join() === 'ok,ok', 'both reclaims succeed');
      else ctx.expect(res.join() === 'ok,BUSY', 'the second reclaim → BUSY (hyp RX still owned)');
    },
    {
      world: (c) => {
        c.spmc.versionLock = 'tfa';
        c.host.driverVersion = '1.0';
      },
    },
  ),
  bug(
    'h20',
    'an SPMC answering a completed share with FFA_SUCCESS64 makes the hyp roll the pages back',
    'ffa-1.2',
    undefined,
    (ctx) => {
      if (!setup(ctx)) return;
      const p = ctx.world.allocHostPages(1);
      const s = ctx.host.memShare({
        receivers: [{ id: TRUSTY, perm: 'RW' }],
        constituents: [{ address: p, pageCount: ctx.world.config.pageSize / 4096 }],
      });
      ctx.expect(!s.ok && s.regs.w(0) === FFA.SUCCESS64, 'the host sees FFA_SUCCESS64');
      const held = ctx.world.spmc
        .transactions()
        .some((t) => t.constituents.some((c) => c.address === BigInt(p)));
      ctx.expect(
        held && ctx.world.stage2.hostState(p) === 'OWNED',
        'the page is OWNED at stage 2 while the SPMC holds a live share of it (isolation break)',
      );
    },
    {
      world: (c) => {
        c.spmc.quirks.shareSuccess64 = true;
      },
    },
  ),
];
