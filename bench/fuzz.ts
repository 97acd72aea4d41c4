/**
 * Fuzzer throughput: host SMCs per second with invariants I1–I7 checked after every call (target ≥ 100 000/s per
 * core), as ns per SMC beside the same-run floor of bench/proxy.ts (one register file through 4 hops and back).
 */
import { fuzz } from '../src/check/fuzz.ts';
import { createProfile } from '../src/hyp/profiles.ts';
import { measure } from './harness.ts';
import { floor } from './proxy.ts';

export function benchFuzz(): void {
  const f = measure('floor', floor);
  const r = fuzz({
    profile: createProfile('ffa-1.2-hardened'),
    seed: 1,
    timeMs: 5000,
    now: () => performance.now(),
  });
  const rate = Math.round((r.smcs * 1000) / r.ms);
  const ns = (r.ms * 1e6) / r.smcs;
  console.log(
    '\nFuzzer: ffa-1.2-hardened, well-behaved SPMC, 5 s, ns per host SMC and ratio to the same-run floor',
  );
  console.log(`  floor: register file through 4 hops and back  ${f.nsPerOp.toFixed(1).padStart(10)} ns/op`);
  console.log(
    `  fuzz loop, invariants after every call          ${ns.toFixed(1).padStart(10)} ns/op  ×${(ns / f.nsPerOp).toFixed(2)}  (≥ 100 000 SMCs/s = ≤ 10 µs)`,
  );
  console.log(
    `  ${r.runs} sequences, ${r.smcs} host SMCs, ${rate} SMCs/s; ${r.finding === undefined ? 'no finding' : `FINDING ${r.finding.violation.invariant}: ${r.finding.violation.detail}`}`,
  );
}
