/**
 * The fuzz loop's shortcuts give the answers of the slow paths they replace (property tests on random fuzz
 * sequences, on profiles with and without the known bugs, so violations occur):
 * - the incremental I1/I4 check (checkHoldingsIncremental) = the full one (checkHoldings) after every call;
 * - the stage-2 mark (I2) = fingerprint comparison;
 * - Stage2.changedSince never misses a change;
 * - the cut `big` descriptor = the one buildMemTransaction builds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbAction, FuzzRun } from '../../src/check/fuzz.ts';
import { checkHoldings, checkHoldingsIncremental, initialCheckState } from '../../src/check/invariants.ts';
import { poolShareDescriptor } from '../../src/check/pool-share.ts';
import { buildMemTransaction, memTransaction } from '../../src/ffa/desc/index.ts';
import { FFA } from '../../src/ffa/ids.ts';
import { createProfile } from '../../src/hyp/profiles.ts';
import { Stage2 } from '../../src/mem/stage2.ts';
import { defaultWorldConfig } from '../../src/world/config.ts';

describe('incremental invariant checks', () => {
  it('checkHoldingsIncremental and the I2 mark agree with the full checks after every call (property)', () => {
    const config = defaultWorldConfig();
    let violations = 0;
    let calls = 0;
    fc.assert(
      fc.property(
        fc.constantFrom('linux-6.6', 'linux-6.10', 'linux-6.11', 'ffa-1.2', 'ffa-1.2-hardened'),
        fc.array(arbAction(), { maxLength: 24 }),
        fc.array(fc.tuple(fc.nat(7), fc.nat(40), fc.constantFrom('unshare', 'reshare', 'guest')), {
          maxLength: 24,
        }),
        (profile, actions, tampers) => {
          const run = new FuzzRun(createProfile(profile), config);
          const w = run.world;
          const st = initialCheckState(w);
          w.observers.push({
            before: () => ({ fp: w.stage2.fingerprint(), mark: w.stage2.mark() }),
            after: (_out, token) => {
              const t = token as { fp: string; mark: number };
              expect(w.stage2.sameAsMark(t.mark)).toBe(w.stage2.fingerprint() === t.fp);
              const full = checkHoldings(w);
              expect(checkHoldingsIncremental(w, st)).toEqual(full);
              calls++;
              if (full !== undefined) violations++;
            },
          });
          run.smc([FFA.VERSION, 0x10002]);
          run.act({
            op: 'map',
            tx: { k: 'host', i: 4094, off: 0, pages: 1 },
            rx: { k: 'host', i: 4095, off: 0, pages: 1 },
            pages: 1,
          });
          // Between actions, page states change behind the proxy's back (a mis-tracked page, or one donated to a
          // guest), so that I1/I4 fail and recover; the checks must keep agreeing past a violation.
          const ps = w.config.pageSize;
          actions.forEach((a, i) => {
            run.act(a);
            const tamper = tampers[i];
            const held = w.spmc.completeTransactions();
            if (tamper === undefined || held.length === 0) return;
            const [k, j, what] = tamper;
            const cs = held[k % held.length]!.constituents;
            const c = cs[j % cs.length];
            if (c === undefined || c.address >= 1n << 40n) return;
            const pfn = Math.floor(Number(c.address) / ps);
            if (what === 'reshare') w.stage2.hostShareFFA(pfn, 1, { rangeValidation: true });
            else if (w.stage2.hostUnshareFFA(pfn, 1, { rangeValidation: true }) === 0 && what === 'guest')
              w.stage2.hostDonateGuest(pfn, 1);
            // The next call's checks see the tampering (the observer runs them after every call).
          });
          run.finish();
        },
      ),
      { numRuns: 250, seed: 11 },
    );
    expect(calls).toBeGreaterThan(2000);
    expect(violations).toBeGreaterThan(0); // the property saw failing verdicts, not only passing ones
  });

  it('Stage2.changedSince is true whenever a range changed (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(40), fc.integer({ min: 1, max: 6 }), fc.boolean()), { maxLength: 120 }),
        fc.nat(40),
        fc.integer({ min: 1, max: 10 }),
        (ops, from, n) => {
          const s2 = new Stage2({ pageSize: 4096, regions: [{ base: 0, size: 64 * 4096, kind: 'ram' }] });
          const seen: { at: number; states: string }[] = [];
          const look = (): string =>
            s2
              .query(from * 4096, n)
              .map((r) => `${r.pages}${r.host}`)
              .join();
          for (const [pfn, k, share] of ops) {
            seen.push({ at: s2.changes, states: look() });
            if (share) s2.hostShareFFA(pfn, k, { rangeValidation: true });
            else s2.hostUnshareFFA(pfn, k, { rangeValidation: true });
            for (const p of seen)
              if (p.states !== look()) expect(s2.changedSince(p.at, from, from + n)).toBe(true);
          }
        },
      ),
      { numRuns: 300, seed: 5 },
    );
  });

  it('the cut big-share descriptor is byte for byte the built one', () => {
    for (const version of ['1.0', '1.1', '1.2'] as const)
      for (const n of [1, 2199, 2200, 2333, 2400, 2401]) {
        const pool = 0x8800_0000;
        const tx = memTransaction({
          version,
          sender: 0,
          attributes: 0x2f,
          receivers: [{ endpointId: 0x8001, permissions: 2 }],
          constituents: Array.from({ length: n }, (_, i) => ({
            address: BigInt(pool + (i % 4096) * 4096),
            pageCount: 1,
          })),
        });
        const d = poolShareDescriptor(pool, 4096, 4096, version, n);
        expect(d.bytes).toEqual(buildMemTransaction(tx));
        expect(d.head).toBe((tx.emads[0]?.compositeOffset ?? 0) + 16);
      }
  });
});
