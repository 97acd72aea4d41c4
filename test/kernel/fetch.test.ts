/**
 * `ffasim kernel fetch` / `kernel list`: the private sources list derived from the system's apt sources, version
 * resolution, the cache (idempotent, offline on a hit, safe under concurrency), located errors, and one real
 * fetch of debian:7.3 and debian:6.12 into the cache.
 *
 * The unit tests inject the command runner: apt answers are canned, while dpkg-deb and tar run for real on a
 * small stand-in package built here (invented files, no kernel code). Host names are invented (`mirror.test`).
 *
 * The real fetch needs apt and the network. Missing and not root: a loud SKIPPED line with the command to run;
 * under CI=true a missing tree fails, never a silent skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cacheDir,
  kernelVersionFromMakefile,
  LockTimeoutError,
  listCachedTrees,
  readTreeInfo,
  withLock,
} from '../../src/kernel/cache.ts';
import {
  aptOptions,
  buildPrivateSources,
  compareDebianVersions,
  debianEntries,
  describeCandidates,
  ensureDebianTree,
  type FetchOptions,
  KernelFetchError,
  parseDeb822Sources,
  parseKernelSpec,
  parseMadison,
  parseOneLineSources,
  type Runner,
  type RunResult,
  readSystemSources,
  resolveSpec,
  spawnRunner,
} from '../../src/kernel/fetch.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ffasim-fetch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => {
  const d = join(tmp, `${what}-${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

const ONE_LINE = `# a comment line
deb [arch=amd64 signed-by=/usr/share/keyrings/test-archive.gpg] http://mirror.test/debian bookworm main contrib
deb http://mirror.test/debian bookworm-updates main   # trailing comment
deb-src http://mirror.test/debian bookworm main
deb http://security.mirror.test/debian-security bookworm-security main
deb https://vendor.test/apt cloud-sdk-bookworm main
deb http://mirror.test/ubuntu noble main
`;

const DEB822 = `Types: deb
# a comment inside the paragraph
URIs: http://mirror.test/debian http://mirror2.test/debian
Suites: trixie trixie-updates
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGNotARealKeyJustTestBytes
 -----END PGP PUBLIC KEY BLOCK-----

Types: deb
URIs: http://mirror.test/debian
Suites: experimental
Components: main
Enabled: no

Types: deb
URIs: https://vendor.test/node
Suites: nodistro
Components: main
`;

describe('sources list derivation', () => {
  it('one-line format: options, comments, types; Debian archive vs security vs others', () => {
    const e = parseOneLineSources(ONE_LINE, '/etc/apt/sources.list');
    expect(e).toHaveLength(6);
    expect(e[0]).toMatchObject({
      types: ['deb'],
      uris: ['http://mirror.test/debian'],
      suites: ['bookworm'],
      components: ['main', 'contrib'],
      signedBy: '/usr/share/keyrings/test-archive.gpg',
      architectures: ['amd64'],
      where: '/etc/apt/sources.list:2',
    });
    expect(e[1]).toMatchObject({ suites: ['bookworm-updates'], components: ['main'], signedBy: undefined });
    const { archive, security } = debianEntries(e);
    expect(archive.map((x) => x.suites[0])).toEqual(['bookworm', 'bookworm-updates']); // not deb-src, vendor, ubuntu
    expect(security.map((x) => x.suites[0])).toEqual(['bookworm-security']);
  });

  it('deb822: multi-URI, embedded key block (" ." blank lines), Enabled: no skipped', () => {
    const e = parseDeb822Sources(DEB822, '/etc/apt/sources.list.d/debian.sources');
    expect(e).toHaveLength(2);
    expect(e[0]!.uris).toEqual(['http://mirror.test/debian', 'http://mirror2.test/debian']);
    expect(e[0]!.suites).toEqual(['trixie', 'trixie-updates']);
    expect(e[0]!.signedBy).toBe(
      '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGNotARealKeyJustTestBytes\n-----END PGP PUBLIC KEY BLOCK-----',
    );
    expect(e[0]!.where).toBe('/etc/apt/sources.list.d/debian.sources:1');
    expect(e[1]!.suites).toEqual(['nodistro']);
    expect(debianEntries(e).archive).toHaveLength(1);
  });

  it('the private list: configured Debian entries, then newer suites on the first archive entry, key kept', () => {
    const entries = [
      ...parseOneLineSources(ONE_LINE, '/etc/apt/sources.list'),
      ...parseDeb822Sources(DEB822, '/etc/apt/sources.list.d/x.sources'),
    ];
    const s = buildPrivateSources(entries, ['trixie', 'trixie-backports', 'sid', 'bookworm']);
    const stanzas = parseDeb822Sources(s, 'private');
    expect(stanzas.map((x) => [x.uris.join(' '), x.suites.join(' ')])).toEqual([
      ['http://mirror.test/debian', 'bookworm'],
      ['http://mirror.test/debian', 'bookworm-updates'],
      ['http://mirror.test/debian http://mirror2.test/debian', 'trixie trixie-updates'],
      ['http://security.mirror.test/debian-security', 'bookworm-security'],
      // bookworm is already configured on that archive: not repeated.
      ['http://mirror.test/debian', 'trixie trixie-backports sid'],
    ]);
    expect(stanzas[0]).toMatchObject({
      signedBy: '/usr/share/keyrings/test-archive.gpg',
      architectures: ['amd64'],
      components: ['main', 'contrib'],
    });
    expect(stanzas[4]!.signedBy).toBe('/usr/share/keyrings/test-archive.gpg');
    // The embedded key survives the round trip.
    expect(stanzas[2]!.signedBy).toBe(entries[6]!.signedBy);
    expect(s).not.toMatch(/deb-src|vendor\.test|ubuntu/);
  });

  it('no Debian archive entry: NO_DEBIAN_SOURCE', () => {
    const e = parseOneLineSources(
      'deb https://vendor.test/apt stable-vendor main\ndeb https://vendor.test/x sid/main main\n' +
        'deb http://mirror.test/debian-security bookworm-security main\n',
      'x',
    );
    expect(debianEntries(e)).toMatchObject({ archive: [], security: [{ suites: ['bookworm-security'] }] });
    expect(() => buildPrivateSources(e)).toThrow(expect.objectContaining({ code: 'NO_DEBIAN_SOURCE' }));
  });

  it('reads sources.list and sources.list.d/*.list, *.sources in apt order; other names ignored', () => {
    const root = fresh('etc-apt');
    mkdirSync(join(root, 'sources.list.d'));
    writeFileSync(join(root, 'sources.list'), 'deb http://mirror.test/debian bookworm main\n');
    writeFileSync(join(root, 'sources.list.d', 'b.sources'), DEB822);
    writeFileSync(join(root, 'sources.list.d', 'a.list'), 'deb http://mirror.test/debian sid main\n');
    writeFileSync(
      join(root, 'sources.list.d', 'c.list.disabled'),
      'deb http://mirror.test/debian forky main\n',
    );
    const e = readSystemSources(root);
    expect(e.map((x) => x.suites.join(' '))).toEqual([
      'bookworm',
      'sid',
      'trixie trixie-updates',
      'nodistro',
    ]);
  });

  it('apt options keep every apt path private to the cache', () => {
    const o = aptOptions('/c');
    expect(o).toEqual(
      expect.arrayContaining([
        '-c',
        '/c/apt/ffasim.conf',
        'Dir::Etc::sourcelist=/c/apt/ffasim.sources',
        'Dir::Etc::sourceparts=-',
        'Dir::State::Lists=/c/apt/lists',
        'Dir::Cache=/c/apt/cache',
      ]),
    );
  });
});

describe('versions', () => {
  it('Debian version order as dpkg has it', () => {
    const sorted = [
      '7.3.4-1~bpo13+1',
      '7.3.4-1',
      '7.3.4-1+b1',
      '7.3.10-1',
      '7.3~rc1-1',
      '1:6.1-1',
      '7.3.4-2~deb12u1',
      '7.3.4',
    ].sort(compareDebianVersions);
    expect(sorted).toEqual([
      '7.3~rc1-1',
      '7.3.4',
      '7.3.4-1~bpo13+1',
      '7.3.4-1',
      '7.3.4-1+b1',
      '7.3.4-2~deb12u1',
      '7.3.10-1',
      '1:6.1-1',
    ]);
    expect(compareDebianVersions('6.12.118-1~deb12u1', '6.12.117-1')).toBeGreaterThan(0);
    expect(compareDebianVersions('1.0', '1.0')).toBe(0);
    expect(compareDebianVersions('10', '9')).toBeGreaterThan(0);
  });

  it('specs: major, series, upstream, exact; anything else BAD_SPEC', () => {
    expect(parseKernelSpec('debian:7').kind).toBe('major');
    expect(parseKernelSpec('debian:7.3').kind).toBe('series');
    expect(parseKernelSpec('7.3').kind).toBe('series');
    expect(parseKernelSpec('debian:7.3.4').kind).toBe('upstream');
    expect(parseKernelSpec('debian:7.3.4-1~bpo13+1')).toMatchObject({
      kind: 'exact',
      version: '7.3.4-1~bpo13+1',
    });
    for (const bad of ['foo', 'debian:', 'debian:latest', '/src/linux', 'git:7.3', 'debian:7.3;rm'])
      expect(() => parseKernelSpec(bad), bad).toThrow(expect.objectContaining({ code: 'BAD_SPEC' }));
  });

  const MADISON = [
    'linux-source-7.3 | 7.3.4-1~bpo13+1 | http://mirror.test/debian trixie-backports/main amd64 Packages',
    'linux-source-7.2 |   7.2.13-1 | http://mirror.test/debian sid/main amd64 Packages',
    'linux-source-7.2 | 7.2.12-1~bpo13+1 | http://mirror.test/debian trixie-backports/main amd64 Packages',
    'linux-source-6.12 | 6.12.117-1 | http://mirror.test/debian trixie/main amd64 Packages',
    'linux-source-6.12 | 6.12.118-1~deb12u1 | http://security.mirror.test/debian-security bookworm-security/main amd64 Packages',
    'linux-source-6.12 | 6.12.119-1 | http://mirror.test/debian sid/main Sources',
    '',
  ].join('\n');

  it('madison parse and resolution: newest matching, Sources lines ignored', () => {
    const c = parseMadison(MADISON);
    expect(c).toHaveLength(5);
    expect(c[4]).toEqual({
      package: 'linux-source-6.12',
      version: '6.12.118-1~deb12u1',
      suite: 'bookworm-security',
    });
    const r = (s: string) => resolveSpec(parseKernelSpec(s), c)?.version;
    expect(r('debian:7.3')).toBe('7.3.4-1~bpo13+1');
    expect(r('debian:6.12')).toBe('6.12.118-1~deb12u1');
    expect(r('debian:6.12.117')).toBe('6.12.117-1');
    expect(r('debian:7.2')).toBe('7.2.13-1');
    expect(r('debian:7')).toBe('7.3.4-1~bpo13+1');
    expect(r('debian:7.2.12-1~bpo13+1')).toBe('7.2.12-1~bpo13+1');
    expect(r('debian:7.1')).toBeUndefined();
    expect(r('debian:6.12.11')).toBeUndefined(); // not a prefix match of 6.12.117
    expect(describeCandidates(c).split('\n')).toEqual([
      'linux-source-7.3: 7.3.4-1~bpo13+1 (trixie-backports)',
      'linux-source-7.2: 7.2.13-1 (sid), 7.2.12-1~bpo13+1 (trixie-backports)',
      'linux-source-6.12: 6.12.118-1~deb12u1 (bookworm-security), 6.12.117-1 (trixie)',
    ]);
  });

  it('kernel version from a top Makefile', () => {
    expect(
      kernelVersionFromMakefile('# x\nVERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\nEXTRAVERSION =\n'),
    ).toBe('7.3.4');
    expect(
      kernelVersionFromMakefile('VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\nEXTRAVERSION = -rc2\n'),
    ).toBe('6.12.0-rc2');
    expect(kernelVersionFromMakefile('all:\n\techo\n')).toBeUndefined();
  });
});

// A stand-in linux-source package: the layout Debian uses, invented file contents.
const STAND_IN: Record<string, string> = {
  Makefile: 'VERSION = 9\nPATCHLEVEL = 9\nSUBLEVEL = 1\nEXTRAVERSION =\nNAME = Test\n',
  'arch/arm64/kvm/hyp/nvhe/ffa.c': '/* stand-in proxy for ffasim tests */\nint x;\n',
  'arch/arm64/kvm/hyp/nvhe/mem_protect.c': '/* stand-in */\n',
  'arch/arm64/kvm/hyp/nvhe/other.c': '/* must not be extracted */\n',
  'arch/arm64/kvm/hyp/include/nvhe/ffa.h': '/* stand-in */\n',
  'arch/arm64/kvm/hyp/include/nvhe/mem_protect.h': '/* stand-in */\n',
  'arch/arm64/kvm/hyp/include/nvhe/deeper/no.h': '/* must not be extracted (* does not match /) */\n',
  'include/linux/arm_ffa.h': '/* stand-in */\n',
  'include/linux/arm-smccc.h': '/* stand-in */\n',
  'include/linux/device.h': '/* must not be extracted */\n',
  'arch/arm64/include/asm/kvm_pkvm.h': '/* stand-in */\n',
};

function buildDeb(series: string, version: string, files: Record<string, string>): string {
  const d = fresh('deb');
  const top = join(d, 'src', `linux-source-${series}`);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(top, rel, '..'), { recursive: true });
    writeFileSync(join(top, rel), text);
  }
  const pkg = join(d, 'pkg');
  mkdirSync(join(pkg, 'usr', 'src'), { recursive: true });
  mkdirSync(join(pkg, 'DEBIAN'));
  execFileSync('tar', [
    '-cJf',
    join(pkg, 'usr', 'src', `linux-source-${series}.tar.xz`),
    '-C',
    join(d, 'src'),
    `linux-source-${series}`,
  ]);
  writeFileSync(
    join(pkg, 'DEBIAN', 'control'),
    `Package: linux-source-${series}\nVersion: ${version}\nArchitecture: all\nMaintainer: ffasim tests <t@mirror.test>\nDescription: stand-in\n`,
  );
  const out = join(d, `linux-source-${series}_${version}_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '--build', pkg, out], { stdio: 'ignore' });
  return out;
}

const hasDpkg = spawnSync('dpkg-deb', ['--version']).status === 0;

/** A runner answering apt from canned text; dpkg-deb and tar run for real. Records every call. */
function fakeApt(o: {
  deb?: string;
  madison?: string;
  pkgnames?: string;
  update?: RunResult;
  missing?: string[];
}): { runner: Runner; calls: string[] } {
  const calls: string[] = [];
  const ok = (stdout = ''): RunResult => ({ code: 0, stdout, stderr: '' });
  const runner: Runner = async (cmd, args, opts) => {
    const verb =
      args.find((a) => ['update', 'download', 'madison', 'pkgnames', '-x', '-xJf'].includes(a)) ?? '?';
    calls.push(`${cmd} ${verb}`);
    if (o.missing?.includes(cmd)) return { code: null, stdout: '', stderr: '', spawnError: 'ENOENT' };
    if (cmd === 'apt-get' && verb === 'update') return o.update ?? ok('Reading package lists...\n');
    if (cmd === 'apt-cache' && verb === 'pkgnames')
      return ok(o.pkgnames ?? 'linux-source-9.9\nlinux-source\n');
    if (cmd === 'apt-cache' && verb === 'madison') {
      const want = new Set(args.slice(args.indexOf('madison') + 1));
      const lines = (o.madison ?? '').split('\n').filter((l) => want.has(l.split('|')[0]!.trim()));
      return ok(lines.join('\n'));
    }
    if (cmd === 'apt-get' && verb === 'download') {
      if (o.deb === undefined) return { code: 100, stdout: '', stderr: 'E: no package\n' };
      copyFileSync(o.deb, join(opts.cwd!, o.deb.split('/').pop()!));
      return ok();
    }
    return spawnRunner(cmd, args, opts);
  };
  return { runner, calls };
}

const MADISON_99 =
  'linux-source-9.9 | 9.9.1-1 | http://mirror.test/debian sid/main amd64 Packages\n' +
  'linux-source-9.9 | 9.9.0-2 | http://mirror.test/debian trixie/main amd64 Packages\n';

function aptRootWithDebian(): string {
  const root = fresh('etc-apt');
  mkdirSync(join(root, 'sources.list.d'));
  writeFileSync(
    join(root, 'sources.list.d', 'debian.sources'),
    'Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/test.gpg\n',
  );
  return root;
}

describe.runIf(hasDpkg)('fetching with an injected runner', () => {
  const deb = hasDpkg ? buildDeb('9.9', '9.9.1-1', STAND_IN) : '';

  it('first call: update, madison, download, extract only the needed files; second call: no runner call', async () => {
    const cache = fresh('cache');
    const aptRoot = aptRootWithDebian();
    const { runner, calls } = fakeApt({ deb, madison: MADISON_99 });
    const logs: string[] = [];
    const t = await ensureDebianTree('debian:9.9', {
      cacheDir: cache,
      aptRoot,
      runner,
      isRoot: true,
      log: (l) => logs.push(l),
    });
    expect(calls).toEqual([
      'apt-get update',
      'apt-cache madison',
      'apt-get download',
      'dpkg-deb -x',
      'tar -xJf',
    ]);
    expect(t).toMatchObject({
      path: join(cache, 'trees', 'debian-9.9.1-1'),
      package: 'linux-source-9.9',
      debianVersion: '9.9.1-1',
      kernelVersion: '9.9.1',
      ffaLines: 2,
      cached: false,
    });
    expect(t.files).toEqual([
      'Makefile',
      'arch/arm64/include/asm/kvm_pkvm.h',
      'arch/arm64/kvm/hyp/include/nvhe/ffa.h',
      'arch/arm64/kvm/hyp/include/nvhe/mem_protect.h',
      'arch/arm64/kvm/hyp/nvhe/ffa.c',
      'arch/arm64/kvm/hyp/nvhe/mem_protect.c',
      'include/linux/arm-smccc.h',
      'include/linux/arm_ffa.h',
    ]);
    expect(readFileSync(join(t.path, 'arch/arm64/kvm/hyp/nvhe/ffa.c'), 'utf8')).toBe(
      STAND_IN['arch/arm64/kvm/hyp/nvhe/ffa.c'],
    );
    expect(existsSync(join(t.path, 'include/linux/device.h'))).toBe(false);
    // The package and the unpacked tarball are gone; no lock or work directory is left.
    expect(readdirSync(join(cache, 'tmp'))).toEqual([]);
    expect(readdirSync(join(cache, 'locks'))).toEqual([]);
    const sources = readFileSync(join(cache, 'apt', 'ffasim.sources'), 'utf8');
    expect(sources).toMatch(/Suites: bookworm\n/);
    expect(sources).toMatch(/Suites: trixie trixie-backports sid\n/);
    expect(readFileSync(join(cache, 'apt', 'ffasim.conf'), 'utf8')).toMatch(
      /#clear APT::Update::Post-Invoke-Success;/,
    );
    expect(logs.some((l) => l.startsWith('apt-get update'))).toBe(true);

    // Second call: instant and offline.
    const again = fakeApt({});
    const started = performance.now();
    const t2 = await ensureDebianTree('debian:9.9', { cacheDir: cache, aptRoot, runner: again.runner });
    expect(performance.now() - started).toBeLessThan(100);
    expect(again.calls).toEqual([]);
    expect(t2).toEqual({ ...t, cached: true });
    expect(listCachedTrees(cache).map((x) => x.manifest.debianVersion)).toEqual(['9.9.1-1']);
    expect(readTreeInfo(t.path)).toMatchObject({ kernelVersion: '9.9.1', ffaSha256: t.ffaSha256 });

    // Fresh lists: the next resolution skips apt-get update.
    const third = fakeApt({ deb, madison: MADISON_99 });
    await ensureDebianTree('debian:9.9.0', { cacheDir: cache, aptRoot, runner: third.runner, isRoot: true });
    expect(third.calls[0]).toBe('apt-cache madison');
  });

  it('two concurrent calls on an empty cache: one download, the same tree', async () => {
    const cache = fresh('cache');
    const aptRoot = aptRootWithDebian();
    const { runner, calls } = fakeApt({ deb, madison: MADISON_99 });
    const o: FetchOptions = { cacheDir: cache, aptRoot, runner, isRoot: true, lockTimeoutMs: 60_000 };
    const [a, b] = await Promise.all([ensureDebianTree('debian:9.9', o), ensureDebianTree('9.9', o)]);
    expect(a.path).toBe(b.path);
    expect([a.cached, b.cached].sort()).toEqual([false, true]);
    expect(calls.filter((c) => c === 'apt-get download')).toHaveLength(1);
  });

  it('a tree without ffa.c: NO_PROXY, nothing cached', async () => {
    const cache = fresh('cache');
    const noProxy = { ...STAND_IN };
    delete noProxy['arch/arm64/kvm/hyp/nvhe/ffa.c'];
    const { runner } = fakeApt({ deb: buildDeb('9.9', '9.9.1-1', noProxy), madison: MADISON_99 });
    await expect(
      ensureDebianTree('debian:9.9', { cacheDir: cache, aptRoot: aptRootWithDebian(), runner, isRoot: true }),
    ).rejects.toMatchObject({
      code: 'NO_PROXY',
      message: expect.stringMatching(/linux-source-9\.9 9\.9\.1-1 has no/),
    });
    expect(listCachedTrees(cache)).toEqual([]);
    expect(readdirSync(join(cache, 'tmp'))).toEqual([]);
  });
});

describe('errors', () => {
  const base = (over: Partial<Parameters<typeof fakeApt>[0]> = {}) => {
    const { runner, calls } = fakeApt({ madison: MADISON_99, ...over });
    return { calls, o: { cacheDir: fresh('cache'), aptRoot: aptRootWithDebian(), runner, isRoot: true } };
  };

  it('no apt-get: NO_APT', async () => {
    const { o } = base({ missing: ['apt-get'] });
    await expect(ensureDebianTree('debian:9.9', o)).rejects.toMatchObject({
      code: 'NO_APT',
      message: expect.stringMatching(/^apt-get not found/),
    });
  });

  it('update fails (network): UPDATE_FAILED with apt lines and the command to retry', async () => {
    const { o } = base({
      update: {
        code: 100,
        stdout: '',
        stderr:
          "Err:1 http://mirror.test/debian sid InRelease\n  Temporary failure resolving 'mirror.test'\nE: Failed to fetch http://mirror.test/debian/dists/sid/InRelease\n",
      },
    });
    const e = (await ensureDebianTree('debian:9.9', o).catch((x: unknown) => x)) as KernelFetchError;
    expect(e).toBeInstanceOf(KernelFetchError);
    expect(e.code).toBe('UPDATE_FAILED');
    expect(e.message).toMatch(/Err:1 .*sid InRelease/);
    expect(e.message).toMatch(/retry by hand: apt-get -c \S+ffasim\.conf .*update$/m);
  });

  it('update "succeeds" with fetch warnings and apt knows nothing: UPDATE_FAILED naming the warnings', async () => {
    const { o } = base({
      update: {
        code: 0,
        stdout: '',
        stderr: 'W: Failed to fetch http://mirror.test/debian/dists/sid/InRelease\n',
      },
      madison: '',
      pkgnames: '',
    });
    await expect(ensureDebianTree('debian:9.9', o)).rejects.toMatchObject({
      code: 'UPDATE_FAILED',
      message: expect.stringMatching(/no network\?[\s\S]*W: Failed to fetch/),
    });
  });

  it('permission failure when not root: NOT_ROOT with the command to run', async () => {
    const { runner } = fakeApt({
      update: {
        code: 100,
        stdout: '',
        stderr: 'E: Could not open lock file /x/lists/lock - open (13: Permission denied)\n',
      },
    });
    await expect(
      ensureDebianTree('debian:9.9', {
        cacheDir: fresh('cache'),
        aptRoot: aptRootWithDebian(),
        runner,
        isRoot: false,
      }),
    ).rejects.toMatchObject({
      code: 'NOT_ROOT',
      message: expect.stringMatching(/sudo ffasim kernel fetch debian:9\.9/),
    });
  });

  it('unknown version: UNKNOWN_VERSION listing what apt knows', async () => {
    const { o, calls } = base({ pkgnames: 'linux-source-9.9\nlinux-source\n' });
    await expect(ensureDebianTree('debian:9.8', o)).rejects.toMatchObject({
      code: 'UNKNOWN_VERSION',
      message: expect.stringMatching(
        /apt knows:\n {2}linux-source-9\.9: 9\.9\.1-1 \(sid\), 9\.9\.0-2 \(trixie\)/,
      ),
    });
    expect(calls).not.toContain('apt-get download');
  });

  it('no Debian source on the system: NO_DEBIAN_SOURCE before any apt call', async () => {
    const root = fresh('etc-apt');
    writeFileSync(join(root, 'sources.list'), 'deb https://vendor.test/apt stable-vendor main\n');
    const { runner, calls } = fakeApt({});
    await expect(
      ensureDebianTree('debian:9.9', { cacheDir: fresh('cache'), aptRoot: root, runner, isRoot: true }),
    ).rejects.toMatchObject({ code: 'NO_DEBIAN_SOURCE' });
    expect(calls).toEqual([]);
  });
});

describe('cache and locks', () => {
  it('cache directory: FFASIM_CACHE, then absolute XDG_CACHE_HOME, then ~/.cache', () => {
    expect(cacheDir({ FFASIM_CACHE: '/a', XDG_CACHE_HOME: '/b' })).toBe('/a');
    expect(cacheDir({ XDG_CACHE_HOME: '/b' })).toBe('/b/ffasim');
    expect(cacheDir({ XDG_CACHE_HOME: 'relative' })).toMatch(/\/\.cache\/ffasim$/);
    expect(cacheDir({})).toMatch(/\/\.cache\/ffasim$/);
  });

  it('a lock serialises holders; a dead owner is taken over; a live one times out', async () => {
    const cache = fresh('cache');
    const order: string[] = [];
    const hold = (tag: string) =>
      withLock(
        cache,
        'x',
        async () => {
          order.push(`${tag}+`);
          await new Promise((r) => setTimeout(r, 30));
          order.push(`${tag}-`);
        },
        { pollMs: 5 },
      );
    await Promise.all([hold('a'), hold('b')]);
    expect(order).toEqual(['a+', 'a-', 'b+', 'b-']);

    mkdirSync(join(cache, 'locks', 'y'));
    writeFileSync(
      join(cache, 'locks', 'y', 'owner.json'),
      JSON.stringify({ pid: 2 ** 22 + 7, host: (await import('node:os')).hostname(), at: 'then' }),
    );
    expect(await withLock(cache, 'y', async () => 'taken over', { pollMs: 5 })).toBe('taken over');

    mkdirSync(join(cache, 'locks', 'z'));
    writeFileSync(
      join(cache, 'locks', 'z', 'owner.json'),
      JSON.stringify({ pid: process.pid, host: (await import('node:os')).hostname(), at: 'now' }),
    );
    await expect(withLock(cache, 'z', async () => 1, { pollMs: 5, timeoutMs: 50 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
  });
});

function ffasim(args: string[], env: Record<string, string>): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe.runIf(hasDpkg)('the CLI', () => {
  it('kernel list (text and --json), kernel fetch of a cached tree, a bad spec exits 2', async () => {
    const cache = fresh('cache');
    const { runner } = fakeApt({ deb: buildDeb('9.9', '9.9.1-1', STAND_IN), madison: MADISON_99 });
    const t = await ensureDebianTree('debian:9.9', {
      cacheDir: cache,
      aptRoot: aptRootWithDebian(),
      runner,
      isRoot: true,
    });
    const env = { FFASIM_CACHE: cache };
    const list = ffasim(['kernel', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.out.split('\n')[0]).toMatch(/^kernel\s+debian\s+ffa\.c sha256\s+path$/);
    expect(list.out).toContain(`9.9.1   linux-source-9.9 9.9.1-1  ${t.ffaSha256.slice(0, 12)}  ${t.path}`);
    const json = JSON.parse(ffasim(['kernel', 'list', '--json'], env).out) as {
      cache: string;
      trees: unknown[];
    };
    expect(json).toMatchObject({
      cache,
      trees: [{ path: t.path, kernelVersion: '9.9.1', ffaSha256: t.ffaSha256 }],
    });
    // A cached tree: its path on stdout, no apt call (apt state does not even exist in this cache).
    const f = ffasim(['kernel', 'fetch', 'debian:9.9'], env);
    expect(f).toMatchObject({ code: 0, out: `${t.path}\n` });
    expect(f.err).toMatch(/linux 9\.9\.1 .*; cached/);
    const bad = ffasim(['kernel', 'fetch', '/home/me/linux'], env);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(
      /^ffasim: kernel fetch \/home\/me\/linux: '\/home\/me\/linux' is not debian:<version>/,
    );
    const empty = ffasim(['kernel', 'list'], { FFASIM_CACHE: fresh('cache') });
    expect(empty.out).toMatch(/^no kernel trees in .*ffasim kernel fetch debian:7\.3/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// The real thing: Debian's trees into ffasim's cache (the one other kernel tests use).

const isRoot = process.getuid?.() === 0;
const REAL_CODES = new Set(['NO_APT', 'NO_DEBIAN_SOURCE', 'UPDATE_FAILED', 'NOT_ROOT']);

async function realFetch(version: string) {
  const started = performance.now();
  try {
    const t = await ensureDebianTree(version, { log: (l) => console.log(`  ${version}: ${l}`) });
    return { t, ms: performance.now() - started };
  } catch (e) {
    if (e instanceof KernelFetchError && REAL_CODES.has(e.code) && !isRoot && process.env.CI !== 'true') {
      console.warn(
        `\n*** kernel fetch ${version} SKIPPED: ${e.code}: ${e.message.split('\n')[0]}\n` +
          `*** to run it: sudo ./bin/ffasim.js kernel fetch ${version} (or install apt and connect) ***\n`,
      );
      return undefined;
    }
    throw e;
  }
}

describe('real Debian trees', () => {
  for (const [version, kernel, lines] of [
    ['debian:7.3', /^7\.3\.\d+$/, [950, 1100]],
    ['debian:6.12', /^6\.12\.\d+$/, [850, 1000]],
  ] as const) {
    it(`${version}: fetched (or found) in the cache; a second call is instant and makes no apt call`, async () => {
      const first = await realFetch(version);
      if (first === undefined) return;
      const { t, ms } = first;
      expect(t.kernelVersion).toMatch(kernel);
      expect(t.ffaLines).toBeGreaterThan(lines[0]);
      expect(t.ffaLines).toBeLessThan(lines[1]);
      for (const f of [
        'Makefile',
        'arch/arm64/kvm/hyp/nvhe/ffa.c',
        'arch/arm64/kvm/hyp/include/nvhe/ffa.h',
        'include/linux/arm_ffa.h',
        'arch/arm64/include/asm/kvm_pkvm.h',
      ])
        expect(existsSync(join(t.path, f)), f).toBe(true);
      const noApt: Runner = async (cmd) => {
        throw new Error(`a cached tree must not run ${cmd}`);
      };
      const s = performance.now();
      const again = await ensureDebianTree(version, { runner: noApt });
      const secondMs = performance.now() - s;
      expect(again).toMatchObject({ path: t.path, ffaSha256: t.ffaSha256, cached: true });
      expect(secondMs).toBeLessThan(200);
      console.log(
        `  ${version}: ${t.package} ${t.debianVersion} (linux ${t.kernelVersion}), ffa.c ${t.ffaLines} lines; ` +
          `${t.cached ? 'already cached' : 'first fetch'} ${(ms / 1000).toFixed(1)} s, second call ${secondMs.toFixed(1)} ms`,
      );
    }, 600_000);
  }
});
