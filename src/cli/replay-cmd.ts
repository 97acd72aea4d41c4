/** `ffasim replay FILE`: one JSON line per action. Bad files → located error, exit 2, nothing run. */
import { acrossProfiles, acrossToText } from '../check/across.ts';
import { describeOob } from '../hyp/bufview.ts';
import { parseReplay, replayScenario, runAction } from '../scenario/replay.ts';
import { createWorld } from '../world/world.ts';
import {
  emptyInput,
  loadWorld,
  profileFrom,
  profilesFrom,
  readInput,
  UsageError,
  warn,
  writeOutput,
} from './common.ts';
import { type KernelCliOpts, kernelHypOption } from './kernel-opt.ts';

interface ReplayOpts extends KernelCliOpts {
  profile?: string;
  with?: string[];
  without?: string[];
  world?: string;
  json?: boolean;
  allowEmpty?: boolean;
}

export async function runReplayCommand(file: string, o: ReplayOpts): Promise<number> {
  const text = readInput(file).toString('utf8');
  const where = file === '-' ? 'stdin' : file;
  const cliWorld = loadWorld(o.world);
  const parsed = parseReplay(text, where, cliWorld === undefined ? {} : { world: cliWorld });
  if (!parsed.ok) throw new UsageError(parsed.error);
  const r = parsed.value;
  if (r.actions.length === 0 && o.allowEmpty !== true) throw emptyInput(where);
  for (const w of r.warnings) warn(w);
  const config = cliWorld ?? r.world;
  // Several profiles: the file's actions on each (with only the command line's --with/--without: the file's own
  // changes belong to its profile), compared call by call; exit 0 whatever differs.
  const across = profilesFrom({
    ...(o.profile === undefined ? {} : { profile: o.profile }),
    with: o.with ?? [],
    without: o.without ?? [],
  });
  if (across !== undefined && o.kernel !== undefined)
    throw new UsageError('--kernel runs one hyp: it does not go with --profile all or a,b,c');
  if (across !== undefined) {
    const s = replayScenario(text, where, cliWorld === undefined ? {} : { world: cliWorld });
    if (!s.ok) throw new UsageError(s.error);
    const { world: _fileWorld, ...scenario } = s.value;
    const report = acrossProfiles(scenario, across, config ? { config } : {});
    writeOutput(o.json ? `${JSON.stringify(report)}\n` : acrossToText(report), undefined);
    return 0;
  }
  if (o.json)
    throw new UsageError('--json goes with --profile all or a,b,c (replay output is JSON lines already)');
  // Command-line options win over the file's header line.
  const profile = profileFrom({
    profile: o.profile ?? r.profile ?? 'ffa-1.2',
    with: [...r.with, ...(o.with ?? [])],
    without: [...r.without, ...(o.without ?? [])],
  });
  const hyp = await kernelHypOption(o, config?.pageSize ?? 4096);
  if (typeof hyp === 'number') return hyp;
  const world = createWorld({
    profile,
    trace: false,
    ...(config ? { config } : {}),
    ...(hyp ? { hyp } : {}),
  });
  let out = '';
  for (const a of r.actions) out += `${JSON.stringify(runAction(world, a))}\n`;
  writeOutput(out, undefined);
  // What EL2 did wrong on the way (a fuzz finding's replay reproduces it): on stderr, and exit 1.
  const c = world.hyp.counters;
  const el2 = [
    ...c.oob.map((a) => `${describeOob(a)} (I6)`),
    ...c.hangs.map((h) => `EL2 livelock (I6): ${h}`),
    ...c.warns.map((w) => (w.startsWith('BUG ') ? `EL2 ${w}` : `EL2 WARN ${w}`)),
    ...c.leaks.map((l) => `hyp stack in host registers (I3): ${l.call} x${l.regs.join(', x')}`),
  ];
  // Model replays keep stderr for what is fatal; kernel mode also shows the real code's WARNs and leaks.
  const fatalOnly = o.kernel === undefined;
  for (const e of el2)
    if (!fatalOnly || /^EL2 (out-of-bounds|livelock|BUG)/.test(e)) process.stderr.write(`ffasim: ${e}\n`);
  // Exit 1 for what EL2 must never do (I6, BUG); a WARN or a stale-stack leak is reported, not fatal.
  const fatal = c.oob.length + c.hangs.length + c.warns.filter((w) => w.startsWith('BUG ')).length;
  return fatal === 0 ? 0 : 1;
}
