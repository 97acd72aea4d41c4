/**
 * The package as a user gets it: `npm pack`, install the tarball into a fresh project (offline, from the npm
 * cache), then use the CLI through `npx`, import the API from plain JavaScript, type-check a TypeScript consumer
 * against the shipped types, and run docs/api.md's examples as written.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without declarations (shared with the start-up benchmark).
import { installTarball } from '../../scripts/install-tarball.mjs';

const root = new URL('../..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
let project = '';
let tarball = '';

function newestSource(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return t;
}

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: project, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  // `npm test` builds lib/ first and `npm ci` built the web bundles; pack what is there (no second build while
  // other test files import lib/), after making sure it is not older than the source.
  expect(
    statSync(join(root, 'lib/cli/main.js')).mtimeMs,
    'lib/ is older than src/: run `npm run build`',
  ).toBeGreaterThanOrEqual(newestSource(join(root, 'src')) - 1);
  ({ project, tarball } = installTarball({ ignoreScripts: true }) as { project: string; tarball: string });
}, 120_000);

afterAll(() => {
  if (project !== '') rmSync(project, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('ships the compiled code, types, docs and the web bundle, and no tests, sources or fixtures', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    expect(files).toContain('package/lib/index.js');
    expect(files).toContain('package/lib/index.d.ts');
    expect(files).toContain('package/lib/codecs.d.ts');
    expect(files).toContain('package/web/dist/index.html');
    expect(files).toContain('package/bin/ffasim.js');
    // Kernel mode compiles a user's ffa.c against our own C shims on their machine, so those ship as sources;
    // nothing else under src/, and never kernel code (GPL-2.0: users fetch or point to it).
    expect(files).toContain('package/src/kernel/shim/bridge.c');
    expect(files).toContain('package/src/kernel/shim/include/ffasim/iface.h');
    const shipped = files.filter((f) => !f.startsWith('package/src/kernel/shim/'));
    expect(shipped.filter((f) => /(^package\/(src|test|bench|findings)\/)|\.test\.|\.png$/.test(f))).toEqual(
      [],
    );
    expect(files.filter((f) => /\/(ffa|mem_protect)\.c$|arm_ffa\.h$/.test(f))).toEqual([]);
  });
});

describe('installed from the tarball', () => {
  it('npx ffasim --version and -V print the version', () => {
    for (const flag of ['--version', '-V']) {
      const r = run('npx', ['--no-install', 'ffasim', flag]);
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe(pkg.version);
    }
  });

  it('npx ffasim run boot exits 0 with every expectation held', () => {
    const r = run('npx', ['--no-install', 'ffasim', 'run', 'boot']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/boot: 13\/13 expectations held/);
  });

  it('fuzz --workers 2 runs its worker threads from lib/ (no tsx) and finds what one thread finds', () => {
    const findings = (extra: string[]) => {
      const out = join(project, `fuzz-${extra.length}`);
      const r = run('npx', [
        '--no-install',
        'ffasim',
        'fuzz',
        '--runs',
        '200',
        '--seed',
        '3',
        '--out',
        out,
        ...extra,
      ]);
      expect(r.code, r.err).toBe(1); // the stock profile's I3 finding
      expect(r.err).toMatch(/^finding 001: I3 at FFA_VERSION/m);
      return readdirSync(out)
        .filter((f) => f.startsWith('finding-'))
        .sort()
        .map((f) => [f, readFileSync(join(out, f), 'utf8')]);
    };
    expect(findings(['--workers', '2'])).toEqual(findings([]));
  });

  it('the web view bundle is there: view --report writes a self-contained page', () => {
    const r = run('npx', ['--no-install', 'ffasim', 'view', 'boot', '--report', 'boot.html']);
    expect(r.code).toBe(0);
    const html = readFileSync(join(project, 'boot.html'), 'utf8');
    expect(html.length).toBeGreaterThan(100_000);
    expect(html).toMatch(/<script/);
  });

  it('a TypeScript scenario without a loader is a clear usage error, not a crash', () => {
    writeFileSync(join(project, 's.ts'), 'export default () => { const x: number = 1; void x; };\n');
    const r = run('npx', ['--no-install', 'ffasim', 'run', 's.ts']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/needs a loader: install tsx/);
  });

  it('plain JavaScript imports the API and runs a world', () => {
    writeFileSync(
      join(project, 'use.mjs'),
      [
        "import { createWorld, createProfile } from 'ffasim';",
        "const w = createWorld({ profile: createProfile('ffa-1.2-direct-msg') });",
        'w.host.negotiate();',
        "const r = w.host.directReq2(0x8001, '40ee25f0-a2bc-304c-8c4c-a173c57d8af1', [7n]);",
        'console.log(JSON.stringify({ ok: r.ok, echoed: String(r.ok && r.value.payload[0]), calls: w.calls }));',
      ].join('\n'),
    );
    const r = run(process.execPath, ['use.mjs']);
    expect(r.err).toBe('');
    expect(JSON.parse(r.out)).toEqual({ ok: true, echoed: '7', calls: 2 });
  });

  it('a strict TypeScript consumer type-checks against the shipped types (and a wrong use fails)', () => {
    writeFileSync(
      join(project, 'consumer.ts'),
      [
        "import { createWorld, type HostResult, RegisterFile, type WorldConfig } from 'ffasim';",
        "import { decodeCall, ffaName } from 'ffasim/codecs';",
        'const w = createWorld();',
        'const cfg: WorldConfig = w.config;',
        'const out: RegisterFile = w.smc([0x84000063n, 0x10002n]);',
        'const r: HostResult<unknown> = w.host.negotiate();',
        'const c = decodeCall(out);',
        "export const summary: string = [cfg.pageSize, ffaName(out.w(0)), r.ok, c.ok].join(' ');",
      ].join('\n'),
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          noEmit: true,
          skipLibCheck: false,
          types: [],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const ok = run(process.execPath, [tsc, '-p', '.']);
    expect(ok.out + ok.err).toBe('');
    expect(ok.code).toBe(0);
    writeFileSync(
      join(project, 'consumer.ts'),
      "import { createWorld } from 'ffasim';\nexport const n: number = createWorld().smc;\n",
    );
    const bad = run(process.execPath, [tsc, '-p', '.']);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/TS2322/);
  });

  it("docs/api.md's examples run as written", () => {
    const doc = readFileSync(join(root, 'docs/api.md'), 'utf8');
    const blocks = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    blocks.forEach((code, i) => {
      const file = join(project, `api-example-${i}.mjs`);
      writeFileSync(file, code);
      const r = run(process.execPath, [file]);
      expect(r.err, `docs/api.md example ${i + 1}`).toBe('');
      expect(r.code, `docs/api.md example ${i + 1}`).toBe(0);
    });
  });

  it('nothing in the install needs tsx', () => {
    expect(existsSync(join(project, 'node_modules/tsx'))).toBe(false);
    expect(readFileSync(join(project, 'node_modules/ffasim/bin/ffasim.js'), 'utf8')).not.toMatch(/tsx/);
  });
});
