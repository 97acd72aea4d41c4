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

/**
 * `fuzz --workers N` (issue 14 item 5): the same campaign (ffa-1.2-hardened, seed 9, 12 800 sequences, coverage
 * guidance) in 1 and 2 worker threads, merged in index order as the CLI does; host SMCs/s and the speed-up
 * (target ≥ 1.8× on 2 cores). The folders are identical (test/cli/fuzz-scale.test.ts). Beside it, what the
 * machine itself gives two threads: two independent one-thread campaigns at once (no sharing, no merge), their
 * SMCs over the slower one's time — the ceiling any split of one campaign can reach here. Every row leaves its
 * first batch out of the timing (thread start-up, JIT warm-up).
 */
export async function benchWorkers(): Promise<void> {
  const { CampaignContext, initialState, mergeResults, DEFAULT_BATCH } = await import(
    '../src/check/campaign.ts'
  );
  const { ThreadRunner, setupOf } = await import('../src/cli/fuzz-runners.ts');
  const { defaultWorldConfig } = await import('../src/world/config.ts');
  const co = {
    profile: createProfile('ffa-1.2-hardened'),
    config: defaultWorldConfig(),
    seed: 9,
    hostile: false,
    guided: true,
    ignore: [],
    ...(process.env.BATCH ? { batchSize: Number(process.env.BATCH) } : {}),
  };
  const runs = 12_800;
  const campaign = async (n: number) => {
    const ctx = new CampaignContext(co);
    const st = initialState();
    const runner = new ThreadRunner(setupOf(co), n);
    let mergeMs = 0;
    const batch = async () => {
      const end = Math.min(
        runs,
        (Math.floor(st.next / (co.batchSize ?? DEFAULT_BATCH)) + 1) * (co.batchSize ?? DEFAULT_BATCH),
      );
      const rs = await runner.run(st.corpus, st.batchCorpus, st.next, end);
      const m0 = performance.now();
      mergeResults(ctx, st, rs);
      mergeMs += performance.now() - m0;
    };
    // The first batch untimed in every row: thread start-up and JIT warm-up are a fixed cost, not the
    // throughput of an hour-long campaign.
    await batch();
    const smcs0 = st.smcs;
    runner.busyMs = 0;
    mergeMs = 0;
    const t0 = performance.now();
    while (st.next < runs) await batch();
    const ms = performance.now() - t0;
    await runner.close();
    return { smcs: st.smcs - smcs0, ms, mergeMs, busy: runner.busyMs / (n * ms) };
  };
  const line = (label: string, smcs: number, ms: number, extra: string) => {
    const rate = Math.round((smcs * 1000) / ms);
    console.log(
      `  ${label.padEnd(34)} ${String(rate).padStart(7)} host SMCs/s (${smcs} SMCs in ${(ms / 1000).toFixed(1)} s${extra})`,
    );
    return rate;
  };
  console.log('\nCampaign in worker threads: ffa-1.2-hardened, seed 9, 12 800 sequences, guided');
  const threads = (label: string, c: Awaited<ReturnType<typeof campaign>>) =>
    line(
      label,
      c.smcs,
      c.ms,
      `, merging ${(c.mergeMs / 1000).toFixed(1)} s, threads busy ${Math.round(c.busy * 100)}%`,
    );
  const r1 = threads('1 worker thread', await campaign(1));
  const r2 = threads('2 worker threads', await campaign(2));
  const pair = await Promise.all([campaign(1), campaign(1)]);
  const rc = line(
    'machine: 2 independent campaigns',
    pair[0].smcs + pair[1].smcs,
    Math.max(pair[0].ms, pair[1].ms),
    '',
  );
  console.log(
    `  speed-up ×${(r2 / r1).toFixed(2)} vs 1 thread (target ≥ 1.8× on 2 cores); the machine's own ×${(rc / r1).toFixed(2)}: ${Math.round((100 * (r2 - r1)) / Math.max(1, rc - r1))}% of the gain it allows`,
  );
}
