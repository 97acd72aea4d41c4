/**
 * Helpers every subcommand shares: reading inputs, writing outputs, loading `--world`, resolving a profile.
 * Commands import these; `main.ts` imports the commands (never the other way round).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CHANGES, createProfile, PROFILES, type Profile, ProfileError } from '../hyp/profiles.ts';
import { parseWorldConfig, type WorldConfig } from '../world/config.ts';
import { UsageError } from './errors.ts';
import { unknownName } from './suggest.ts';

export { UsageError };

/** Reads a file (or stdin for `-`). @throws UsageError when it cannot be read. */
export function readInput(path: string): Buffer {
  try {
    return readFileSync(path === '-' ? 0 : path);
  } catch (e) {
    throw new UsageError(
      `cannot read ${path === '-' ? 'standard input' : path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
}

/** Writes output to a file, or returns it for stdout. */
export function writeOutput(text: string, out: string | undefined): void {
  if (out === undefined) process.stdout.write(text);
  else {
    try {
      writeFileSync(out, text);
    } catch (e) {
      throw new UsageError(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
}

/** Loads and validates `--world FILE`. @throws UsageError with every located problem. */
export function loadWorld(path: string | undefined): WorldConfig | undefined {
  if (path === undefined) return undefined;
  const text = readInput(path).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  const r = parseWorldConfig(json);
  if (!r.ok)
    throw new UsageError(
      `${path}: invalid world:\n${r.errors.map((x) => `  ${x.path}: ${x.message}`).join('\n')}`,
    );
  return r.value;
}

/** `--profile/--with/--without` → a Profile. @throws UsageError for unknown names (with the closest known ones). */
export function profileFrom(o: { profile?: string; with?: string[]; without?: string[] }) {
  const profiles = PROFILES.map((p) => p.name);
  if (o.profile !== undefined && !profiles.includes(o.profile))
    throw new UsageError(unknownName('profile', o.profile, profiles, { hint: "see 'ffasim profiles'" }));
  const changes = CHANGES.map((c) => c.id);
  for (const [flag, ids] of [
    ['--with', o.with ?? []],
    ['--without', o.without ?? []],
  ] as const)
    for (const id of ids)
      if (!changes.includes(id))
        throw new UsageError(
          `${flag}: ${unknownName('change', id, changes, { hint: "see 'ffasim profiles'" })}`,
        );
  try {
    return createProfile(o.profile, { with: o.with ?? [], without: o.without ?? [] });
  } catch (e) {
    if (e instanceof ProfileError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * `--profile all` or `--profile a,b,c` → the profiles to compare (each with the same --with/--without); a single
 * name → undefined (the ordinary one-profile run).
 * @throws UsageError for an unknown name.
 */
export function profilesFrom(o: {
  profile?: string;
  with?: string[];
  without?: string[];
}): Profile[] | undefined {
  const p = o.profile ?? '';
  if (p !== 'all' && !p.includes(',')) return undefined;
  const names = p === 'all' ? PROFILES.map((x) => x.name) : p.split(',').map((x) => x.trim());
  if (names.some((x) => x === '')) throw new UsageError(`--profile ${p}: an empty profile name in the list`);
  if (new Set(names).size !== names.length) throw new UsageError(`--profile ${p}: a profile is named twice`);
  if (names.length < 2) throw new UsageError(`--profile ${p}: name at least two profiles to compare`);
  return names.map((name) => profileFrom({ ...o, profile: name }));
}

/** A warning on standard error (the run goes on): `ffasim: warning: …`. */
export function warn(message: string): void {
  process.stderr.write(`ffasim: warning: ${message}\n`);
}

/**
 * An integer option (`--seed`, `--runs`, `--port`, `--count`): decimal or 0x-hex digits only, in `min..max`.
 * @throws UsageError naming the option and what was given (`--runs abc`, `-1`, `1.5`, `''`).
 */
export function intOption(flag: string, text: string, min: number, max: number, what?: string): number {
  const n = /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} must be ${what ?? `an integer in ${min}..${max}`}, got '${text}'`);
  return n;
}

/** A positive number of seconds (`--time 60`, `--time 0.5`). @throws UsageError for anything else. */
export function secondsOption(flag: string, text: string): number {
  const n = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!(n > 0) || !Number.isFinite(n))
    throw new UsageError(`${flag} must be a positive number of seconds, got '${text}'`);
  return n;
}

/** `no actions in FILE`, the error for an empty replay or decode input (exit 2) unless `--allow-empty`. */
export function emptyInput(
  where: string,
  what = 'actions',
  only = 'blank lines, comments or a header line',
): UsageError {
  return new UsageError(`no ${what} in ${where} (${only} only); --allow-empty accepts an empty input`);
}
