/** `ffasim replay FILE`: one JSON line per action. Bad files → located error, exit 2, nothing run. */
import { acrossProfiles, acrossToText } from '../check/across.ts';
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

interface ReplayOpts {
  profile?: string;
  with?: string[];
  without?: string[];
  world?: string;
  json?: boolean;
  allowEmpty?: boolean;
}

export function runReplayCommand(file: string, o: ReplayOpts): number {
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
  const world = createWorld({ profile, trace: false, ...(config ? { config } : {}) });
  let out = '';
  for (const a of r.actions) out += `${JSON.stringify(runAction(world, a))}\n`;
  writeOutput(out, undefined);
  return 0;
}
