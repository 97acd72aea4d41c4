/**
 * `ffasim kernel build <tree>`: compiles the tree's ffa.c unchanged against ffasim's shims into a kernel-mode
 * build in the cache (src/kernel/build.ts) and prints its directory.
 */
import type { Command } from 'commander';
import { UsageError } from './errors.ts';

interface BuildCmdOpts {
  sanitize?: string[];
  coverage?: boolean;
  stackInit: string;
  pageSize: string;
  force?: boolean;
  json?: boolean;
}

const collect = (v: string, prev: string[] = []): string[] => [
  ...prev,
  ...v.split(',').filter((s) => s !== ''),
];

/** Adds `build` to the `kernel` command group. */
export function addKernelBuildCommand(kernel: Command): void {
  kernel
    .command('build')
    .description(
      "compile a tree's arch/arm64/kvm/hyp/nvhe/ffa.c unchanged for kernel mode (cached by content)",
    )
    .argument('<tree>', 'a kernel tree (a path, or debian:<version> to fetch one)')
    .option('--sanitize <list...>', 'sanitizers: address, undefined (comma-separated)', collect)
    .option('--coverage', 'gcov instrumentation of ffa.c')
    .option(
      '--stack-init <mode>',
      'uninitialised locals: pattern (0xFE fill, I3 sees stale results), zero, none',
      'pattern',
    )
    .option('--page-size <bytes>', 'the world page size the build is for', '4096')
    .option('--force', 'rebuild even when cached')
    .option('--json', 'print the build record as JSON')
    .action(async (tree: string, opts: BuildCmdOpts) => {
      process.exitCode = await runKernelBuild(tree, opts);
    });
}

export async function runKernelBuild(tree: string, o: BuildCmdOpts): Promise<number> {
  const { KernelBuildError } = await import('../kernel/build.ts');
  const { kernelBuildFor, sanitizersFrom } = await import('../kernel/run.ts');
  try {
    const b = await kernelBuildFor(tree, {
      sanitize: sanitizersFrom(o.sanitize),
      coverage: o.coverage === true,
      stackInit: o.stackInit as 'pattern',
      pageSize: Number(o.pageSize),
      force: o.force === true,
      log: (line) => process.stderr.write(`ffasim: ${line}\n`),
    });
    const flags = [...b.sanitize, b.coverage ? 'coverage' : '', `stack-init ${b.stackInit}`].filter(Boolean);
    process.stderr.write(
      `ffasim: ${b.label} (${flags.join(', ')}): ${b.cached ? 'cached' : `built in ${(b.buildMs / 1000).toFixed(1)} s`}\n`,
    );
    process.stdout.write(o.json === true ? `${JSON.stringify(b, null, 2)}\n` : `${b.dir}\n`);
    return 0;
  } catch (e) {
    if (e instanceof KernelBuildError) throw new UsageError(`kernel build ${tree}: ${e.message}`);
    throw e;
  }
}
