/**
 * Campaigns split over worker threads and over a BullMQ queue on Redis (issue 14 items 5–6): for the same seed
 * and run budget the findings folder is the same, byte for byte, as one process writes. The queue test starts
 * Debian's redis-server on 127.0.0.1 on a free port (installed with apt when missing and running as root), runs
 * two `ffasim worker` processes, kills one mid-campaign, and checks nothing was lost or duplicated. Without
 * redis-server: a loud SKIPPED line; with CI=true it fails instead.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { debianTree } from '../kernel/trees.ts';

const root = resolve(import.meta.dirname, '../..');
const tsx = import.meta.resolve('tsx');
const cli = join(root, 'src/cli/main.ts');

function ffasim(args: string[], cwd: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', tsx, cli, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 240_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Every file of a campaign folder but the summary (which carries wall times), by relative path. */
function folder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const n of readdirSync(join(d, rel), { withFileTypes: true })) {
      const p = rel === '' ? n.name : `${rel}/${n.name}`;
      if (n.isDirectory()) walk(d, p);
      else if (!/^summary\./.test(p)) out[p] = readFileSync(join(d, p), 'utf8');
    }
  };
  walk(dir, '');
  return out;
}

const CAMPAIGN = ['fuzz', '--spmc', 'hostile', '--seed', '424242', '--runs', '256', '-q'];

describe('fuzz --workers', () => {
  it('writes the same findings folder as one process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-workers-'));
    const a = ffasim([...CAMPAIGN, '--out', 'one'], dir);
    const b = ffasim([...CAMPAIGN, '--out', 'two', '--workers', '2'], dir);
    expect(a.code, a.err).toBe(1);
    expect(b.code, b.err).toBe(1);
    const fa = folder(join(dir, 'one'));
    expect(Object.keys(fa).filter((n) => n.endsWith('.jsonl')).length).toBeGreaterThan(0);
    expect(folder(join(dir, 'two'))).toEqual(fa);
    // --calls stops at a batch end, the batch already running after it dropped unmerged; resumed to the same run
    // budget, the folder is the one-process one again.
    const base = CAMPAIGN.filter((x, k) => x !== '--runs' && CAMPAIGN[k - 1] !== '--runs');
    const c = ffasim([...base, '--calls', '600', '--out', 'three', '--workers', '2'], dir);
    expect(c.code, c.err).toBeLessThan(2);
    const next = JSON.parse(readFileSync(join(dir, 'three', 'state.json'), 'utf8')).next as number;
    expect(next % 64).toBe(0);
    expect(next).toBeLessThan(256);
    const d = ffasim([...CAMPAIGN, '--out', 'three', '--workers', '2', '--resume'], dir);
    expect(d.code, d.err).toBe(1);
    expect(folder(join(dir, 'three'))).toEqual(fa);
    expect(ffasim([...CAMPAIGN, '--workers', '0'], dir).code).toBe(2);
    // Kernel mode has its own crash-isolated worker process: a split is refused, not ignored.
    const k = ffasim(['fuzz', '--kernel', join(dir, 'tree'), '--workers', '2', '--runs', '3'], dir);
    expect(k.code).toBe(2);
    expect(k.err).toMatch(/--workers splits a model-mode campaign/);
  }, 300_000);
});

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => ok(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

function haveRedis(): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  if (which.status === 0) return which.stdout.trim();
  if (process.getuid?.() === 0) {
    spawnSync('apt-get', ['install', '-y', 'redis-server'], { stdio: 'ignore', timeout: 300_000 });
    const again = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
    if (again.status === 0) return again.stdout.trim();
  }
  if (process.env.CI === 'true')
    throw new Error('CI=true and no redis-server (apt-get install redis-server)');
  console.warn('\nSKIPPED: BullMQ queue tests: no redis-server\n  run: apt-get install redis-server\n');
  return undefined;
}

const redisBin = haveRedis();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

async function startRedis(bin: string): Promise<number> {
  const port = await freePort();
  const r = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(r);
  await new Promise<void>((ok, fail) => {
    let text = '';
    r.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      if (/Ready to accept connections/.test(text)) ok();
    });
    r.once('exit', (c) => fail(new Error(`redis-server exited ${c}: ${text}`)));
  });
  return port;
}

let workers = 0;

/**
 * A worker whose jobs' locks run out after `lockMs` without renewal (short: a killed worker's job comes back
 * soon). Its log goes to a file, not a pipe: the test's spawnSync calls block this event loop, and a worker
 * writing into a full pipe nobody reads would stall its jobs.
 */
function worker(url: string, cwd: string, lockMs = 1500): { p: ChildProcess; jobs: () => number } {
  const log = join(cwd, `worker-${workers++}.log`);
  const fd = openSync(log, 'w');
  const p = spawn(
    process.execPath,
    ['--import', tsx, cli, 'worker', '--queue', url, '--lock-ms', String(lockMs)],
    { cwd, stdio: ['ignore', 'ignore', fd] },
  );
  closeSync(fd);
  children.push(p);
  return { p, jobs: () => (readFileSync(log, 'utf8').match(/: job /g) ?? []).length };
}

describe.skipIf(redisBin === undefined)('fuzz --queue (BullMQ on Redis)', () => {
  it('two workers, one killed mid-campaign: the same findings folder as one process', async () => {
    const port = await startRedis(redisBin!);
    const url = `redis://127.0.0.1:${port}`;
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-queue-'));
    const local = ffasim([...CAMPAIGN, '--out', 'local'], dir);
    expect(local.code, local.err).toBe(1);
    const w1 = worker(url, dir);
    const w2 = worker(url, dir);
    const coord = spawn(
      process.execPath,
      ['--import', tsx, cli, ...CAMPAIGN, '--out', 'queued', '--queue', url],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(coord);
    let err = '';
    coord.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    // Kill the first worker as soon as it has started a job.
    await new Promise<void>((ok) => {
      const t = setInterval(() => {
        if (w1.jobs() > 0) {
          clearInterval(t);
          w1.p.kill('SIGKILL');
          ok();
        }
      }, 5);
    });
    const code = await new Promise<number>((ok) => coord.once('exit', (c) => ok(c ?? -1)));
    expect(code, err).toBe(1);
    expect(w2.jobs()).toBeGreaterThan(0);
    expect(folder(join(dir, 'queued'))).toEqual(folder(join(dir, 'local')));
    w2.p.kill('SIGTERM');
    // An unreachable queue is a usage error naming it.
    const bad = ffasim([...CAMPAIGN, '--queue', 'redis://127.0.0.1:1'], dir);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--queue redis:\/\/127\.0\.0\.1:1: cannot reach Redis/);
  }, 300_000);

  it('check --queue: a job per profile on two workers, the same report as one process', async () => {
    const port = await startRedis(redisBin!);
    const url = `redis://127.0.0.1:${port}`;
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-check-queue-'));
    const w1 = worker(url, dir, 20_000);
    const w2 = worker(url, dir, 20_000);
    for (const args of [
      ['check', '--profile', 'all', '--format', 'tap'],
      ['check', '--profile', 'all'],
      // A change removed: failing rules, exit 1, on every side alike.
      ['check', '--profile', 'ffa-1.2-hardened', '--without', 'reclaim-bounds', '--format', 'json'],
    ]) {
      const local = ffasim(args, dir);
      const queued = ffasim([...args, '--queue', url], dir);
      expect(queued.err).toBe('');
      expect(queued.code).toBe(local.code);
      expect(queued.out).toBe(local.out);
    }
    // Each worker's log lines arrive on this (blocked until now) event loop: give them a moment.
    for (let t = 0; t < 100 && w1.jobs() + w2.jobs() < 19; t++) await new Promise((ok) => setTimeout(ok, 20));
    expect(w1.jobs() + w2.jobs()).toBe(9 + 9 + 1);
    expect(ffasim(['check', '--kernel', 'x', '--queue', url], dir).code).toBe(2);
    expect(ffasim(['check', '--profile', 'nope', '--queue', url], dir).err).toMatch(/profile/);
    w1.p.kill('SIGTERM');
    w2.p.kill('SIGTERM');
  }, 300_000);

  it('diff --queue --kernel: a job per subject, the workers build the tree, the same report as one process', async () => {
    const tree = await debianTree('7.3');
    if (tree === undefined) return;
    const port = await startRedis(redisBin!);
    const url = `redis://127.0.0.1:${port}`;
    const dir = mkdtempSync(join(tmpdir(), 'ffasim-diff-queue-'));
    // A diff job runs seconds of synchronous work (the first one builds the tree): a lock long enough for it.
    const w1 = worker(url, dir, 60_000);
    const w2 = worker(url, dir, 60_000);
    const args = ['diff', '--kernel', tree, '--profile', 'linux-7.3', 'share-lend-reclaim', 'h16', 'boot'];
    for (const extra of [['--json'], ['--fuzz', '8', '--seed', '5']]) {
      const local = ffasim([...args, ...extra], dir);
      const queued = ffasim([...args, ...extra, '--queue', url], dir);
      expect(local.code, local.err).toBe(0);
      expect(queued.code, queued.err).toBe(0);
      expect(queued.out).toBe(local.out);
    }
    // A divergence travels too: the model without a change the tree has.
    for (const format of [['--json'], []]) {
      const bad = ['diff', 'h16', ...args.slice(1, 5), ...format, '--without', 'zeroed-result'];
      const local = ffasim(bad, dir);
      const queued = ffasim([...bad, '--queue', url], dir);
      expect(local.code).toBe(1);
      expect(queued.code, queued.err).toBe(1);
      expect(queued.out).toBe(local.out);
    }
    expect(ffasim(['diff', 'h16', ...args.slice(1, 5), '--without', 'zeroed-result'], dir).out).toMatch(
      /DIVERGENCE in h16/,
    );
    for (let t = 0; t < 100 && w1.jobs() + w2.jobs() < 9; t++) await new Promise((ok) => setTimeout(ok, 20));
    expect(w1.jobs() + w2.jobs()).toBe(3 + 4 + 1 + 1);
    // The profile must be named: identify needs the tree on the coordinator's machine.
    const noProfile = ffasim(['diff', '--kernel', tree, 'boot', '--queue', url], dir);
    expect(noProfile.code).toBe(2);
    expect(noProfile.err).toMatch(/--queue: name the profile/);
    // Sanitizer builds run under their preloaded runtime, not inside a worker's jobs: refused up front.
    const san = ffasim(['diff', 'boot', ...args.slice(1, 5), '--sanitize', 'address', '--queue', url], dir);
    expect(san.code).toBe(2);
    expect(san.err).toMatch(/--queue: the workers build the tree as diff does by default/);
    // A tree the workers do not have: each job fails on them, and the coordinator says which and why.
    const missing = join(dir, 'no-such-tree');
    const noTree = ffasim(
      ['diff', 'boot', '--kernel', missing, '--profile', 'linux-7.3', '--queue', url],
      dir,
    );
    expect(noTree.code).toBe(2);
    expect(noTree.err).toMatch(/--queue redis:\/\/127\.0\.0\.1:\d+: job diff-[\w-]+ failed: .*no-such-tree/);
    w1.p.kill('SIGTERM');
    w2.p.kill('SIGTERM');
  }, 300_000);
});
