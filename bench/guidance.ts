/**
 * Does coverage guidance help? Time-to-find of known bugs (bug-history.md H6, H13, H14, H15, H20) and of the
 * FRAG_RX hazards a hostile SPMC exposes (fragment-length overflow, I6; zero-length spin, liveness), with and
 * without guidance, on the same seeds. Each cell: the median wall time to the first sequence showing the bug, over
 * the seeds (capped; `>cap` = not found). `npm run bench -- guidance`; FFASIM_BENCH_SEEDS / FFASIM_BENCH_CAP (s)
 * widen it, FFASIM_BENCH_ONLY=TEXT picks targets by name (the issue's goal: ≤ 60 s median over 10 fresh seeds for the FRAG_RX hazards on ffa-1.2).
 */
import {
  CampaignContext,
  type CampaignOptions,
  DEFAULT_BATCH,
  type Hit,
  initialState,
  inputAt,
  mergeResults,
  type SeqResult,
} from '../src/check/campaign.ts';
import { createProfile } from '../src/hyp/profiles.ts';
import { defaultWorldConfig, type WorldConfig } from '../src/world/config.ts';

interface Target {
  name: string;
  profile: string;
  hostile: boolean;
  cfg?: (c: WorldConfig) => void;
  ignore?: string[];
  hit: (h: Hit) => boolean;
}

const TARGETS: Target[] = [
  {
    name: 'H6 reclaim cannot buffer (I7)',
    profile: 'linux-6.11',
    hostile: false,
    ignore: ['I3'],
    hit: (h) => h.violation.invariant === 'I7' && /w2=-3/.test(h.violation.detail),
  },
  {
    name: 'H13 composite offset (I6), retrieve-short',
    profile: 'ffa-1.2',
    hostile: false,
    ignore: ['I3'],
    cfg: (c) => {
      c.spmc.quirks.retrievePatch = { offset: 52, value: 90, length: 96 };
    },
    hit: (h) => h.violation.invariant === 'I6',
  },
  {
    name: 'H14 EMAD at a fixed offset (I4)',
    profile: 'ffa-1.2',
    hostile: false,
    ignore: ['I3'],
    cfg: (c) => {
      c.host.driverVersion = '1.1';
      c.spmc.exactLength = false;
    },
    hit: (h) => h.violation.invariant === 'I4',
  },
  {
    name: 'H15 unaligned constituent, 16K (I1)',
    profile: 'ffa-1.2',
    hostile: false,
    ignore: ['I3'],
    cfg: (c) => {
      c.pageSize = 16384;
    },
    hit: (h) => h.violation.invariant === 'I1',
  },
  {
    name: 'H20 SUCCESS64 rollback (I1)',
    profile: 'ffa-1.2-hardened',
    hostile: false,
    cfg: (c) => {
      c.spmc.quirks.shareSuccess64 = true;
    },
    hit: (h) => h.violation.invariant === 'I1',
  },
  {
    name: 'FRAG_RX length overflow (I6), hostile, no quirk',
    profile: 'ffa-1.2',
    hostile: true,
    hit: (h) => h.key.endsWith('FFA_MEM_FRAG_RX:hyp-rx:past-end'),
  },
  {
    name: 'FRAG_RX zero-length spin (liveness), hostile',
    profile: 'ffa-1.2',
    hostile: true,
    hit: (h) => h.key.endsWith('FFA_MEM_FRAG_RX:livelock'),
  },
];

/** Seconds to the first sequence with a matching hit, or undefined within `capS`. */
export function timeToFind(t: Target, seed: number, guided: boolean, capS: number): number | undefined {
  const config = defaultWorldConfig();
  t.cfg?.(config);
  const o: CampaignOptions = {
    profile: createProfile(t.profile),
    config,
    seed,
    hostile: t.hostile,
    guided,
    ignore: t.ignore ?? [],
  };
  const ctx = new CampaignContext(o);
  const st = initialState();
  const t0 = performance.now();
  while (performance.now() - t0 < capS * 1000) {
    const rs: SeqResult[] = [];
    for (let i = st.next; i < st.next + DEFAULT_BATCH; i++) {
      const r = ctx.result(i, inputAt(o, st.corpus, st.batchCorpus, i));
      if (r.hits.some(t.hit)) return (performance.now() - t0) / 1000;
      rs.push(r);
    }
    mergeResults(ctx, st, rs);
  }
  return undefined;
}

function median(xs: (number | undefined)[], cap: number): string {
  const v = xs.map((x) => x ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
  const m = v.length % 2 === 1 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  const found = xs.filter((x) => x !== undefined).length;
  return `${Number.isFinite(m) ? `${m.toFixed(2)} s` : `>${cap} s`} (${found}/${xs.length})`;
}

export function benchGuidance(): void {
  const n = Number(process.env.FFASIM_BENCH_SEEDS ?? 3);
  const cap = Number(process.env.FFASIM_BENCH_CAP ?? 20);
  const seeds = Array.from({ length: n }, (_, i) => 1000 + i);
  console.log(
    `\nGuidance: median time-to-find over seeds ${seeds.join(', ')} (cap ${cap} s; found/seeds), same seeds both ways`,
  );
  console.log(`  ${'target'.padEnd(50)} ${'guided'.padStart(18)} ${'blind'.padStart(18)}`);
  const only = process.env.FFASIM_BENCH_ONLY;
  for (const t of TARGETS) {
    if (only !== undefined && !t.name.includes(only)) continue;
    const g = seeds.map((s) => timeToFind(t, s, true, cap));
    const b = seeds.map((s) => timeToFind(t, s, false, cap));
    console.log(`  ${t.name.padEnd(50)} ${median(g, cap).padStart(18)} ${median(b, cap).padStart(18)}`);
  }
}
