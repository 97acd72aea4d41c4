/**
 * `ffasim kernel identify <tree>`: the shipped profile a tree's real ffa.c behaves like and the changes it
 * carries, measured on the code (src/kernel/identify.ts). Exit 0; 2 on bad input.
 */
import type { Command } from 'commander';
import type { IdentifyReport } from '../kernel/identify.ts';
import { writeOutput } from './common.ts';
import { kernelMode } from './kernel-opt.ts';

interface IdentifyCmdOpts {
  json?: boolean;
  out?: string;
}

/** Adds `identify` to the `kernel` command group. */
export function addKernelIdentifyCommand(kernel: Command): void {
  kernel
    .command('identify')
    .description(
      "which shipped profile a tree's ffa.c behaves like and which changes it carries (check suite, probes, differential)",
    )
    .argument('<tree>', 'a kernel tree (a path, or debian:<version> to fetch one)')
    .option('-o, --out <file>', 'write the report to a file')
    .option('--json', 'JSON report')
    .action(async (tree: string, opts: IdentifyCmdOpts) => {
      process.exitCode = await runKernelIdentify(tree, opts);
    });
}

/** Set in the child process that runs the observations (its value: the file it writes each key to). */
const MARK_ENV = 'FFASIM_IDENTIFY_MARK';
/** The JSON file of observations that crashed an earlier child (key → outcome). */
const CRASHED_ENV = 'FFASIM_IDENTIFY_CRASHED';
/** More crashes than this in one identify is a harness problem, not a tree property. */
const MAX_CRASHES = 64;

export async function runKernelIdentify(tree: string, o: IdentifyCmdOpts): Promise<number> {
  const mark = process.env[MARK_ENV];
  if (mark !== undefined) return identifyChild(tree, mark);
  const r = await identifyIsolated(tree);
  if (typeof r === 'number') return r;
  const { identifyText } = await import('../kernel/identify.ts');
  writeOutput(
    o.json === true ? `${JSON.stringify(r, null, 2)}\n` : identifyText(r, `${r.code} (${r.tree})`),
    o.out,
  );
  return 0;
}

/** The report of `kernel identify --json` from a child process. */
export type IsolatedIdentify = IdentifyReport & {
  tree: string;
  code: string;
  crashed: Record<string, string>;
};

/**
 * Identifies a tree with crash isolation: the observations run in a child process; one that kills it (a fault in
 * the real code) is recorded as that outcome and the child is started again, skipping it. Returns the report, or
 * the exit code of a child that failed otherwise.
 */
export async function identifyIsolated(
  tree: string,
  /** The command that runs ffasim (default: this process's node, its flags and its script). */
  command: readonly string[] = [process.execPath, ...process.execArgv, process.argv[1]!],
): Promise<IsolatedIdentify | number> {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'ffasim-identify-'));
  const markFile = join(dir, 'mark');
  const crashedFile = join(dir, 'crashed.json');
  const crashed: Record<string, string> = {};
  try {
    for (;;) {
      writeFileSync(crashedFile, JSON.stringify(crashed));
      writeFileSync(markFile, '');
      const r = spawnSync(command[0]!, [...command.slice(1), 'kernel', 'identify', tree], {
        env: { ...process.env, [MARK_ENV]: markFile, [CRASHED_ENV]: crashedFile },
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 1 << 28,
      });
      if (r.error !== undefined) throw r.error;
      if (r.status === 0) return { ...(JSON.parse(r.stdout.toString('utf8')) as IsolatedIdentify), crashed };
      const key = readFileSync(markFile, 'utf8');
      // A signal, or a wrapper's exit status 128 + signal (tsx runs the command in a child of its own).
      const signal = r.signal ?? (r.status !== null && r.status > 128 ? `signal ${r.status - 128}` : null);
      if (signal === null || key === '' || key in crashed || Object.keys(crashed).length >= MAX_CRASHES)
        return r.status ?? 70;
      const name = signal === 'signal 11' ? 'SIGSEGV' : signal;
      crashed[key] = `real code crashed (${name})`;
      process.stderr.write(`ffasim: identify: ${key} crashed the real code (${name}); going on without it\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The child: builds the tree, runs the observations (each key written to `mark` first), prints the JSON. */
async function identifyChild(tree: string, mark: string): Promise<number> {
  const { appendFileSync, readFileSync, writeFileSync } = await import('node:fs');
  const crashedFile = process.env[CRASHED_ENV];
  const crashed = (crashedFile === undefined ? {} : JSON.parse(readFileSync(crashedFile, 'utf8'))) as Record<
    string,
    string
  >;
  // Without sanitizers and with the pattern fill: identify compares behaviour, uninitialised values included.
  const k = await kernelMode({ kernel: tree, stackInit: 'pattern' }, 4096);
  if (typeof k === 'number') return k;
  if (k === undefined) return 2;
  const { identifyTree } = await import('../kernel/identify.ts');
  // Outcomes measured by earlier children (before one crashed) are reused: a restart does not redo them.
  const doneFile = `${mark}.done`;
  const known = new Map<string, string>();
  try {
    for (const line of readFileSync(doneFile, 'utf8').split('\n'))
      if (line !== '') {
        const [key, v] = JSON.parse(line) as [string, string];
        known.set(key, v);
      }
  } catch {
    // first child: nothing measured yet
  }
  const r = identifyTree(k.hyp, {
    begin: (key) => writeFileSync(mark, key),
    crashed: (key) => crashed[key] ?? known.get(key),
    done: (key, v) => appendFileSync(doneFile, `${JSON.stringify([key, v])}\n`),
  });
  process.stdout.write(`${JSON.stringify({ tree: k.build.tree, code: k.build.label, ...r })}\n`);
  return 0;
}
