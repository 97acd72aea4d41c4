/**
 * Profile diffs (`ffasim profiles --diff A B`): run the same probes on two profiles and list where they behave
 * differently, each difference named by the profile changes that cause it. A probe is a small flow against a
 * fresh world whose observable outcome is summarised as a string; probes declare which changes they observe, so
 * the table can say which of the changes between A and B is responsible.
 */
import { FFA, FFA_FUNCTIONS, ffaName } from '../ffa/ids.ts';
import { changeById, type Profile } from '../hyp/profiles.ts';
import { RegisterFile } from '../smccc/regs.ts';
import type { TraceEvent } from '../trace/events.ts';
import { defaultWorldConfig, type WorldConfig } from '../world/config.ts';
import { createWorld, type World, type WorldOptions } from '../world/world.ts';
import { disposition, resultLabel as outcome, outcomeOf, ready } from './observe.ts';

/** One behaviour probe. */
export interface Probe {
  id: string;
  /** What is probed, for the table. */
  what: string;
  /** Changes whose presence can alter the outcome (to name the cause of a difference). */
  changes: readonly string[];
  world?: (cfg: WorldConfig) => void;
  options?: Omit<WorldOptions, 'config' | 'profile' | 'trace'>;
  /** Negotiate 1.2 and map RXTX first (default true). */
  setup?: boolean;
  run(w: World): string;
}

export interface DiffRow {
  probe: string;
  what: string;
  a: string;
  b: string;
  /** Changes in exactly one of the two profiles that this probe observes. */
  changes: string[];
}

function rules(evs: readonly TraceEvent[]): string[] {
  return evs.filter((e) => e.kind === 'decision').map((e) => (e.kind === 'decision' ? e.rule : ''));
}

/** A v1.x share descriptor for `pages` host pages at `addr` (the hyp-facing layout of the negotiated version). */
function writeShare(
  w: World,
  o: { addr: number; pages: number; emadOffset?: number; decoy?: boolean },
): number {
  const tx = w.host.tx;
  const b = new Uint8Array(112);
  const v = new DataView(b.buffer);
  v.setUint16(2, 0x2f, true);
  v.setUint32(24, 32, true);
  v.setUint32(28, 1, true);
  v.setUint32(32, o.emadOffset ?? 48, true);
  v.setUint16(48, 0x8001, true);
  v.setUint8(50, 2);
  v.setUint32(52, 80, true);
  v.setUint32(80, o.pages, true);
  v.setUint32(84, 1, true);
  v.setBigUint64(96, BigInt(o.addr), true);
  v.setUint32(104, o.pages, true);
  w.mem.write(tx, b);
  return 112;
}

/** The changes that can alter how one function ID is dispatched (proxy-behaviour.md §2 and the matrix). */
function fidChanges(id: number): string[] {
  const out: string[] = [];
  if ((id & 0xffff) > 0x7f) out.push('ffa-range-ff');
  if (id >= FFA.NOTIFICATION_BITMAP_CREATE && id <= FFA.NOTIFICATION_INFO_GET) out.push('deny-notifications');
  if (
    id === FFA.MSG_SEND_DIRECT_REQ2 ||
    id === FFA.MSG_SEND_DIRECT_RESP2 ||
    id === FFA.CONSOLE_LOG ||
    id === FFA.PARTITION_INFO_GET_REGS
  ) {
    out.push('deny-ffa12-optional');
  }
  if (id === FFA.MSG_SEND_DIRECT_REQ2) out.push('direct-req2-forward');
  if (id === FFA.EL3_INTR_HANDLE) out.push('deny-el3-intr-handle');
  if (id === FFA.MSG_SEND_DIRECT_REQ) out.push('direct-req32-allow');
  if (id === FFA.MSG_SEND_DIRECT_RESP64) out.push('deny-fn64-direct-resp');
  if (id === FFA.PARTITION_INFO_GET) out.push('part-info-copy');
  return out;
}

/** The probe list: every FF-A function ID, then key behaviours and error paths. */
export function probes(): Probe[] {
  const out: Probe[] = [];
  for (const f of FFA_FUNCTIONS) {
    for (const id of [f.id32, f.id64]) {
      if (id === undefined || id === FFA.VERSION) continue;
      out.push({
        id: `fid/${ffaName(id)}`,
        what: `${ffaName(id)} (0x${id.toString(16)}) after negotiation`,
        changes: fidChanges(id),
        run: (w) => disposition(w, id),
      });
    }
  }
  out.push(
    {
      id: 'version/before-negotiation',
      what: 'FFA_ID_GET before any FFA_VERSION',
      changes: ['version-trap'],
      setup: false,
      run: (w) => outcomeOf(w, [FFA.ID_GET]),
    },
    {
      id: 'version/host-version',
      what: 'host FFA_VERSION(1.2)',
      changes: ['version-trap', 'hyp-ffa-v1-1', 'hyp-ffa-v1-2'],
      setup: false,
      run: (w) => {
        const r = w.smc([FFA.VERSION, 0x10002]);
        return `${disposition(w, FFA.VERSION)} → 0x${r.w(0).toString(16)}`;
      },
    },
    {
      id: 'version/downgrade-after-negotiation',
      what: 'FFA_VERSION(1.1) after 1.2 was negotiated',
      changes: ['version-downgrade-reject', 'version-trap'],
      run: (w) => outcome(w.smc([FFA.VERSION, 0x10001])),
    },
    {
      id: 'retval/smc32-handled',
      what: 'registers written back after an EL2-handled SMC32 call (RXTX_UNMAP w1≠0, x4–x17 preset)',
      changes: ['smccc12-retval-smc64', 'smccc12-retval-all'],
      run: (w) => {
        const regs = RegisterFile.of([
          FFA.RXTX_UNMAP,
          1,
          0,
          0,
          0xaa,
          0xaa,
          0xaa,
          0xaa,
          0xbb,
          0xbb,
          0xbb,
          0xbb,
          0xbb,
          0xbb,
          0xbb,
          0xbb,
          0xbb,
          0xbb,
        ]);
        const o = w.smc(regs);
        const kept = (i: number): boolean => !o.isZero(i);
        return `x4–x7 ${kept(4) ? 'caller values' : 'written'}, x8–x17 ${kept(8) ? 'caller values' : 'written'}`;
      },
    },
    {
      id: 'version/reply-registers',
      what: 'x1–x17 of a FFA_VERSION reply that issued no SMC (x1–x17 preset to 0xAA)',
      changes: ['zeroed-result', 'smccc12-retval-smc64', 'smccc12-retval-all', 'version-trap'],
      run: (w) => {
        w.smc([FFA.PARTITION_INFO_GET]); // a handled call that leaves non-zero x2/x3 in the handler's frame
        const o = w.smc([FFA.VERSION, 0x10002, ...new Array<number>(16).fill(0xaa)]);
        const cls = (from: number, to: number): string => {
          const kinds = new Set<string>();
          for (let i = from; i <= to; i++)
            kinds.add(o.isZero(i) ? '0' : o.x(i) === 0xaan ? 'caller' : 'stale');
          return [...kinds].sort().join('/');
        };
        return `x1–x3 ${cls(1, 3)}, x4–x7 ${cls(4, 7)}, x8–x17 ${cls(8, 17)}`;
      },
    },
    {
      id: 'mem-xfer/min-fraglen',
      what: 'smallest first fragment MEM_SHARE accepts past the length check',
      changes: ['mem-region-48b', 'emad-impdef-size', 'emad-offset-validate'],
      run: (w) => {
        for (const n of [48, 64, 80]) {
          const before = w.trace?.events.length ?? 0;
          w.smc([FFA.MEM_SHARE, n, n]);
          if (!rules((w.trace?.events ?? []).slice(before)).includes('mem-xfer/fraglen-min'))
            return `${n} bytes`;
        }
        return '> 80 bytes';
      },
    },
    {
      id: 'mem-xfer/len-over-desc-buf',
      what: 'MEM_SHARE with len > ffa_desc_buf (36 864) in the first call',
      changes: ['mem-len-check'],
      run: (w) => {
        const p = w.allocHostPages(1);
        const len = writeShare(w, { addr: p, pages: w.config.pageSize / 4096 });
        return `${outcomeOf(w, [FFA.MEM_SHARE, 36864 + 16, len])}, page ${w.stage2.hostState(p)}`;
      },
    },
    {
      id: 'mem-xfer/emad-placement',
      what: 'descriptor whose ep_mem_offset points past a decoy EMAD (H14)',
      changes: ['emad-offset-validate'],
      run: (w) => {
        const p = w.allocHostPages(1);
        writeShare(w, { addr: p, pages: w.config.pageSize / 4096, emadOffset: 0xfffffff0 });
        return outcomeOf(w, [FFA.MEM_SHARE, 112, 112]);
      },
    },
    {
      id: 'mem-xfer/unaligned-address',
      what: 'constituent address 0x800 into a host page (H15)',
      changes: ['page-aligned-ranges'],
      run: (w) => {
        const p = w.allocHostPages(1);
        writeShare(w, { addr: p + 0x800, pages: 1 });
        return `${outcomeOf(w, [FFA.MEM_SHARE, 112, 112])}, page ${w.stage2.hostState(p)}`;
      },
    },
    {
      id: 'features/rxtx-extra-bits',
      what: 'host FFA_VERSION when the SPMC sets w2[31:16] in FEATURES(RXTX_MAP) (H9)',
      changes: ['features-rxtx-mask', 'version-trap'],
      setup: false,
      world: (cfg) => {
        cfg.spmc.quirks.featuresRxtxExtraBits = 0x0001_0000;
      },
      run: (w) => (w.init.kind === 'failed' ? 'pKVM init fails' : outcome(w.smc([FFA.VERSION, 0x10002]))),
    },
    {
      id: 'reclaim/rx-release',
      what: 'share, reclaim, share, reclaim (H19)',
      changes: ['reclaim-rx-release'],
      run: (w) => {
        const p = w.allocHostPages(1);
        const res: string[] = [];
        for (let i = 0; i < 2; i++) {
          const s = w.host.memShare({
            receivers: [{ id: 0x8001, perm: 'RW' }],
            constituents: [{ address: p, pageCount: w.config.pageSize / 4096 }],
          });
          if (!s.ok) return `share ${i + 1}: ${s.error}`;
          const r = w.host.memReclaim(s.value.handle);
          res.push(r.ok ? 'ok' : r.error);
        }
        return `reclaims: ${res.join(', ')}`;
      },
    },
  );
  return out;
}

/**
 * Runs one probe on one profile and returns its outcome string (a crash is an outcome too). `hyp` runs it on
 * another hyp than the model proxy (kernel mode's real ffa.c: `kernel identify`).
 */
export function runProbe(p: Probe, profile: Profile, hyp?: WorldOptions['hyp']): string {
  const config = defaultWorldConfig();
  p.world?.(config);
  try {
    const w = createWorld({
      ...(p.options ?? {}),
      config,
      profile,
      trace: true,
      ...(hyp === undefined ? {} : { hyp }),
    });
    if (p.setup !== false) ready(w);
    return p.run(w);
  } catch (e) {
    return `model error: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** Compares two profiles over every probe. */
export function diffProfiles(a: Profile, b: Profile): DiffRow[] {
  const onlyOne = new Set([...a.changes.filter((c) => !b.has(c)), ...b.changes.filter((c) => !a.has(c))]);
  const rows: DiffRow[] = [];
  for (const p of probes()) {
    const ra = runProbe(p, a);
    const rb = runProbe(p, b);
    if (ra !== rb)
      rows.push({
        probe: p.id,
        what: p.what,
        a: ra,
        b: rb,
        changes: p.changes.filter((c) => onlyOne.has(c)),
      });
  }
  return rows;
}

/** A Markdown table a reviewer can paste into a mail. */
export function diffToMarkdown(a: Profile, b: Profile, rows: readonly DiffRow[]): string {
  let s = `| behaviour | ${a.name} | ${b.name} | change |\n|---|---|---|---|\n`;
  for (const r of rows) {
    const ch = r.changes.map((c) => `\`${c}\``).join(', ') || '—';
    s += `| ${r.what} | ${r.a} | ${r.b} | ${ch} |\n`;
  }
  const names = new Set(rows.flatMap((r) => r.changes));
  if (names.size > 0) {
    s += '\n';
    for (const c of names)
      s += `- \`${c}\`: ${changeById(c)?.effect ?? ''} — ${changeById(c)?.source ?? ''}\n`;
  }
  return s;
}
