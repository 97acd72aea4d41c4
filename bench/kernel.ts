/**
 * Kernel mode (issue 12 item 8): the real ffa.c of each Debian tree in the cache, beside the model proxy on the
 * same run. A forwarded DIRECT_REQ and a 1-page share+reclaim through the code (no sanitizers, in this process),
 * with the ratio to the model path; then fuzzing through the code as `fuzz --kernel` does it (a worker process,
 * invariants after every call) without sanitizers and with ASan + UBSan. Targets: ≥ 20 000 host SMCs/s on one
 * core without sanitizers, ≥ 5 000 with ASan. A tree that is not in the cache and cannot be fetched here is a
 * SKIPPED line naming the command that fetches it.
 */
import { buildKernel, type Sanitizer } from '../src/kernel/build.ts';
import { kernelCampaign } from '../src/kernel/campaign.ts';
import { ensureDebianTree } from '../src/kernel/fetch.ts';
import { kernelHyp } from '../src/kernel/hyp.ts';
import { defaultWorldConfig } from '../src/world/config.ts';
import { type BenchResult, printResults } from './harness.ts';
import { benchDirectReq, benchShare1, readyWorld } from './proxy.ts';

/** 6.12 leaks stale hyp stack in FFA_VERSION's reply (H16): I3 would end nearly every sequence at its first call. */
const TREES = [
  { spec: 'debian:7.3', profile: 'linux-7.3', ignore: [] },
  { spec: 'debian:6.12', profile: 'linux-6.12', ignore: ['I3'] },
] as const;

/** Seconds of fuzzing per build. */
const FUZZ_S = 8;

async function fuzzRate(tree: string, t: (typeof TREES)[number], sanitize: Sanitizer[]): Promise<string> {
  const build = buildKernel(tree, { sanitize });
  const r = await kernelCampaign({
    build,
    setup: {
      tree,
      build: { sanitize, stackInit: build.stackInit, coverage: false, pageSize: build.pageSize },
      profile: { base: t.profile, with: [], without: [] },
      config: defaultWorldConfig(),
      ignore: [...t.ignore],
      seed: 1,
      maxLength: 24,
    },
    timeMs: FUZZ_S * 1000,
    shrinkRuns: 0,
  });
  const rate = Math.round((r.smcs * 1000) / r.ms);
  const target = sanitize.length === 0 ? 20_000 : 5_000;
  const label = sanitize.length === 0 ? 'no sanitizers' : sanitize.join(' + ');
  return `  fuzz, ${label.padEnd(19)} ${String(rate).padStart(7)} host SMCs/s  ×${(rate / target).toFixed(2)} of the target (≥ ${target.toLocaleString('en')}/s): ${r.runs} sequences, ${r.smcs} SMCs in ${(r.ms / 1000).toFixed(1)} s, ${r.findings.length} finding(s), ${r.workers} worker(s)${r.workers > 1 ? ' (the code crashed the others: a restart each)' : ''}`;
}

export async function benchKernel(): Promise<void> {
  for (const t of TREES) {
    let tree: string;
    try {
      tree = (await ensureDebianTree(t.spec)).path;
    } catch (e) {
      console.log(
        `\nSKIPPED: kernel mode on ${t.spec}: ${e instanceof Error ? e.message : String(e)}\n  run: ./bin/ffasim.js kernel fetch ${t.spec}`,
      );
      continue;
    }
    const build = buildKernel(tree, { sanitize: [] });
    const model = readyWorld();
    const real = readyWorld(kernelHyp(build));
    const results: BenchResult[] = [];
    for (const [what, fn] of [
      ['forwarded DIRECT_REQ_64 round trip', benchDirectReq],
      ['MEM_SHARE + MEM_RECLAIM of 1 page', benchShare1],
    ] as const) {
      const m = fn(model, `${what}, model proxy`);
      const k = fn(real, `${what}, ${build.label} (no sanitizers)`);
      k.ratio = k.nsPerOp / m.nsPerOp;
      k.target = 'ratio to the model proxy';
      results.push(m, k);
    }
    printResults(`Kernel mode: ${build.label} (${t.spec}) beside the model proxy, ns per operation`, results);
    console.log(
      `Kernel fuzzing: ${build.label}, profile ${t.profile}${t.ignore.length > 0 ? ` (ignoring ${t.ignore.join(', ')})` : ''}, well-behaved SPMC, ${FUZZ_S} s per build, one worker`,
    );
    console.log(await fuzzRate(tree, t, []));
    console.log(await fuzzRate(tree, t, ['address', 'undefined']));
  }
}
