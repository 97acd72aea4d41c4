/** `ffasim profiles [--diff A B] [--json]`. */
import { diffProfiles, diffToMarkdown } from '../check/diff.ts';
import { CHANGES, DEFAULT_PROFILE, PROFILES } from '../hyp/profiles.ts';
import { profileFrom, UsageError, writeOutput } from './common.ts';

interface ProfilesOpts {
  diff?: string[];
  json?: boolean;
}

export function runProfilesCommand(o: ProfilesOpts): number {
  if (o.diff !== undefined) {
    if (o.diff.length !== 2) throw new UsageError('--diff takes exactly two profiles');
    const a = profileFrom({ profile: o.diff[0]! });
    const b = profileFrom({ profile: o.diff[1]! });
    const rows = diffProfiles(a, b);
    if (o.json)
      writeOutput(`${JSON.stringify({ a: a.name, b: b.name, differences: rows }, null, 2)}\n`, undefined);
    else
      writeOutput(
        rows.length === 0
          ? `${a.name} and ${b.name} behave the same on every probe\n`
          : diffToMarkdown(a, b, rows),
        undefined,
      );
    return 0;
  }
  if (o.json) {
    writeOutput(
      `${JSON.stringify({ default: DEFAULT_PROFILE, profiles: PROFILES, changes: CHANGES }, null, 2)}\n`,
      undefined,
    );
    return 0;
  }
  let s = 'Profiles (a profile is an ordered list of changes over the base proxy of v6.4–v6.9):\n\n';
  for (const p of PROFILES) {
    s += `  ${p.name}${p.name === DEFAULT_PROFILE ? ' (default)' : ''} — ${p.models}\n`;
    s += `    ${p.changes.length === 0 ? '(base only)' : p.changes.join(', ')}\n`;
  }
  s += '\nChanges:\n\n';
  for (const c of CHANGES) {
    const tags = [
      c.optional ? 'optional' : '',
      c.notModelled ? 'not modelled' : '',
      c.bugs ? c.bugs.join(' ') : '',
    ].filter(Boolean);
    s += `  ${c.id}${tags.length ? ` [${tags.join('; ')}]` : ''}\n    ${c.effect}\n    source: ${c.source}\n`;
  }
  writeOutput(s, undefined);
  return 0;
}
