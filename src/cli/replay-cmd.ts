/** `ffasim replay FILE`: one JSON line per action. Bad files → located error, exit 2, nothing run. */
import { parseReplay, runAction } from '../scenario/replay.ts';
import { createWorld } from '../world/world.ts';
import { loadWorld, profileFrom, readInput, UsageError, writeOutput } from './common.ts';

interface ReplayOpts {
  profile?: string;
  with?: string[];
  without?: string[];
  world?: string;
}

export function runReplayCommand(file: string, o: ReplayOpts): number {
  const text = readInput(file).toString('utf8');
  const parsed = parseReplay(text, file === '-' ? 'stdin' : file);
  if (!parsed.ok) throw new UsageError(parsed.error);
  const r = parsed.value;
  // Command-line options win over the file's header line.
  const cliProfile = o.profile !== undefined && o.profile !== 'ffa-1.2' ? o.profile : undefined;
  const profile = profileFrom({
    profile: cliProfile ?? r.profile ?? 'ffa-1.2',
    with: [...r.with, ...(o.with ?? [])],
    without: [...r.without, ...(o.without ?? [])],
  });
  const config = loadWorld(o.world) ?? r.world;
  const world = createWorld({ profile, trace: false, ...(config ? { config } : {}) });
  let out = '';
  for (const a of r.actions) out += `${JSON.stringify(runAction(world, a))}\n`;
  writeOutput(out, undefined);
  return 0;
}
