/** Fuzzer throughput: host SMCs per second with invariants I1–I7 checked after every call (target ≥ 100 000/s). */
import { fuzz } from '../src/check/fuzz.ts';
import { createProfile } from '../src/hyp/profiles.ts';

export function benchFuzz(): void {
  const r = fuzz({
    profile: createProfile('ffa-1.2-hardened'),
    seed: 1,
    timeMs: 5000,
    now: () => performance.now(),
  });
  const rate = Math.round((r.smcs * 1000) / r.ms);
  console.log('\nFuzzer: ffa-1.2-hardened, well-behaved SPMC, 5 s');
  console.log(
    `  ${r.runs} sequences, ${r.smcs} host SMCs, ${rate} SMCs/s with invariants after every call (target ≥ 100 000/s)`,
  );
  console.log(
    `  ${r.finding === undefined ? 'no finding' : `FINDING ${r.finding.violation.invariant}: ${r.finding.violation.detail}`}`,
  );
}
