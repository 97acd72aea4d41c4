/**
 * Kernel mode for the commands that run a world (`run --kernel`, later replay/check/fuzz/view): resolve the tree
 * argument, build it, and make sure this process can load the build — an ASan build needs libasan loaded
 * before node's own libraries, so the command runs again in a child node with LD_PRELOAD (the parent waits and
 * passes on its exit code; the child's ASan report reaches the user's terminal unchanged).
 */
import { spawnSync } from 'node:child_process';
import { asanEnv, type BuildOptions, buildKernel, canLoadHere, type KernelBuild } from './build.ts';

/** `debian:<version>` (fetched into the cache when missing) or a path to a tree. */
export async function resolveTree(arg: string, log?: (line: string) => void): Promise<string> {
  if (!/^debian:/.test(arg)) return arg;
  const { ensureDebianTree } = await import('./fetch.ts');
  const t = await ensureDebianTree(arg, log === undefined ? {} : { log });
  return t.path;
}

/** Resolves and builds a `--kernel` argument. */
export async function kernelBuildFor(arg: string, o: BuildOptions = {}): Promise<KernelBuild> {
  const tree = await resolveTree(arg, o.log);
  return buildKernel(tree, o);
}

/** Set in the child that {@link reexecForBuild} starts, so it never starts another. */
const CHILD_MARK = 'FFASIM_KERNEL_CHILD';

/**
 * When `b` cannot be loaded in this process (ASan without libasan preloaded), runs this same command line in a
 * child node that can, and returns its exit code; otherwise undefined (go on in this process).
 */
export function reexecForBuild(b: KernelBuild): number | undefined {
  if (canLoadHere(b)) return undefined;
  if (process.env[CHILD_MARK] === '1')
    throw new Error(`cannot load ${b.label} (ASan) even with LD_PRELOAD=${b.libasan}`);
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, ...asanEnv(b), [CHILD_MARK]: '1' },
  });
  if (r.error !== undefined) throw r.error;
  return r.status ?? 1;
}

/** `--sanitize address,undefined` as a list (validated by the build). */
export function sanitizersFrom(v: string | string[] | undefined): ('address' | 'undefined')[] {
  if (v === undefined) return [];
  const list = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).filter((s) => s !== '');
  return list as ('address' | 'undefined')[];
}
