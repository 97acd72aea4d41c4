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
 * `fuzz --workers N` (issue 14 item 5): the same campaign (ffa-1.2-hardened, seed 9, coverage guidance) in 1 and in
 * 2 worker threads, merged in index order as the CLI does (the folders are identical: test/cli/fuzz-scale.test.ts);
 * host SMCs/s and the speed-up (target ≥ 1.8× on 2 cores).
 *
 * Steady state, not start-up: each campaign first runs {@link WARM} sequences untimed (a thread's JIT takes seconds
 * to settle, and meanwhile compiles on the other core — free for one thread, taken from its partner for two). Then
 * the two campaigns take turns over the same windows of sequences, so a window is the same work in both and a
 * drift of this shared machine's speed hits both alike; the speed-up is the median over windows. Beside it, what
 * the machine itself gives two threads: two independent one-thread campaigns at once (no sharing, no merge), their
 * SMCs over the slower one's time — the ceiling any split of one campaign can reach here.
 */
const WARM = 10_000;
const WINDOW = 5_000;
const WINDOWS = 6;

export async function benchWorkers(): Promise<void> {
  const { CampaignContext, initialState, mergeResults, DEFAULT_BATCH } = await import(
    '../src/check/campaign.ts'
  );
  const { BatchPipeline, ThreadRunner, setupOf } = await import('../src/cli/fuzz-runners.ts');
  const { defaultWorldConfig } = await import('../src/world/config.ts');
  const co = {
    profile: createProfile('ffa-1.2-hardened'),
    config: defaultWorldConfig(),
    seed: 9,
    hostile: false,
    guided: true,
    ignore: [],
  };
  const open = (threads: number) => {
    const ctx = new CampaignContext(co);
    const st = initialState();
    const runner = new ThreadRunner(setupOf(co), threads);
    /** Runs the campaign to sequence `to` (no batch past it starts): its SMCs, time and threads' busy share. */
    const runTo = async (to: number) => {
      const pipeline = new BatchPipeline(runner, DEFAULT_BATCH, to, false);
      const smcs0 = st.smcs;
      runner.busyMs = 0;
      const t0 = performance.now();
      while (st.next < to) mergeResults(ctx, st, await pipeline.next(st));
      const ms = performance.now() - t0;
      return { smcs: st.smcs - smcs0, ms, busy: runner.busyMs / (threads * ms) };
    };
    return { runTo, close: () => runner.close() };
  };
  const rate = (smcs: number, ms: number) => Math.round((smcs * 1000) / ms);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  console.log(
    `\nCampaign in worker threads: ffa-1.2-hardened, seed 9, guided; ${WARM} sequences untimed, then ${WINDOWS} windows of ${WINDOW} in turn`,
  );
  const one = open(1);
  const two = open(2);
  const warm1 = await one.runTo(WARM);
  const warm2 = await two.runTo(WARM);
  type Window = Awaited<ReturnType<typeof one.runTo>>;
  const rows = { one: [] as Window[], two: [] as Window[] };
  for (let w = 1; w <= WINDOWS; w++) {
    rows.one.push(await one.runTo(WARM + w * WINDOW));
    rows.two.push(await two.runTo(WARM + w * WINDOW));
  }
  await Promise.all([one.close(), two.close()]);
  const total = (rs: Window[]) => {
    const smcs = rs.reduce((a, r) => a + r.smcs, 0);
    const ms = rs.reduce((a, r) => a + r.ms, 0);
    const busy = rs.reduce((a, r) => a + r.busy * r.ms, 0) / ms;
    return { smcs, ms, busy };
  };
  const line = (label: string, smcs: number, ms: number, extra: string) =>
    console.log(
      `  ${label.padEnd(34)} ${String(rate(smcs, ms)).padStart(7)} host SMCs/s (${smcs} SMCs in ${(ms / 1000).toFixed(1)} s${extra})`,
    );
  const t1 = total(rows.one);
  const t2 = total(rows.two);
  line(
    `first ${WARM} sequences, 1 thread`,
    warm1.smcs,
    warm1.ms,
    ' incl. thread start and JIT warm-up, untimed below',
  );
  line(`first ${WARM} sequences, 2 threads`, warm2.smcs, warm2.ms, `: ×${(warm1.ms / warm2.ms).toFixed(2)}`);
  line('1 worker thread', t1.smcs, t1.ms, `, threads busy ${Math.round(t1.busy * 100)}%`);
  line('2 worker threads', t2.smcs, t2.ms, `, threads busy ${Math.round(t2.busy * 100)}%`);
  const ratios = rows.one.map((r, k) => r.ms / rows.two[k]!.ms);
  // The machine's ceiling: two independent one-thread campaigns at once, each warmed up and timed as above.
  const pair = await Promise.all(
    [0, 1].map(async () => {
      const c = open(1);
      await c.runTo(WARM);
      const r = await c.runTo(WARM + (WINDOW * WINDOWS) / 2);
      await c.close();
      return r;
    }),
  );
  const ceiling = rate(pair[0]!.smcs + pair[1]!.smcs, Math.max(pair[0]!.ms, pair[1]!.ms));
  line(
    'machine: 2 independent campaigns',
    pair[0]!.smcs + pair[1]!.smcs,
    Math.max(pair[0]!.ms, pair[1]!.ms),
    '',
  );
  const r1 = rate(t1.smcs, t1.ms);
  const speedup = median(ratios);
  console.log(
    `  speed-up ×${speedup.toFixed(2)} vs 1 thread, median of ${WINDOWS} windows (${ratios.map((r) => r.toFixed(2)).join(' ')}; target ≥ 1.8× on 2 cores); the machine's own ×${(ceiling / r1).toFixed(2)}`,
  );
}
