#!/usr/bin/env node
/**
 * Installs ffasim the way a user does, offline: `npm pack` this checkout, then install the tarball into a fresh
 * project with a lock file that pins ffasim's runtime dependencies exactly as our own package-lock.json does, so
 * `npm ci --offline` takes them from the npm cache that `npm ci` filled. Used by test/package/install.test.ts and
 * the start-up benchmark. `node scripts/install-tarball.mjs DIR` prints DIR's path when done.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * Packs the checkout (running `prepare`, so lib/ and the web bundles are fresh unless `ignoreScripts`) and
 * installs the tarball into `dir` (a new temp dir by default). Returns the project dir and the tarball path.
 */
export function installTarball({ dir, ignoreScripts = false } = {}) {
  const project = dir ? resolve(dir) : mkdtempSync(join(tmpdir(), 'ffasim-user-'));
  mkdirSync(project, { recursive: true });
  const packOut = execFileSync(
    npm,
    ['pack', '--json', '--pack-destination', project, ...(ignoreScripts ? ['--ignore-scripts'] : [])],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const [{ filename }] = JSON.parse(packOut.slice(packOut.indexOf('[')));
  const tarball = join(project, filename);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const ourLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const spec = `file:${filename}`;
  const packages = {
    '': { name: 'ffasim-user', version: '1.0.0', dependencies: { ffasim: spec } },
    'node_modules/ffasim': {
      version: pkg.version,
      resolved: spec,
      integrity,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
      ...(pkg.peerDependencies ? { peerDependencies: pkg.peerDependencies } : {}),
      ...(pkg.peerDependenciesMeta ? { peerDependenciesMeta: pkg.peerDependenciesMeta } : {}),
    },
  };
  // ffasim's runtime closure in our lock: its dependencies, theirs and their optional ones, resolved the way
  // Node does (nested node_modules first, then each parent's). A package both a dev tool and an optional
  // runtime one need is 'devOptional' in our lock; here it is runtime, and optional.
  const lockPath = (from, name) => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
      const at = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (ourLock.packages[at]) return at;
      if (!dir) return undefined;
    }
  };
  const queue = Object.keys(pkg.dependencies ?? {}).map((name) => lockPath('', name));
  while (queue.length > 0) {
    const at = queue.shift();
    if (at === undefined || packages[at]) continue;
    const { dev, devOptional, ...entry } = ourLock.packages[at];
    packages[at] = devOptional ? { ...entry, optional: true } : entry;
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }))
      queue.push(lockPath(at, name));
  }
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'ffasim-user', version: '1.0.0', private: true, type: 'module', dependencies: { ffasim: spec } }, null, 2)}\n`,
  );
  writeFileSync(
    join(project, 'package-lock.json'),
    `${JSON.stringify({ name: 'ffasim-user', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`,
  );
  execFileSync(npm, ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { project, tarball };
}

if (process.argv[1]?.endsWith('install-tarball.mjs')) {
  const { project } = installTarball({ dir: process.argv[2] });
  process.stdout.write(`${project}\n`);
}
