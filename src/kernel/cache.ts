/**
 * ffasim's cache of kernel trees: where it is, what a cached tree looks like on disk, and a lock that keeps two
 * processes (two vitest workers, two shells) from fetching into it at the same time.
 *
 * Layout under the cache directory (`$FFASIM_CACHE`, else `$XDG_CACHE_HOME/ffasim`, else `~/.cache/ffasim`):
 *
 *     trees/debian-<debian version>/   kernel-relative paths (arch/arm64/kvm/hyp/nvhe/ffa.c, …) + ffasim-tree.json
 *     apt/                             private apt state: ffasim.sources, lists/, cache/, state.json
 *     tmp/                             downloads and extractions in progress (renamed into trees/ when complete)
 *     locks/                           one directory per held lock, holding owner.json
 *
 * Kernel source is GPL-2.0: it lives only here, on the user's machine, never in the repository or the package.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';

/** The file each fetched tree carries at its root. */
export const MANIFEST = 'ffasim-tree.json';
export const MANIFEST_SCHEMA = 'ffasim-kernel-tree/1';

/** The proxy source, relative to a tree's root. */
export const FFA_C = 'arch/arm64/kvm/hyp/nvhe/ffa.c';

/** What `ffasim kernel fetch` writes beside a tree's files. */
export interface TreeManifest {
  schema: typeof MANIFEST_SCHEMA;
  source: 'debian';
  /** Debian binary package, e.g. `linux-source-7.3`. */
  package: string;
  /** Debian package version, e.g. `7.3.4-1~bpo13+1`. */
  debianVersion: string;
  /** From the tree's top Makefile: VERSION.PATCHLEVEL.SUBLEVEL plus EXTRAVERSION, e.g. `7.3.4`. */
  kernelVersion: string;
  /** sha256 of arch/arm64/kvm/hyp/nvhe/ffa.c, hex. */
  ffaSha256: string;
  /** Line count of ffa.c. */
  ffaLines: number;
  /** Every file extracted, kernel-relative, sorted. */
  files: string[];
  /** ISO 8601. */
  fetchedAt: string;
}

/** A kernel tree as the other commands see it: a fetched one (with its manifest) or a user's own checkout. */
export interface TreeInfo {
  path: string;
  /** From the top Makefile; undefined when the directory has none. */
  kernelVersion: string | undefined;
  /** sha256 of ffa.c; undefined when the tree has no ffa.c. */
  ffaSha256: string | undefined;
  /** Present for trees `kernel fetch` made. */
  manifest: TreeManifest | undefined;
}

/**
 * The cache directory: `FFASIM_CACHE`, else `$XDG_CACHE_HOME/ffasim`, else `~/.cache/ffasim`. Relative values
 * of either variable are ignored, as the XDG base directory spec asks.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = env.FFASIM_CACHE;
  if (own !== undefined && own !== '') return own;
  const xdg = env.XDG_CACHE_HOME;
  if (xdg?.startsWith('/')) return join(xdg, 'ffasim');
  return join(homedir(), '.cache', 'ffasim');
}

export function treesDir(cache: string): string {
  return join(cache, 'trees');
}

/** `debian-7.3.4-1~bpo13+1`: the Debian version with anything but `[A-Za-z0-9.+~-]` (an epoch's colon) as `_`. */
export function treeDirName(debianVersion: string): string {
  return `debian-${debianVersion.replace(/[^A-Za-z0-9.+~-]/g, '_')}`;
}

/**
 * The kernel version a top-level Makefile declares (`VERSION = 7`, `PATCHLEVEL = 3`, `SUBLEVEL = 4`,
 * `EXTRAVERSION = -rc1`), or undefined when VERSION/PATCHLEVEL are missing.
 */
export function kernelVersionFromMakefile(text: string): string | undefined {
  const field = (name: string): string | undefined => {
    const m = text.match(new RegExp(`^${name}\\s*=[ \\t]*(\\S*)[ \\t]*$`, 'm'));
    return m?.[1];
  };
  const v = field('VERSION');
  const p = field('PATCHLEVEL');
  if (v === undefined || p === undefined || v === '' || p === '') return undefined;
  const s = field('SUBLEVEL');
  return `${v}.${p}${s !== undefined && s !== '' ? `.${s}` : ''}${field('EXTRAVERSION') ?? ''}`;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Parses a manifest; undefined when the text is not one (a foreign or half-written file). */
export function parseManifest(text: string): TreeManifest | undefined {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof j !== 'object' || j === null) return undefined;
  const m = j as Record<string, unknown>;
  const str = (k: string) => typeof m[k] === 'string';
  if (m.schema !== MANIFEST_SCHEMA || m.source !== 'debian') return undefined;
  if (!['package', 'debianVersion', 'kernelVersion', 'ffaSha256', 'fetchedAt'].every(str)) return undefined;
  if (typeof m.ffaLines !== 'number' || !Array.isArray(m.files)) return undefined;
  return j as TreeManifest;
}

/** What a directory is as a kernel tree: its manifest if `kernel fetch` made it, else read from its files. */
export function readTreeInfo(path: string): TreeInfo {
  let manifest: TreeManifest | undefined;
  try {
    manifest = parseManifest(readFileSync(join(path, MANIFEST), 'utf8'));
  } catch {
    manifest = undefined;
  }
  if (manifest !== undefined)
    return { path, kernelVersion: manifest.kernelVersion, ffaSha256: manifest.ffaSha256, manifest };
  let kernelVersion: string | undefined;
  try {
    kernelVersion = kernelVersionFromMakefile(readFileSync(join(path, 'Makefile'), 'utf8'));
  } catch {
    kernelVersion = undefined;
  }
  let ffaSha256: string | undefined;
  try {
    ffaSha256 = sha256Hex(readFileSync(join(path, FFA_C)));
  } catch {
    ffaSha256 = undefined;
  }
  return { path, kernelVersion, ffaSha256, manifest: undefined };
}

/** A tree in the cache: its directory and manifest. */
export interface CachedTree {
  path: string;
  manifest: TreeManifest;
}

/** Every complete tree in the cache (a directory whose manifest parses), sorted by directory name. */
export function listCachedTrees(cache: string = cacheDir()): CachedTree[] {
  const dir = treesDir(cache);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  const out: CachedTree[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      const manifest = parseManifest(readFileSync(join(path, MANIFEST), 'utf8'));
      if (manifest !== undefined) out.push({ path, manifest });
    } catch {
      // Not a tree (no manifest): ignored, as a half-written one would be.
    }
  }
  return out;
}

/** Who holds a lock (written into the lock directory as owner.json). */
interface LockOwner {
  pid: number;
  host: string;
  at: string;
}

/** A lock not released within the wait: names the lock and its owner. */
export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError';
  readonly lockPath: string;
  readonly owner: string;
  constructor(lockPath: string, owner: string) {
    super(`timed out waiting for ${lockPath} (held by ${owner}); remove it if that process is gone`);
    this.lockPath = lockPath;
    this.owner = owner;
  }
}

function readOwner(dir: string): { text: string; owner: LockOwner | undefined } {
  try {
    const text = readFileSync(join(dir, 'owner.json'), 'utf8');
    const j = JSON.parse(text) as Partial<LockOwner>;
    if (typeof j.pid === 'number' && typeof j.host === 'string' && typeof j.at === 'string')
      return { text, owner: j as LockOwner };
    return { text, owner: undefined };
  } catch {
    return { text: '', owner: undefined };
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LockOptions {
  /** Give up after this long (default 15 minutes: a first fetch of two trees on a slow line). */
  timeoutMs?: number;
  /** Poll interval (default 200 ms). */
  pollMs?: number;
  /** Called once when the lock is busy, with its owner, so a CLI can say why it waits. */
  onWait?: (owner: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `fn` holding the lock `<cache>/locks/<name>` (a directory: `mkdir` is atomic). A lock whose owner
 * process is gone (same host, pid not alive) or that has no readable owner after a grace period is taken
 * over. Waiters in the same process queue like other processes do (the owner pid is alive).
 * @throws LockTimeoutError when the lock stays held past `timeoutMs`.
 */
export async function withLock<T>(
  cache: string,
  name: string,
  fn: () => Promise<T>,
  o: LockOptions = {},
): Promise<T> {
  const locks = join(cache, 'locks');
  mkdirSync(locks, { recursive: true });
  const dir = join(locks, name);
  const deadline = Date.now() + (o.timeoutMs ?? 15 * 60_000);
  let told = false;
  let ownerless = 0;
  for (;;) {
    try {
      mkdirSync(dir);
      const me: LockOwner = { pid: process.pid, host: hostname(), at: new Date().toISOString() };
      writeFileSync(join(dir, 'owner.json'), JSON.stringify(me));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const { text, owner } = readOwner(dir);
    // Owner gone, or no owner file for ~2 s (its writer died between mkdir and write): take the lock over.
    // Rename first so that of two processes taking over, one wins and the other retries mkdir.
    ownerless = owner === undefined ? ownerless + 1 : 0;
    const stale =
      (owner !== undefined && owner.host === hostname() && !alive(owner.pid)) ||
      (owner === undefined && ownerless > 10);
    if (stale && readOwner(dir).text === text) {
      const aside = `${dir}.stale-${process.pid}-${Date.now()}`;
      try {
        renameSync(dir, aside);
        rmSync(aside, { recursive: true, force: true });
      } catch {
        // Someone else took it over first: retry.
      }
      continue;
    }
    const who =
      owner === undefined ? 'an unknown process' : `pid ${owner.pid} on ${owner.host} since ${owner.at}`;
    if (!told) {
      o.onWait?.(who);
      told = true;
    }
    if (Date.now() > deadline) throw new LockTimeoutError(dir, who);
    await sleep(o.pollMs ?? 200);
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True when `dir` holds a complete tree (its manifest parses). */
export function isCompleteTree(dir: string): boolean {
  if (!existsSync(join(dir, MANIFEST))) return false;
  try {
    return parseManifest(readFileSync(join(dir, MANIFEST), 'utf8')) !== undefined;
  } catch {
    return false;
  }
}
