/**
 * `ffasim fuzz`: an adversarial campaign with invariants after every call. Exit 0 no finding, 1 finding (its
 * shrunk replay file written to --out), 2 usage error.
 */
import { type FuzzReport, findingToReplay, fuzz, type ReplayLine } from '../check/fuzz.ts';
import { RegisterFile } from '../smccc/regs.ts';
import { describeCall } from '../trace/text.ts';
import { defaultWorldConfig, type WorldConfig } from '../world/config.ts';
import { intOption, loadWorld, profileFrom, secondsOption, UsageError, writeOutput } from './common.ts';
import { type ReportCase, toJUnit } from './reports.ts';
import { unknownName } from './suggest.ts';

interface FuzzOpts {
  profile?: string;
  with?: string[];
  without?: string[];
  world?: string;
  seed: string;
  runs?: string;
  time?: string;
  spmcQuirks?: string[];
  ignore?: string[];
  out: string;
  json?: boolean;
  format?: 'text' | 'json' | 'junit';
}

/** Named SPMC misbehaviours (JSON-expressible, so a finding's replay file carries them). */
export const QUIRK_PRESETS: Record<string, (q: WorldConfig['spmc']['quirks']) => void> = {
  'share-success64': (q) => {
    q.shareSuccess64 = true; // H20
  },
  'version-ns32': (q) => {
    q.versionNotSupported32 = true; // H17
  },
  'features-extra': (q) => {
    q.featuresRxtxExtraBits = 0x0001_0000; // H9
  },
  'retrieve-short': (q) => {
    q.retrievePatch = { offset: 52, value: 90, length: 96 }; // H13 (a): composite header past len
  },
  'retrieve-count': (q) => {
    q.retrievePatch = { offset: 84, value: 2 }; // H13 (b): addr_range_cnt past len
  },
  'frag-rx-long': (q) => {
    q.fragRxLengthAdd = 4096; // FRAG_TX lengths beyond the mailbox: the reclaim loop copies them unchecked
  },
  'frag-rx-zero': (q) => {
    q.fragRxLengthAdd = -65536; // zero-length fragments: the reclaim loop makes no progress
  },
  'retrieve-emad': (q) => {
    q.retrievePatch = { offset: 32, value: 48, length: 50 }; // H14 reclaim: EMAD past fraglen
  },
};

const INVARIANTS = ['I1', 'I2', 'I3', 'I4', 'I5', 'I6', 'I7'];

/** One replay line as a person reads it: a decoded host SMC, or the memory action as written. */
export function describeReplayLine(line: ReplayLine): string {
  const smc = line.smc;
  if (Array.isArray(smc)) {
    try {
      const regs = RegisterFile.of(smc.map((v) => BigInt(v as string | number)));
      return `smc ${describeCall(regs)}${line.cpu === undefined ? '' : ` on cpu${String(line.cpu)}`}`;
    } catch {
      return JSON.stringify(line);
    }
  }
  const write = line.write as { addr?: unknown; hex?: unknown } | undefined;
  if (write !== undefined && typeof write.hex === 'string')
    return `write ${write.hex.length / 2} bytes at ${String(write.addr)}: ${write.hex}`;
  if (typeof line['#'] === 'string') return `# ${line['#']}`;
  return JSON.stringify(line);
}

/**
 * The campaign as CI test cases: one per invariant I1–I7 (skipped where `--ignore`d), the broken one failing with
 * the decoded shrunk sequence and the replay file's path.
 */
function fuzzCases(r: FuzzReport, ignore: readonly string[], out: string): ReportCase[] {
  const suite = `${r.profile} seed ${r.seed}`;
  return INVARIANTS.map((inv): ReportCase => {
    const f = r.finding;
    if (f !== undefined && f.violation.invariant === inv) {
      const steps = f.replay.map((l, i) => `  ${i + 1}. ${describeReplayLine(l)}`).join('\n');
      return {
        name: inv,
        suite,
        failure: {
          message: `${inv}: ${f.violation.detail}`,
          detail: `${inv}: ${f.violation.detail}\nshrunk to ${f.actions.length} action(s), ${f.replay.length} replay line(s):\n${steps}\nreplay file: ${out}\nreproduce: ffasim replay ${out}`,
        },
        diag: { replay: out, actions: f.actions.length },
      };
    }
    if (ignore.includes(inv)) return { name: inv, suite, skipped: 'ignored (--ignore)' };
    return { name: inv, suite, diag: { sequences: r.runs, smcs: r.smcs } };
  });
}

export function runFuzzCommand(o: FuzzOpts): number {
  const profile = profileFrom(o);
  const config = loadWorld(o.world) ?? defaultWorldConfig();
  for (const q of o.spmcQuirks ?? []) {
    const apply = QUIRK_PRESETS[q];
    if (apply === undefined)
      throw new UsageError(`--spmc-quirks: ${unknownName('SPMC quirk', q, Object.keys(QUIRK_PRESETS))}`);
    apply(config.spmc.quirks);
  }
  for (const i of o.ignore ?? [])
    if (!INVARIANTS.includes(i)) throw new UsageError(`--ignore: ${unknownName('invariant', i, INVARIANTS)}`);
  if (INVARIANTS.every((i) => o.ignore?.includes(i)))
    throw new UsageError('--ignore names every invariant: the campaign would check nothing');
  const seed = intOption('--seed', o.seed, 0, 0xffff_ffff);
  const runs =
    o.runs === undefined
      ? undefined
      : intOption('--runs', o.runs, 1, Number.MAX_SAFE_INTEGER, 'a positive integer');
  const time = o.time === undefined ? undefined : secondsOption('--time', o.time);
  if (o.json && o.format !== undefined && o.format !== 'text' && o.format !== 'json')
    throw new UsageError(`--json is --format json: it does not go with --format ${o.format}`);
  const format = o.json ? 'json' : (o.format ?? 'text');
  const tty = process.stderr.isTTY === true && format === 'text';
  const report = fuzz({
    profile,
    config,
    seed,
    ...(runs === undefined && time === undefined ? { runs: 2000 } : {}),
    ...(runs === undefined ? {} : { runs }),
    ...(time === undefined ? {} : { timeMs: time * 1000 }),
    ...(o.ignore === undefined ? {} : { ignore: o.ignore }),
    now: () => performance.now(),
    ...(tty
      ? {
          progress: (smcs: number, ms: number) => {
            const rate = ms > 0 ? Math.round((smcs * 1000) / ms) : 0;
            process.stderr.write(`\r  ${smcs} host SMCs, ${(ms / 1000).toFixed(1)} s, ${rate} calls/s   `);
          },
        }
      : {}),
  });
  if (tty) process.stderr.write('\n');
  const rate = report.ms > 0 ? Math.round((report.smcs * 1000) / report.ms) : 0;
  if (report.finding !== undefined) writeOutput(findingToReplay(report, profile, config), o.out);
  if (format === 'junit') {
    writeOutput(
      toJUnit('ffasim fuzz', fuzzCases(report, o.ignore ?? [], o.out), { seconds: report.ms / 1000 }),
      undefined,
    );
  } else if (format === 'json') {
    writeOutput(
      `${JSON.stringify({
        profile: report.profile,
        seed: report.seed,
        runs: report.runs,
        smcs: report.smcs,
        ms: Math.round(report.ms),
        callsPerSecond: rate,
        finding:
          report.finding === undefined
            ? null
            : { ...report.finding.violation, actions: report.finding.actions.length, replay: o.out },
      })}\n`,
      undefined,
    );
  } else {
    let s = `fuzz ${report.profile} seed ${report.seed}: ${report.runs} sequences, ${report.smcs} host SMCs in ${(report.ms / 1000).toFixed(1)} s (${rate} calls/s, invariants after every call)\n`;
    if (report.finding === undefined) s += 'no invariant violated\n';
    else {
      s += `FINDING ${report.finding.violation.invariant}: ${report.finding.violation.detail}\n`;
      s += `  shrunk to ${report.finding.actions.length} action(s); replay written to ${o.out}\n`;
    }
    writeOutput(s, undefined);
  }
  return report.finding === undefined ? 0 : 1;
}
