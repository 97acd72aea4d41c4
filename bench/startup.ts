/**
 * Whole-process start-up: `ffasim run boot` as a user runs it — from the checkout (`./bin/ffasim.js`) and from the
 * packed tarball installed in a fresh project — against bare `node -e 0` on the same run. Target ≤ 200 ms median.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error: a plain .mjs script without declarations (shared with test/package/install.test.ts).
import { installTarball } from '../scripts/install-tarball.mjs';

const root = new URL('..', import.meta.url).pathname;

function medianMs(cmd: string, args: string[], cwd: string, runs = 15): number {
  const times: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    const dt = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    if (i >= 2) times.push(dt); // two warm-up runs (file cache)
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function benchStartup(): void {
  const { project } = installTarball({ ignoreScripts: true }) as { project: string };
  const node = process.execPath;
  const floor = medianMs(node, ['-e', '0'], root);
  const rows: [string, number][] = [
    ['node -e 0 (the floor)', floor],
    [
      'checkout: ./bin/ffasim.js run boot',
      medianMs(node, [join(root, 'bin/ffasim.js'), 'run', 'boot'], root),
    ],
    [
      'installed: node_modules/.bin/ffasim run boot',
      medianMs(join(project, 'node_modules/.bin/ffasim'), ['run', 'boot'], project),
    ],
    ['checkout: ./bin/ffasim.js --version', medianMs(node, [join(root, 'bin/ffasim.js'), '--version'], root)],
  ];
  console.log(
    '\nStart-up: whole process, median of 15 runs, ratio to bare node (target ≤ 200 ms for run boot)',
  );
  const w = rows.reduce((m, [n]) => Math.max(m, n.length), 0);
  for (const [name, ms] of rows)
    console.log(`  ${name.padEnd(w)}  ${ms.toFixed(1).padStart(7)} ms  ×${(ms / floor).toFixed(2)}`);
  rmSync(project, { recursive: true, force: true });
}
