/**
 * `ffasim kernel build <tree>`: compiles a kernel tree's arch/arm64/kvm/hyp/nvhe/ffa.c **unchanged** with the
 * system gcc, against ffasim's shim headers (src/kernel/shim/include, first on the include path) and the tree's
 * own FF-A headers (include/linux/arm_ffa.h, arch/arm64/kvm/hyp/include/nvhe/ffa.h), so struct layouts follow
 * the tree's era. The result is a Node-API addon (src/kernel/shim/bridge.c + ffa_unit.c, which includes the
 * tree's ffa.c) loaded by src/kernel/hyp.ts. docs/kernel-mode.md describes the bridge and the shims.
 *
 * Builds are cached in `<cache>/builds/<hash>/` by a content hash of ffa.c, the tree headers it compiles
 * against, every shim file, the flags and the compiler's version: a second build of the same input is a lookup.
 * The kernel source stays in the user's tree or cache; nothing of it is written beside the build but objects.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir as defaultCacheDir, FFA_C, readTreeInfo } from './cache.ts';

export type Sanitizer = 'address' | 'undefined';
export type StackInit = 'pattern' | 'zero' | 'none';

export interface BuildOptions {
  /** Sanitizers to build with (default none). ASan builds need libasan preloaded (see {@link asanEnv}). */
  sanitize?: readonly Sanitizer[];
  /** gcov instrumentation of ffa.c (default false). */
  coverage?: boolean;
  /**
   * `-ftrivial-auto-var-init`: `pattern` (default) fills uninitialised locals with 0xFE bytes, so a stale result
   * struct (H16) reads as a known value that invariant I3 flags; `zero` mirrors INIT_STACK_ALL_ZERO kernels.
   */
  stackInit?: StackInit;
  /** The world's kernel page size (PAGE_SIZE of the build; default 4096). */
  pageSize?: number;
  /** Cache directory (default {@link defaultCacheDir}). */
  cacheDir?: string;
  /** Rebuild even when the cache has this build. */
  force?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What `build.json` in a build directory records. */
export interface KernelBuild {
  schema: 'ffasim-kernel-build/1';
  hash: string;
  dir: string;
  /** The loadable addon. */
  addon: string;
  tree: string;
  /** e.g. `7.3.4`, from the tree's Makefile (undefined for a tree without one). */
  kernelVersion: string | undefined;
  ffaSha256: string;
  /** How the trace names the code: `ffa.c 7.3.4`. */
  label: string;
  sanitize: Sanitizer[];
  coverage: boolean;
  stackInit: StackInit;
  pageSize: number;
  compiler: string;
  /** libasan.so to preload for ASan builds. */
  libasan: string | undefined;
  /** Wall time of the compile in ms (0 when the result came from the cache). */
  buildMs: number;
  /**
   * Where gcc compiled the objects (a temporary directory, renamed to `dir` afterwards): coverage builds record
   * their .gcda path from it, so the coverage reader redirects it with GCOV_PREFIX (./coverage.ts).
   */
  objDir: string;
  /** True when this call found the build in the cache. */
  cached: boolean;
  /** Compiler warnings (the tree's code is compiled as it is; warnings are kept, not fatal). */
  warnings: string;
}

/** A build that could not be made: a clear message; the CLI prints it and exits 2. */
export class KernelBuildError extends Error {
  override readonly name = 'KernelBuildError';
  readonly code: 'NO_TREE' | 'NO_COMPILER' | 'NO_NODE_API' | 'COMPILE_FAILED' | 'BAD_OPTION';
  readonly output: string;
  constructor(code: KernelBuildError['code'], message: string, output = '') {
    super(message);
    this.code = code;
    this.output = output;
  }
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The shim directory: beside this module in the sources, the sources' copy from the compiled lib/, or from a
 * bundle one level below the package root (`npm run bench`'s dist/).
 */
export function shimDir(): string {
  for (const d of [
    join(here, 'shim'),
    resolve(here, '../../src/kernel/shim'),
    resolve(here, '../src/kernel/shim'),
  ]) {
    if (existsSync(join(d, 'bridge.c'))) return d;
  }
  throw new KernelBuildError('NO_TREE', `ffasim's shim sources (src/kernel/shim) are missing near ${here}`);
}

/** Node-API headers: the node-api-headers package, else the running node's own include directory. */
export function nodeApiInclude(): string {
  try {
    const req = createRequire(import.meta.url);
    const pkg = req.resolve('node-api-headers/package.json');
    const inc = join(dirname(pkg), 'include');
    if (existsSync(join(inc, 'node_api.h'))) return inc;
  } catch {
    // not installed: try node's own headers
  }
  for (const d of [resolve(dirname(process.execPath), '../include/node'), '/usr/include/node']) {
    if (existsSync(join(d, 'node_api.h'))) return d;
  }
  throw new KernelBuildError(
    'NO_NODE_API',
    'no Node-API headers: run `npm install` (ffasim depends on node-api-headers) or install node headers',
  );
}

/** The system C compiler: `gcc`, installed with apt when missing and running as root. */
export function ensureGcc(log: (line: string) => void = () => {}): string {
  const probe = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) return probe.stdout.split('\n')[0] ?? 'gcc';
  if (process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0) {
    log('gcc not found: apt-get install -y gcc');
    const r = spawnSync('apt-get', ['install', '-y', 'gcc'], {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    const again = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
    if (again.status === 0) return again.stdout.split('\n')[0] ?? 'gcc';
    throw new KernelBuildError('NO_COMPILER', `apt-get install gcc failed:\n${r.stderr}`);
  }
  throw new KernelBuildError(
    'NO_COMPILER',
    'gcc not found: install it (Debian/Ubuntu: sudo apt-get install gcc) and run again',
  );
}

function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    if (name.isDirectory()) for (const f of listFiles(p, base)) out.push(f);
    else out.push(p.slice(base.length + 1));
  }
  return out.sort();
}

/** The tree files the build compiles against (besides ffa.c); missing optional ones are skipped. */
const TREE_HEADERS = ['include/linux/arm_ffa.h', 'arch/arm64/kvm/hyp/include/nvhe/ffa.h'];

/** Compiler flags of the EL2 unit (ffa_unit.c, which includes the tree's ffa.c). */
function unitFlags(
  tree: string,
  shim: string,
  o: Required<Pick<BuildOptions, 'stackInit' | 'pageSize'>>,
): string[] {
  const gccInclude = execFileSync('gcc', ['-print-file-name=include'], { encoding: 'utf8' }).trim();
  const shift = Math.log2(o.pageSize);
  return [
    '-std=gnu11',
    '-O2',
    '-g',
    '-fPIC',
    '-fno-strict-aliasing',
    '-fno-common',
    '-fno-omit-frame-pointer',
    // Nothing from the C library: the tree's code sees only the shim, the tree's headers and gcc's own.
    '-nostdinc',
    '-isystem',
    gccInclude,
    '-include',
    'ffasim/prelude.h',
    '-I',
    join(shim, 'include'),
    '-I',
    join(tree, 'arch/arm64/kvm/hyp/include'),
    '-I',
    join(tree, 'include'),
    '-iquote',
    join(tree, 'arch/arm64/kvm/hyp/nvhe'),
    '-D__KERNEL__',
    '-D__KVM_NVHE_HYPERVISOR__',
    `-DFFASIM_PAGE_SHIFT=${shift}`,
    // A macro the shim lacks must not compile into a call to an undefined function.
    '-Werror=implicit-function-declaration',
    '-Werror=implicit-int',
    ...(o.stackInit === 'none' ? [] : [`-ftrivial-auto-var-init=${o.stackInit}`]),
  ];
}

/**
 * Builds (or finds in the cache) the addon for `tree`.
 * @throws KernelBuildError with a clear message for a missing tree, compiler or headers, or a failed compile.
 */
export function buildKernel(treeArg: string, o: BuildOptions = {}): KernelBuild {
  const log = o.log ?? (() => {});
  const tree = resolve(treeArg);
  const ffaPath = join(tree, FFA_C);
  if (!existsSync(ffaPath))
    throw new KernelBuildError(
      'NO_TREE',
      `${tree} has no ${FFA_C} (fetch one with: ffasim kernel fetch debian:7.3)`,
    );
  const sanitize = [...new Set(o.sanitize ?? [])].sort() as Sanitizer[];
  for (const s of sanitize) {
    if (s !== 'address' && s !== 'undefined')
      throw new KernelBuildError('BAD_OPTION', `--sanitize ${s}: expected address and/or undefined`);
  }
  const stackInit = o.stackInit ?? 'pattern';
  if (!['pattern', 'zero', 'none'].includes(stackInit))
    throw new KernelBuildError('BAD_OPTION', `--stack-init ${stackInit}: expected pattern, zero or none`);
  const pageSize = o.pageSize ?? 4096;
  if (![4096, 16384, 65536].includes(pageSize))
    throw new KernelBuildError('BAD_OPTION', `page size ${pageSize}: expected 4096, 16384 or 65536`);
  const coverage = o.coverage === true;

  const compiler = ensureGcc(log);
  const shim = shimDir();
  const napi = nodeApiInclude();
  const info = readTreeInfo(tree);
  const ffa = readFileSync(ffaPath);
  const flags = unitFlags(tree, shim, { stackInit, pageSize });
  // UBSan as kernels build it: without the alignment check (CONFIG_UBSAN_ALIGNMENT is off by default, and arm64
  // loads and stores need no alignment on normal memory), so a packed or oddly placed descriptor is not a finding.
  const sanFlags =
    sanitize.length > 0
      ? [
          `-fsanitize=${sanitize.join(',')}`,
          ...(sanitize.includes('undefined') ? ['-fno-sanitize=alignment'] : []),
        ]
      : [];

  const h = createHash('sha256');
  h.update('ffasim-kernel-build/2\0');
  h.update(ffa);
  for (const f of TREE_HEADERS) {
    const p = join(tree, f);
    h.update(`\0${f}\0`);
    if (existsSync(p)) h.update(readFileSync(p));
  }
  for (const f of listFiles(shim)) {
    h.update(`\0shim/${f}\0`);
    h.update(readFileSync(join(shim, f)));
  }
  // Paths inside flags (the tree's, the shim's) are part of the identity too: gcc bakes them into debug info
  // and coverage data.
  h.update(`\0${JSON.stringify({ flags, sanitize, coverage, pageSize, compiler, napi })}`);
  const hash = h.digest('hex').slice(0, 20);

  const cache = o.cacheDir ?? defaultCacheDir();
  const dir = join(cache, 'builds', hash);
  const metaPath = join(dir, 'build.json');
  if (o.force !== true && existsSync(metaPath)) {
    try {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as KernelBuild;
      if (existsSync(meta.addon)) return { ...meta, cached: true, buildMs: 0 };
    } catch {
      // a damaged entry: rebuild it
    }
  }

  const started = Date.now();
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(tmp, { recursive: true });
  const run = (args: string[], what: string): string => {
    const r = spawnSync('gcc', args, { encoding: 'utf8', cwd: tmp });
    if (r.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new KernelBuildError('COMPILE_FAILED', `gcc failed compiling ${what}:\n${r.stderr}`, r.stderr);
    }
    return r.stderr;
  };
  log(
    `compiling ${FFA_C} of ${tree} (${[...sanitize, coverage ? 'coverage' : '', `stack-init ${stackInit}`].filter(Boolean).join(', ')})`,
  );
  const unitObj = join(tmp, 'ffa_unit.o');
  const warnings = run(
    [
      ...flags,
      ...sanFlags,
      ...(coverage ? ['--coverage'] : []),
      '-c',
      join(shim, 'ffa_unit.c'),
      '-o',
      unitObj,
    ],
    'ffa.c',
  );
  const bridgeObj = join(tmp, 'bridge.o');
  run(
    [
      '-std=gnu11',
      '-O2',
      '-g',
      '-fPIC',
      '-Wall',
      '-I',
      napi,
      '-I',
      join(shim, 'include'),
      '-DNAPI_VERSION=8',
      '-DNODE_GYP_MODULE_NAME=ffasim_hyp',
      ...(sanitize.includes('address') ? ['-DFFASIM_ASAN'] : []),
      ...(coverage ? ['-DFFASIM_COVERAGE'] : []),
      '-c',
      join(shim, 'bridge.c'),
      '-o',
      bridgeObj,
    ],
    'the bridge',
  );
  const addonTmp = join(tmp, 'ffasim_hyp.node');
  run(
    ['-shared', '-o', addonTmp, unitObj, bridgeObj, ...sanFlags, ...(coverage ? ['--coverage'] : [])],
    'the addon (link)',
  );
  const libasan = sanitize.includes('address')
    ? execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim()
    : undefined;
  const version = info.kernelVersion;
  const meta: KernelBuild = {
    schema: 'ffasim-kernel-build/1',
    hash,
    dir,
    addon: join(dir, 'ffasim_hyp.node'),
    tree,
    kernelVersion: version,
    ffaSha256: createHash('sha256').update(ffa).digest('hex'),
    label: `ffa.c ${version ?? tree}`,
    sanitize,
    coverage,
    stackInit,
    pageSize,
    compiler,
    libasan,
    buildMs: Date.now() - started,
    objDir: tmp,
    cached: false,
    warnings,
  };
  writeFileSync(join(tmp, 'build.json'), `${JSON.stringify(meta, null, 2)}\n`);
  writeFileSync(join(tmp, 'build.log'), warnings);
  mkdirSync(dirname(dir), { recursive: true });
  try {
    renameSync(tmp, dir);
  } catch {
    // Another process finished the same build first: use theirs.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(metaPath))
      throw new KernelBuildError('COMPILE_FAILED', `could not place the build in ${dir}`);
  }
  log(`built ${meta.label} in ${meta.buildMs} ms: ${dir}`);
  return meta;
}

/** The environment an ASan build needs in the process that loads it (libasan first, no leak check of node). */
export function asanEnv(b: KernelBuild): Record<string, string> {
  if (b.libasan === undefined) return {};
  return {
    LD_PRELOAD: b.libasan,
    ASAN_OPTIONS:
      process.env.ASAN_OPTIONS ??
      'detect_leaks=0:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1',
  };
}

/** True when this process can load `b` (an ASan build needs libasan preloaded). */
export function canLoadHere(b: KernelBuild): boolean {
  if (!b.sanitize.includes('address')) return true;
  return (process.env.LD_PRELOAD ?? '').includes('libasan');
}
