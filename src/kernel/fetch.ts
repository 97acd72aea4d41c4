/**
 * `ffasim kernel fetch debian:<version>`: Debian's `linux-source-<series>` package, downloaded with apt into
 * ffasim's cache, reduced to the few files the kernel-mode harness needs (docs/kernel-mode.md § Fetching trees).
 *
 * The system's apt configuration and lists are never touched. apt runs with a private state directory in the
 * cache and a private sources list built at run time from the machine's own configured Debian source (its URIs
 * and Signed-By key, read from /etc/apt): the configured suites plus newer ones (`--suite`). No archive host
 * name is written anywhere in ffasim; the URI comes only from the system's files.
 *
 * A tree already in the cache is found without any apt call (instant, offline). Two processes fetching at once
 * (two vitest workers) serialise on locks in the cache, and a tree appears in `trees/` only complete (built in
 * `tmp/`, then renamed into place).
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import {
  type CachedTree,
  cacheDir as defaultCacheDir,
  FFA_C,
  isCompleteTree,
  kernelVersionFromMakefile,
  LockTimeoutError,
  listCachedTrees,
  MANIFEST,
  MANIFEST_SCHEMA,
  sha256Hex,
  type TreeManifest,
  treeDirName,
  treesDir,
  withLock,
} from './cache.ts';

// ---------------------------------------------------------------------------------------------------------
// Errors

export type KernelFetchErrorCode =
  | 'BAD_SPEC' // not debian:<version>
  | 'NO_APT' // apt-get / apt-cache / dpkg-deb / tar not found
  | 'NO_DEBIAN_SOURCE' // no Debian archive entry in the system's apt sources
  | 'NOT_ROOT' // apt failed on a permission and we are not root
  | 'UPDATE_FAILED' // apt-get update failed, or apt knows no linux-source-* at all (no network?)
  | 'UNKNOWN_VERSION' // apt knows linux-source-*, but none matches
  | 'DOWNLOAD_FAILED'
  | 'EXTRACT_FAILED'
  | 'NO_PROXY' // the package's tree has no arch/arm64/kvm/hyp/nvhe/ffa.c
  | 'LOCK_TIMEOUT';

/** A located failure of `kernel fetch`; the CLI prints `message` and exits 2. Tests assert on `code`. */
export class KernelFetchError extends Error {
  override readonly name = 'KernelFetchError';
  readonly code: KernelFetchErrorCode;
  constructor(code: KernelFetchErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The system's apt sources

/** One apt source entry, from either format, as the system wrote it. */
export interface AptSourceEntry {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  /** Signed-By as written: keyring paths / fingerprints, or an embedded key block (lines joined with \n). */
  signedBy: string | undefined;
  architectures: string[] | undefined;
  trusted: string | undefined;
  /** `file:line` of the entry, for messages and the private file's comments. */
  where: string;
}

/** Parses a one-line-style sources.list (`deb [opt=v ...] uri suite [component...]`). */
export function parseOneLineSources(text: string, file: string): AptSourceEntry[] {
  const out: AptSourceEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    let rest = line;
    const type = rest.match(/^(\S+)\s+/);
    if (type === null) return;
    rest = rest.slice(type[0].length);
    const opts: Record<string, string> = {};
    if (rest.startsWith('[')) {
      const end = rest.indexOf(']');
      if (end < 0) return;
      for (const kv of rest.slice(1, end).trim().split(/\s+/)) {
        const eq = kv.indexOf('=');
        if (eq > 0) opts[kv.slice(0, eq).toLowerCase()] = kv.slice(eq + 1);
      }
      rest = rest.slice(end + 1).trim();
    }
    const [uri, suite, ...components] = rest.split(/\s+/);
    if (uri === undefined || suite === undefined) return;
    out.push({
      types: [type[1]!],
      uris: [uri],
      suites: [suite],
      components,
      signedBy: opts['signed-by'],
      architectures: opts.arch?.split(','),
      trusted: opts.trusted,
      where: `${file}:${i + 1}`,
    });
  });
  return out;
}

/** Parses a deb822-style `.sources` file (paragraphs of `Field: value`, continuation lines, ` .` blank lines). */
export function parseDeb822Sources(text: string, file: string): AptSourceEntry[] {
  const out: AptSourceEntry[] = [];
  let fields = new Map<string, string[]>();
  let current: string[] | undefined;
  let start = 0;
  const flush = () => {
    if (fields.size > 0) {
      const list = (k: string) => fields.get(k)?.join(' ').trim().split(/\s+/).filter(Boolean);
      const one = (k: string) => fields.get(k)?.join('\n').trim();
      const enabled = one('enabled');
      const types = list('types') ?? [];
      const uris = list('uris') ?? [];
      const suites = list('suites') ?? [];
      if (enabled?.toLowerCase() !== 'no' && types.length > 0 && uris.length > 0 && suites.length > 0)
        out.push({
          types,
          uris,
          suites,
          components: list('components') ?? [],
          signedBy: one('signed-by'),
          architectures: list('architectures'),
          trusted: one('trusted'),
          where: `${file}:${start}`,
        });
    }
    fields = new Map();
    current = undefined;
  };
  text.split('\n').forEach((raw, i) => {
    if (raw.startsWith('#')) return;
    if (raw.trim() === '') {
      flush();
      return;
    }
    if (/^[ \t]/.test(raw)) {
      // Continuation: " ." stands for an empty line inside a multi-line value (an embedded key block).
      const t = raw.trim();
      current?.push(t === '.' ? '' : t);
      return;
    }
    const m = raw.match(/^([^:\s]+)\s*:\s*(.*)$/);
    if (m === null) return;
    if (fields.size === 0) start = i + 1;
    current = [m[2]!.trim()];
    fields.set(m[1]!.toLowerCase(), current);
  });
  flush();
  return out;
}

/**
 * The system's entries, in apt's order: `sources.list`, then `sources.list.d/*.list` and `*.sources` sorted by
 * name. Files that cannot be read are skipped (apt would complain about them, not us).
 */
export function readSystemSources(aptRoot = '/etc/apt'): AptSourceEntry[] {
  const out: AptSourceEntry[] = [];
  const main = join(aptRoot, 'sources.list');
  try {
    for (const e of parseOneLineSources(readFileSync(main, 'utf8'), main)) out.push(e);
  } catch {
    // No sources.list: modern systems keep everything in sources.list.d.
  }
  let names: string[] = [];
  try {
    names = readdirSync(join(aptRoot, 'sources.list.d')).sort();
  } catch {
    names = [];
  }
  for (const name of names) {
    const p = join(aptRoot, 'sources.list.d', name);
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch {
      continue;
    }
    const entries = name.endsWith('.list')
      ? parseOneLineSources(text, p)
      : name.endsWith('.sources')
        ? parseDeb822Sources(text, p)
        : [];
    for (const e of entries) out.push(e);
  }
  return out;
}

/** Debian's release code names and suite aliases (not host names: these are what `Suites:` says). */
const DEBIAN_SUITES = new Set(
  (
    'buzz rex bo hamm slink potato woody sarge etch lenny squeeze wheezy jessie stretch buster bullseye bookworm ' +
    'trixie forky duke sid experimental oldoldstable oldstable stable testing unstable'
  ).split(' '),
);

/** Debian's pockets after a code name (`bookworm-updates`); anything else (`stable-vendor`) is not Debian's. */
const DEBIAN_POCKETS = new Set(['updates', 'backports', 'backports-sloppy', 'proposed-updates', 'security']);

/** `bookworm`, `bookworm-updates` → archive; `bookworm-security`, `buster/updates` → security; else not Debian. */
function classifySuite(suite: string): 'archive' | 'security' | undefined {
  const m = suite.match(/^([a-z]+)(?:([-/])([a-z-]+))?$/);
  if (m === null || !DEBIAN_SUITES.has(m[1]!)) return undefined;
  if (m[3] === undefined) return 'archive';
  if (m[2] === '/') return m[3] === 'updates' ? 'security' : undefined;
  if (!DEBIAN_POCKETS.has(m[3])) return undefined;
  return m[3] === 'security' ? 'security' : 'archive';
}

/** The suites the private list adds by default: enough to resolve the 7.x series. */
export const DEFAULT_SUITES: readonly string[] = ['trixie', 'trixie-backports', 'sid'];

/** The Debian entries among the system's: binary (`deb`) entries whose every suite is a Debian suite. */
export function debianEntries(entries: readonly AptSourceEntry[]): {
  archive: AptSourceEntry[];
  security: AptSourceEntry[];
} {
  const archive: AptSourceEntry[] = [];
  const security: AptSourceEntry[] = [];
  for (const e of entries) {
    if (!e.types.includes('deb')) continue;
    const kinds = e.suites.map(classifySuite);
    if (kinds.some((k) => k === undefined)) continue;
    if (kinds.some((k) => k === 'archive')) archive.push(e);
    else security.push(e);
  }
  return { archive, security };
}

function stanza(e: AptSourceEntry, suites: readonly string[], comment: string): string {
  let s = `# ${comment}\nTypes: deb\nURIs: ${e.uris.join(' ')}\nSuites: ${suites.join(' ')}\n`;
  const components = e.components.length > 0 ? e.components : ['main'];
  s += `Components: ${components.join(' ')}\n`;
  if (e.architectures !== undefined) s += `Architectures: ${e.architectures.join(' ')}\n`;
  if (e.trusted !== undefined) s += `Trusted: ${e.trusted}\n`;
  if (e.signedBy !== undefined) {
    const lines = e.signedBy.split('\n');
    s += `Signed-By: ${lines[0]}\n`;
    for (const l of lines.slice(1)) s += ` ${l === '' ? '.' : l}\n`;
  }
  return s;
}

/**
 * The private deb822 sources list: every configured Debian entry as configured (binary only), and the first
 * archive entry's URIs, components and key again with the configured suites plus `suites`.
 * @throws KernelFetchError NO_DEBIAN_SOURCE when the system has no Debian archive entry.
 */
export function buildPrivateSources(
  entries: readonly AptSourceEntry[],
  suites: readonly string[] = DEFAULT_SUITES,
): string {
  const { archive, security } = debianEntries(entries);
  const first = archive[0];
  if (first === undefined)
    throw new KernelFetchError(
      'NO_DEBIAN_SOURCE',
      `no Debian archive entry in the system's apt sources (${entries.length} entries read from /etc/apt/sources.list and /etc/apt/sources.list.d/*.list, *.sources): kernel fetch derives its sources from the machine's own Debian source`,
    );
  let s =
    '# Written by `ffasim kernel fetch` from the system apt sources; read only with ffasim private apt state.\n\n';
  const seen = new Set<string>();
  const add = (e: AptSourceEntry, wanted: readonly string[], comment: string) => {
    const key = (suite: string) => `${e.uris.join(' ')} ${suite}`;
    const fresh = wanted.filter((x) => !seen.has(key(x)));
    for (const x of fresh) seen.add(key(x));
    if (fresh.length > 0) s += `${stanza(e, fresh, comment)}\n`;
  };
  for (const e of archive) add(e, e.suites, `as configured in ${e.where}`);
  for (const e of security) add(e, e.suites, `as configured in ${e.where}`);
  add(first, suites, `newer suites, on the archive of ${first.where}`);
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Versions

/** dpkg's order of a non-digit character: `~` before the end, letters before other characters. */
function charOrder(c: string | undefined): number {
  if (c === undefined || (c >= '0' && c <= '9')) return 0;
  if (c === '~') return -1;
  const code = c.charCodeAt(0);
  return /[A-Za-z]/.test(c) ? code : code + 256;
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** dpkg's verrevcmp: alternating non-digit (charOrder) and digit (numeric) runs. */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const d = charOrder(a[i]) - charOrder(b[j]);
      if (d !== 0) return d;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let first = 0;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (first === 0) first = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (first !== 0) return first;
  }
  return 0;
}

function splitVersion(v: string): { epoch: number; upstream: string; revision: string } {
  const colon = v.indexOf(':');
  const epoch = colon > 0 ? Number(v.slice(0, colon)) : 0;
  const rest = colon > 0 ? v.slice(colon + 1) : v;
  const dash = rest.lastIndexOf('-');
  return dash < 0
    ? { epoch, upstream: rest, revision: '' }
    : { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) };
}

/** Compares two Debian package versions as dpkg does (<0, 0, >0). */
export function compareDebianVersions(a: string, b: string): number {
  const x = splitVersion(a);
  const y = splitVersion(b);
  if (x.epoch !== y.epoch) return x.epoch - y.epoch;
  return verrevcmp(x.upstream, y.upstream) || verrevcmp(x.revision, y.revision);
}

/** What `debian:<version>` asks for. */
export interface KernelSpec {
  /** As given. */
  raw: string;
  /** `7` / `7.3` / `7.3.4` / `7.3.4-1~bpo13+1`. */
  version: string;
  kind: 'major' | 'series' | 'upstream' | 'exact';
}

/**
 * Parses `debian:7.3` (the newest linux-source-7.3), `debian:7` (the newest 7.x), `debian:7.3.4` (the newest
 * Debian revision of 7.3.4), `debian:7.3.4-1~bpo13+1` (exactly that). The `debian:` prefix may be omitted.
 * @throws KernelFetchError BAD_SPEC
 */
export function parseKernelSpec(raw: string): KernelSpec {
  const v = raw.startsWith('debian:') ? raw.slice('debian:'.length) : raw;
  if (/^\d+$/.test(v)) return { raw, version: v, kind: 'major' };
  if (/^\d+\.\d+$/.test(v)) return { raw, version: v, kind: 'series' };
  if (/^\d+\.\d+\.\d+$/.test(v)) return { raw, version: v, kind: 'upstream' };
  if (/^(\d+:)?\d+\.\d+[0-9A-Za-z.+~]*-[0-9A-Za-z.+~]+$/.test(v)) return { raw, version: v, kind: 'exact' };
  throw new KernelFetchError(
    'BAD_SPEC',
    `'${raw}' is not debian:<version> (e.g. debian:7.3, debian:6.12, debian:7.3.4, debian:7.3.4-1~bpo13+1); ` +
      'kernel fetch gets Debian trees only: for your own checkout, pass its directory to the other commands',
  );
}

/** The `linux-source-<major>.<minor>` series of a Debian package version (`7.3.4-1~bpo13+1` → `7.3`). */
function seriesOf(debianVersion: string): string | undefined {
  return splitVersion(debianVersion).upstream.match(/^(\d+\.\d+)/)?.[1];
}

/** Whether package `pkg` at Debian version `version` satisfies the spec. */
export function specMatches(spec: KernelSpec, pkg: string, version: string): boolean {
  const series = pkg.match(/^linux-source-(\d+\.\d+)$/)?.[1];
  if (series === undefined || seriesOf(version) !== series) return false;
  switch (spec.kind) {
    case 'major':
      return series.split('.')[0] === spec.version;
    case 'series':
      return series === spec.version;
    case 'upstream':
      // `7.3.4` matches upstream `7.3.4` and `7.3.4+ds`-style repacks, not `7.3.40`.
      return splitVersion(version).upstream.split(/[+~]/)[0] === spec.version;
    case 'exact':
      return version === spec.version;
  }
}

/** One line of `apt-cache madison`: package, version, and the suite it comes from. */
export interface AptCandidate {
  package: string;
  version: string;
  suite: string;
}

/** Parses `apt-cache madison` output (`pkg | version | uri suite/component arch Packages`). */
export function parseMadison(text: string): AptCandidate[] {
  const out: AptCandidate[] = [];
  for (const line of text.split('\n')) {
    const cols = line.split('|').map((c) => c.trim());
    if (cols.length < 3 || cols[0] === '' || cols[1] === '') continue;
    const where = cols[2]!.split(/\s+/);
    if (where[where.length - 1] !== 'Packages') continue; // a Sources line (deb-src) cannot be downloaded
    out.push({ package: cols[0]!, version: cols[1]!, suite: (where[1] ?? '').split('/')[0]! });
  }
  return out;
}

/** The newest candidate satisfying the spec (by package series, then Debian version), or undefined. */
export function resolveSpec(spec: KernelSpec, candidates: readonly AptCandidate[]): AptCandidate | undefined {
  let best: AptCandidate | undefined;
  for (const c of candidates) {
    if (!specMatches(spec, c.package, c.version)) continue;
    if (best === undefined || compareDebianVersions(c.version, best.version) > 0) best = c;
  }
  return best;
}

/** What apt knows, one line per package (newest series first), each version with its suite, newest first. */
export function describeCandidates(candidates: readonly AptCandidate[]): string {
  const byPkg = new Map<string, AptCandidate[]>();
  for (const c of candidates) {
    const list = byPkg.get(c.package);
    if (list === undefined) byPkg.set(c.package, [c]);
    else list.push(c);
  }
  const series = (p: string) => p.slice('linux-source-'.length);
  return [...byPkg.keys()]
    .sort((a, b) => compareDebianVersions(series(b), series(a)))
    .map((p) => {
      const vs = byPkg.get(p)!.sort((a, b) => compareDebianVersions(b.version, a.version));
      return `${p}: ${vs.map((c) => `${c.version} (${c.suite})`).join(', ')}`;
    })
    .join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Running tools

export interface RunResult {
  /** Exit status; null when the process did not start or died on a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** errno code when the process did not start (ENOENT: not installed). */
  spawnError?: string;
}

/** Runs a command and collects its output. Tests inject their own to record and answer apt calls. */
export type Runner = (cmd: string, args: readonly string[], o: { cwd?: string }) => Promise<RunResult>;

/** The real runner: no shell, LC_ALL=C so apt's and tar's messages are the ones we parse. */
export const spawnRunner: Runner = (cmd, args, o) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: o.cwd,
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let spawnError: string | undefined;
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e.code ?? String(e);
    });
    child.on('close', (code) => {
      const r: RunResult = {
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (spawnError !== undefined) r.spawnError = spawnError;
      resolve(r);
    });
  });

// ---------------------------------------------------------------------------------------------------------
// Fetching

/** Files the harness needs, relative to the tree root (`*` does not match `/`). */
export const TREE_FILES: readonly string[] = [
  'Makefile',
  FFA_C,
  'arch/arm64/kvm/hyp/include/nvhe/*.h',
  'include/linux/arm_ffa.h',
  'include/linux/arm-smccc.h',
  'arch/arm64/include/asm/kvm_pkvm.h',
];
/** Extracted when present, for reading alongside ffa.c (pKVM's page-state transitions). */
export const OPTIONAL_TREE_FILES: readonly string[] = ['arch/arm64/kvm/hyp/nvhe/mem_protect.c'];

export interface FetchOptions {
  /** Default: cacheDir() (FFASIM_CACHE, XDG_CACHE_HOME/ffasim, ~/.cache/ffasim). */
  cacheDir?: string;
  /** Suites added to the configured ones (default DEFAULT_SUITES). */
  suites?: readonly string[];
  /** Ask apt again (apt-get update) even when a matching tree is cached. */
  refresh?: boolean;
  /** Default spawnRunner. */
  runner?: Runner;
  /** Where the system's apt configuration is (default /etc/apt). */
  aptRoot?: string;
  /** Progress lines (the CLI writes them to stderr). */
  log?: (line: string) => void;
  /** Default: process.getuid() === 0. */
  isRoot?: boolean;
  /** Lists older than this are updated before resolving (default 24 h). */
  listsMaxAgeMs?: number;
  /** Lock wait (default 15 minutes). */
  lockTimeoutMs?: number;
}

/** A tree in the cache, as `ensureDebianTree` returns it. */
export interface FetchedTree extends TreeManifest {
  /** The tree's root: pass it to `--kernel`. */
  path: string;
  /** True when it was already in the cache (no apt call was made). */
  cached: boolean;
}

/**
 * apt's options for ffasim's private state: the system's sources, lists and package cache are neither read nor
 * written. The `-c` file (written by `writePrivateAptConf`) comes first so the `-o`s, visible in messages, win.
 */
export function aptOptions(cache: string): string[] {
  const a = join(cache, 'apt');
  return [
    '-c',
    join(a, 'ffasim.conf'),
    '-o',
    `Dir::Etc::sourcelist=${join(a, 'ffasim.sources')}`,
    '-o',
    'Dir::Etc::sourceparts=-',
    '-o',
    `Dir::State::Lists=${join(a, 'lists')}`,
    '-o',
    `Dir::Cache=${join(a, 'cache')}`,
    '-o',
    'Acquire::Languages=none',
  ];
}

/**
 * Settings a command line cannot express: the system's update hooks are cleared (they refresh system-wide
 * caches, e.g. AppStream's, from a private update that is none of their business), and extra index targets
 * other packages enable (DEP-11 metadata and icons, Contents) are not fetched into the private lists.
 */
export const PRIVATE_APT_CONF = `// Written by ffasim kernel fetch for its private apt state (see ffasim.sources beside it).
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
${[
  'DEP-11',
  'DEP-11-icons',
  'DEP-11-icons-small',
  'DEP-11-icons-large',
  'DEP-11-icons-hidpi',
  'DEP-11-icons-large-hidpi',
  'Contents-deb',
  'Contents-udeb',
  'Contents-deb-legacy',
]
  .map((t) => `Acquire::IndexTargets::deb::${t}::DefaultEnabled "false";`)
  .join('\n')}
`;

const fromManifest = (t: CachedTree, cached: boolean): FetchedTree => ({
  ...t.manifest,
  path: t.path,
  cached,
});

/** The newest cached tree satisfying the spec, or undefined. */
export function findCachedTree(spec: KernelSpec, cache: string): CachedTree | undefined {
  let best: CachedTree | undefined;
  for (const t of listCachedTrees(cache)) {
    if (!specMatches(spec, t.manifest.package, t.manifest.debianVersion)) continue;
    if (
      best === undefined ||
      compareDebianVersions(t.manifest.debianVersion, best.manifest.debianVersion) > 0
    )
      best = t;
  }
  return best;
}

/** apt's error and warning lines, without the unsandboxed-download notice root always gets. */
function aptProblems(stderr: string, stdout = ''): string[] {
  return `${stdout}\n${stderr}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^(E|W|Err):/.test(l) && !/unsandboxed as root/.test(l));
}

const permissionProblem = (text: string) =>
  /Permission denied|are you root|Could not open lock file|Unable to lock/i.test(text);

interface FetchContext {
  cache: string;
  spec: KernelSpec;
  runner: Runner;
  log: (line: string) => void;
  isRoot: boolean;
  o: FetchOptions;
}

/** Runs one tool; a missing tool is NO_APT. */
async function runTool(ctx: FetchContext, cmd: string, args: readonly string[], cwd?: string) {
  const r = await ctx.runner(cmd, args, cwd === undefined ? {} : { cwd });
  if (r.spawnError === 'ENOENT')
    throw new KernelFetchError(
      'NO_APT',
      `${cmd} not found: kernel fetch needs Debian's apt and dpkg (apt-get, apt-cache, dpkg-deb) and tar; ` +
        'without them, unpack a kernel tree yourself and pass its directory to --kernel',
    );
  if (r.spawnError !== undefined) throw new KernelFetchError('NO_APT', `cannot run ${cmd}: ${r.spawnError}`);
  return r;
}

function notRootError(ctx: FetchContext, what: string, detail: string): KernelFetchError {
  return new KernelFetchError(
    'NOT_ROOT',
    `${what} failed on a permission and ffasim is not running as root:\n  ${detail}\n` +
      `  run it as root (sudo ffasim kernel fetch ${ctx.spec.raw}) or set FFASIM_CACHE to a directory you own`,
  );
}

/** Writes the private sources list and updates the private lists when they are missing, stale or changed. */
async function ensureLists(
  ctx: FetchContext,
  force: boolean,
): Promise<{ updated: boolean; warnings: string[]; ageMs: number }> {
  const apt = join(ctx.cache, 'apt');
  for (const d of ['lists/partial', 'cache/archives/partial']) mkdirSync(join(apt, d), { recursive: true });
  const sources = buildPrivateSources(readSystemSources(ctx.o.aptRoot), ctx.o.suites ?? DEFAULT_SUITES);
  const sourcesFile = join(apt, 'ffasim.sources');
  const stateFile = join(apt, 'state.json');
  let state: { sources?: string; updatedAt?: number } = {};
  try {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as typeof state;
  } catch {
    state = {};
  }
  writeFileSync(sourcesFile, sources);
  writeFileSync(join(apt, 'ffasim.conf'), PRIVATE_APT_CONF);
  const maxAge = ctx.o.listsMaxAgeMs ?? 24 * 3600_000;
  const fresh =
    state.sources === sources && typeof state.updatedAt === 'number' && Date.now() - state.updatedAt < maxAge;
  if (fresh && !force) return { updated: false, warnings: [], ageMs: Date.now() - state.updatedAt! };
  const args = [...aptOptions(ctx.cache), 'update'];
  ctx.log(`apt-get update (private lists in ${join(apt, 'lists')}; the system's apt state is not touched)`);
  const r = await runTool(ctx, 'apt-get', args);
  const problems = aptProblems(r.stderr, r.stdout);
  if (r.code !== 0) {
    const detail = problems.slice(0, 8).join('\n  ') || `exit status ${r.code}`;
    if (!ctx.isRoot && permissionProblem(`${r.stderr}\n${r.stdout}`))
      throw notRootError(ctx, 'apt-get update', detail);
    throw new KernelFetchError(
      'UPDATE_FAILED',
      `apt-get update failed (no network, or a suite the archive does not have?):\n  ${detail}\n` +
        `  sources: ${sourcesFile}\n  retry by hand: apt-get ${args.join(' ')}`,
    );
  }
  writeFileSync(stateFile, JSON.stringify({ sources, updatedAt: Date.now() }));
  return { updated: true, warnings: problems, ageMs: 0 };
}

/** `apt-cache madison` of the given packages. */
async function madison(ctx: FetchContext, pkgs: readonly string[]): Promise<AptCandidate[]> {
  if (pkgs.length === 0) return [];
  const m = await runTool(ctx, 'apt-cache', [...aptOptions(ctx.cache), 'madison', ...pkgs]);
  if (m.code !== 0 && !ctx.isRoot && permissionProblem(m.stderr))
    throw notRootError(ctx, 'apt-cache', aptProblems(m.stderr).join('\n  '));
  return parseMadison(m.stdout);
}

/** Every linux-source-<major>.<minor> apt knows, with versions and suites. */
async function knownSources(ctx: FetchContext): Promise<AptCandidate[]> {
  const names = await runTool(ctx, 'apt-cache', [...aptOptions(ctx.cache), 'pkgnames', 'linux-source-']);
  if (names.code !== 0 && !ctx.isRoot && permissionProblem(names.stderr))
    throw notRootError(ctx, 'apt-cache', aptProblems(names.stderr).join('\n  '));
  const pkgs = names.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^linux-source-\d+\.\d+$/.test(l))
    .sort();
  return madison(ctx, pkgs);
}

/** The candidates the spec can match: one package's versions, or every series' for `debian:<major>`. */
function candidatesFor(ctx: FetchContext): Promise<AptCandidate[]> {
  const v = ctx.spec.version;
  const series = ctx.spec.kind === 'series' ? v : ctx.spec.kind === 'major' ? undefined : seriesOf(v);
  return series === undefined ? knownSources(ctx) : madison(ctx, [`linux-source-${series}`]);
}

/** Resolves the spec with apt (updating the private lists when needed, and once more when nothing matches). */
async function resolveWithApt(ctx: FetchContext): Promise<AptCandidate> {
  let lists = await ensureLists(ctx, ctx.o.refresh === true);
  let hit = resolveSpec(ctx.spec, await candidatesFor(ctx));
  // Nothing matches in lists older than 10 minutes: a newer package may have arrived since; update once more.
  if (hit === undefined && !lists.updated && lists.ageMs > 10 * 60_000) {
    lists = await ensureLists(ctx, true);
    hit = resolveSpec(ctx.spec, await candidatesFor(ctx));
  }
  if (hit !== undefined) return hit;
  const known = await knownSources(ctx);
  const warned =
    lists.warnings.length > 0
      ? `\n  apt-get update reported:\n  ${lists.warnings.slice(0, 8).join('\n  ')}`
      : '';
  if (known.length === 0)
    throw new KernelFetchError(
      'UPDATE_FAILED',
      `apt knows no linux-source-* package after apt-get update (no network?)${warned}\n` +
        `  sources: ${join(ctx.cache, 'apt', 'ffasim.sources')}`,
    );
  throw new KernelFetchError(
    'UNKNOWN_VERSION',
    `no linux-source package matches ${ctx.spec.raw}; apt knows:\n  ${describeCandidates(known).replaceAll('\n', '\n  ')}` +
      `${warned}\n  (other suites: --suite NAME; newer lists: --refresh)`,
  );
}

function walkFiles(root: string, dir = root, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walkFiles(root, p, out);
    else out.push(relative(root, p));
  }
  return out;
}

/** Downloads the package into `work`, extracts the needed files into `work/tree`, returns its manifest. */
async function downloadAndExtract(ctx: FetchContext, c: AptCandidate, work: string): Promise<TreeManifest> {
  const dl = join(work, 'dl');
  mkdirSync(dl);
  const started = Date.now();
  ctx.log(`downloading ${c.package} ${c.version} (${c.suite}; ~150-170 MB, deleted after extraction)`);
  await withLock(
    ctx.cache,
    'apt',
    async () => {
      const r = await runTool(
        ctx,
        'apt-get',
        [...aptOptions(ctx.cache), 'download', `${c.package}=${c.version}`],
        dl,
      );
      if (r.code !== 0) {
        const detail = aptProblems(r.stderr, r.stdout).slice(0, 8).join('\n  ') || `exit status ${r.code}`;
        if (!ctx.isRoot && permissionProblem(r.stderr)) throw notRootError(ctx, 'apt-get download', detail);
        throw new KernelFetchError(
          'DOWNLOAD_FAILED',
          `apt-get download ${c.package}=${c.version} failed:\n  ${detail}`,
        );
      }
    },
    lockOptions(ctx),
  );
  const deb = readdirSync(dl).find((n) => n.endsWith('.deb'));
  if (deb === undefined)
    throw new KernelFetchError(
      'DOWNLOAD_FAILED',
      `apt-get download ${c.package}=${c.version} wrote no .deb in ${dl}`,
    );
  const unpack = join(work, 'unpack');
  const x = await runTool(ctx, 'dpkg-deb', ['-x', join(dl, deb), unpack]);
  if (x.code !== 0)
    throw new KernelFetchError('EXTRACT_FAILED', `dpkg-deb -x ${deb} failed: ${x.stderr.trim() || x.code}`);
  rmSync(dl, { recursive: true, force: true });
  const src = join(unpack, 'usr', 'src');
  const tarball = existsSync(src)
    ? readdirSync(src).find((n) => /^linux-source-.*\.tar\.xz$/.test(n))
    : undefined;
  if (tarball === undefined)
    throw new KernelFetchError('EXTRACT_FAILED', `${deb} holds no usr/src/linux-source-*.tar.xz`);
  const top = tarball.replace(/\.tar\.xz$/, '');
  const tree = join(work, 'tree');
  mkdirSync(tree);
  ctx.log(
    `extracting ${TREE_FILES.length + OPTIONAL_TREE_FILES.length} paths from ${tarball} (xz streams the whole tarball)`,
  );
  const members = [...TREE_FILES, ...OPTIONAL_TREE_FILES].map((m) => `${top}/${m}`);
  const t = await runTool(ctx, 'tar', [
    '-xJf',
    join(src, tarball),
    '-C',
    tree,
    '--strip-components=1',
    '--wildcards',
    '--no-wildcards-match-slash',
    ...members,
  ]);
  rmSync(unpack, { recursive: true, force: true });
  const files = walkFiles(tree).sort();
  const missing = TREE_FILES.filter((m) =>
    m.includes('*') ? !files.some((f) => f.startsWith(m.slice(0, m.indexOf('*')))) : !files.includes(m),
  );
  if (missing.includes(FFA_C))
    throw new KernelFetchError(
      'NO_PROXY',
      `${c.package} ${c.version} has no ${FFA_C}: this kernel has no pKVM FF-A proxy to run`,
    );
  // tar fails for members absent from the archive; only the optional ones may be.
  const tarErrors = t.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/Exiting with failure status/.test(l))
    .filter((l) => !OPTIONAL_TREE_FILES.some((m) => l.includes(`${top}/${m}: Not found in archive`)));
  if (missing.length > 0 || (t.code !== 0 && tarErrors.length > 0))
    throw new KernelFetchError(
      'EXTRACT_FAILED',
      `tar could not extract ${missing.length > 0 ? missing.join(', ') : 'the tree'} from ${tarball}:\n  ${tarErrors.slice(0, 8).join('\n  ')}`,
    );
  const makefile = readFileSync(join(tree, 'Makefile'), 'utf8');
  const kernelVersion = kernelVersionFromMakefile(makefile);
  if (kernelVersion === undefined)
    throw new KernelFetchError('EXTRACT_FAILED', `${top}/Makefile declares no VERSION/PATCHLEVEL`);
  const ffa = readFileSync(join(tree, FFA_C));
  const manifest: TreeManifest = {
    schema: MANIFEST_SCHEMA,
    source: 'debian',
    package: c.package,
    debianVersion: c.version,
    kernelVersion,
    ffaSha256: sha256Hex(ffa),
    ffaLines: ffa.toString('utf8').split('\n').length - (ffa.at(-1) === 0x0a ? 1 : 0),
    files,
    fetchedAt: new Date().toISOString(),
  };
  writeFileSync(join(tree, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  ctx.log(
    `${c.package} ${c.version}: ${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return manifest;
}

function lockOptions(ctx: FetchContext) {
  return {
    ...(ctx.o.lockTimeoutMs !== undefined ? { timeoutMs: ctx.o.lockTimeoutMs } : {}),
    onWait: (owner: string) => ctx.log(`waiting for another ffasim fetch (${owner})`),
  };
}

/** Fetches the candidate into trees/ under its tree lock (at most one process downloads a given version). */
async function fetchInto(ctx: FetchContext, c: AptCandidate): Promise<FetchedTree> {
  const name = treeDirName(c.version);
  const target = join(treesDir(ctx.cache), name);
  return withLock(
    ctx.cache,
    `tree-${name}`,
    async () => {
      if (isCompleteTree(target)) {
        const m = listCachedTrees(ctx.cache).find((t) => t.path === target);
        if (m !== undefined) return fromManifest(m, true);
      }
      const tmp = join(ctx.cache, 'tmp');
      mkdirSync(tmp, { recursive: true });
      // Leftovers of this version from a process that died mid-fetch (we hold its lock now).
      for (const n of readdirSync(tmp))
        if (n.startsWith(`${name}-`)) rmSync(join(tmp, n), { recursive: true, force: true });
      const work = mkdtempSync(join(tmp, `${name}-`));
      try {
        const manifest = await downloadAndExtract(ctx, c, work);
        mkdirSync(treesDir(ctx.cache), { recursive: true });
        rmSync(target, { recursive: true, force: true }); // an incomplete directory someone left by hand
        renameSync(join(work, 'tree'), target);
        return { ...manifest, path: target, cached: false };
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    },
    lockOptions(ctx),
  );
}

/**
 * Ensures a Debian kernel tree is in the cache and returns it. `version` is `debian:7.3`, `7.3`, `debian:7`,
 * `debian:7.3.4` or an exact Debian version. A matching cached tree is returned at once with no apt call (the
 * newest matching one), unless `refresh`. Safe to call concurrently from several processes or workers.
 * @throws KernelFetchError with a code for each failure (see KernelFetchErrorCode)
 */
export async function ensureDebianTree(version: string, opts: FetchOptions = {}): Promise<FetchedTree> {
  const spec = parseKernelSpec(version);
  const cache = opts.cacheDir ?? defaultCacheDir();
  if (opts.refresh !== true) {
    const hit = findCachedTree(spec, cache);
    if (hit !== undefined) return fromManifest(hit, true);
  }
  const ctx: FetchContext = {
    cache,
    spec,
    runner: opts.runner ?? spawnRunner,
    log: opts.log ?? (() => {}),
    isRoot: opts.isRoot ?? process.getuid?.() === 0,
    o: opts,
  };
  try {
    mkdirSync(cache, { recursive: true });
    const resolved = await withLock(
      cache,
      'apt',
      async (): Promise<FetchedTree | AptCandidate> => {
        // Another process may have fetched it while we waited.
        if (opts.refresh !== true) {
          const hit = findCachedTree(spec, cache);
          if (hit !== undefined) return fromManifest(hit, true);
        }
        return resolveWithApt(ctx);
      },
      lockOptions(ctx),
    );
    if ('path' in resolved) return resolved;
    return await fetchInto(ctx, resolved);
  } catch (e) {
    if (e instanceof LockTimeoutError) throw new KernelFetchError('LOCK_TIMEOUT', e.message);
    if ((e as NodeJS.ErrnoException).code === 'EACCES' && !ctx.isRoot)
      throw notRootError(ctx, `writing the cache ${cache}`, (e as Error).message);
    throw e;
  }
}

/** The tree's directory name for a cached Debian version (for messages and tests). */
export function treePathFor(cache: string, debianVersion: string): string {
  return join(treesDir(cache), treeDirName(debianVersion));
}
