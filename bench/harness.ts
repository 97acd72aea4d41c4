/** Tiny benchmark harness: warm up, then time batches until ~300 ms have passed; report the best batch. */
export interface BenchResult {
  name: string;
  nsPerOp: number;
  ops: number;
  ratio?: number;
  target?: string;
}

export function measure(name: string, fn: (iter: number) => unknown, budgetMs = 300): BenchResult {
  let iter = 1000;
  // Warm-up and calibrate to batches of roughly 20 ms.
  for (;;) {
    const t0 = performance.now();
    fn(iter);
    const dt = performance.now() - t0;
    if (dt > 20 || iter > 1e8) break;
    iter *= 2;
  }
  let best = Number.POSITIVE_INFINITY;
  let total = 0;
  const start = performance.now();
  while (performance.now() - start < budgetMs) {
    const t0 = performance.now();
    fn(iter);
    const ns = ((performance.now() - t0) * 1e6) / iter;
    if (ns < best) best = ns;
    total += iter;
  }
  return { name, nsPerOp: best, ops: total };
}

export function printResults(title: string, results: BenchResult[]): void {
  console.log(`\n${title}`);
  const w = results.reduce((m, r) => Math.max(m, r.name.length), 0);
  for (const r of results) {
    const ratio = r.ratio === undefined ? '' : `  ×${r.ratio.toFixed(2)}`;
    const target = r.target === undefined ? '' : `  (${r.target})`;
    console.log(`  ${r.name.padEnd(w)}  ${r.nsPerOp.toFixed(1).padStart(10)} ns/op${ratio}${target}`);
  }
}
