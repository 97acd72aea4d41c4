/**
 * `--kernel <tree>` for the commands that run worlds (run, replay, check, view; fuzz and diff through their own
 * worker): resolve the tree (a path, or `debian:<version>` fetched into the cache), build its ffa.c, make sure
 * this process can load the build (an ASan build re-runs the command in a child with libasan preloaded), and
 * hand back the world option that puts the real code where the model proxy is. docs/kernel-mode.md.
 */
import type { BuildOptions, KernelBuild, Sanitizer, StackInit } from '../kernel/build.ts';
import type { KernelHypOptions } from '../kernel/hyp.ts';
import type { WorldOptions } from '../world/world.ts';
import { UsageError } from './errors.ts';

/** The kernel-mode options a command line carries. */
export interface KernelCliOpts {
  kernel?: string;
  sanitize?: string | string[];
  stackInit?: string;
  coverage?: boolean;
}

export type HypFactory = NonNullable<WorldOptions['hyp']>;

/** Build options from the command line (validated here, so a typo is a usage error before any compiling). */
export async function kernelBuildOptions(
  o: KernelCliOpts,
  defaults: { sanitize?: readonly Sanitizer[] } = {},
): Promise<Omit<BuildOptions, 'pageSize'>> {
  if (o.kernel === undefined) {
    const stray = [
      o.sanitize === undefined ? '' : '--sanitize',
      o.coverage === true ? '--coverage' : '',
      o.stackInit !== undefined && o.stackInit !== 'pattern' ? '--stack-init' : '',
    ].filter((x) => x !== '');
    if (stray.length > 0)
      throw new UsageError(
        `${stray.join(', ')} ${stray.length === 1 ? 'goes' : 'go'} with --kernel (the build of a kernel tree's ffa.c)`,
      );
  }
  const { sanitizersFrom } = await import('../kernel/run.ts');
  // buildKernel checks the value (a usage error naming the choices).
  const stackInit = (o.stackInit ?? 'pattern') as StackInit;
  return {
    sanitize: o.sanitize === undefined ? [...(defaults.sanitize ?? [])] : sanitizersFrom(o.sanitize),
    stackInit,
    coverage: o.coverage === true,
    log: (line: string) => process.stderr.write(`ffasim: ${line}\n`),
  };
}

/**
 * The world option for `--kernel`, or undefined without it, or the exit code of the child that ran the command
 * instead (ASan builds need libasan preloaded; src/kernel/run.ts).
 */
export async function kernelHypOption(
  o: KernelCliOpts,
  pageSize: number,
  defaults: { sanitize?: readonly Sanitizer[] } = {},
): Promise<HypFactory | number | undefined> {
  const k = await kernelMode(o, pageSize, defaults);
  return typeof k === 'object' ? k.hyp : k;
}

/** Kernel mode resolved: the world option and the build it loads (for coverage). */
export interface KernelMode {
  hyp: HypFactory;
  build: KernelBuild;
}

/** The tree a `--kernel` argument names and its build (fetched and compiled as needed; cached). */
export async function resolveKernelBuild(
  o: KernelCliOpts & { kernel: string },
  pageSize: number,
  defaults: { sanitize?: readonly Sanitizer[] } = {},
): Promise<{ tree: string; build: KernelBuild; options: Omit<BuildOptions, 'pageSize'> }> {
  const b = await kernelBuildOptions(o, defaults);
  const { KernelBuildError } = await import('../kernel/build.ts');
  const { kernelBuildFor, resolveTree } = await import('../kernel/run.ts');
  try {
    const tree = await resolveTree(o.kernel, b.log);
    return { tree, build: await kernelBuildFor(tree, { ...b, pageSize }), options: b };
  } catch (e) {
    if (e instanceof KernelBuildError) throw new UsageError(`--kernel ${o.kernel}: ${e.message}`);
    throw e;
  }
}

/** As {@link kernelHypOption}, with the build. */
export async function kernelMode(
  o: KernelCliOpts,
  pageSize: number,
  defaults: { sanitize?: readonly Sanitizer[] } = {},
  hypOptions: KernelHypOptions = {},
): Promise<KernelMode | number | undefined> {
  if (o.kernel === undefined) {
    await kernelBuildOptions(o, defaults); // stray kernel options are usage errors
    return undefined;
  }
  const { tree, build, options } = await resolveKernelBuild({ ...o, kernel: o.kernel }, pageSize, defaults);
  const { reexecForBuild } = await import('../kernel/run.ts');
  const { kernelHypForTree } = await import('../kernel/hyp.ts');
  const child = reexecForBuild(build);
  if (child !== undefined) return child;
  return { hyp: kernelHypForTree(tree, options, hypOptions), build };
}

/**
 * `--coverage`: starts a measurement of `k`'s build in this process; the returned function ends it, writes the
 * lcov file and gives the summary to print.
 */
export async function startCoverage(
  k: KernelMode,
  lcovPath = 'ffa-coverage.lcov',
): Promise<{ finish: () => string; lines: () => number[] }> {
  const { beginCoverage, coverageText, toLcov } = await import('../kernel/coverage.ts');
  const { writeFileSync } = await import('node:fs');
  const session = beginCoverage(k.build);
  return {
    lines: () => session.lines(),
    finish: () => {
      const c = session.finish();
      writeFileSync(lcovPath, toLcov(c));
      return coverageText(c, lcovPath);
    },
  };
}
