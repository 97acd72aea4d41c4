/**
 * `ffasim kernel …`: real kernel trees. `fetch debian:<version>` puts Debian's tree into the cache and prints its
 * path; `list` shows the cached trees. (`build` and `identify` join this group.)
 */
import type { Command } from 'commander';
import { UsageError } from './errors.ts';
import { addKernelBuildCommand } from './kernel-build-cmd.ts';
import { addKernelIdentifyCommand } from './kernel-identify-cmd.ts';

const collect = (v: string, prev: string[] = []): string[] => [
  ...prev,
  ...v.split(',').filter((s) => s !== ''),
];

interface FetchCmdOpts {
  suite?: string[];
  refresh?: boolean;
  json?: boolean;
}

interface ListCmdOpts {
  json?: boolean;
}

/** Adds the `kernel` command group to the program and returns it (other kernel sub-commands attach to it). */
export function addKernelCommands(program: Command): Command {
  const kernel = program
    .command('kernel')
    .description('real kernel trees for kernel mode: fetch Debian trees into the cache, list them');

  kernel
    .command('fetch')
    .description("download Debian's linux-source-<version> into the cache, keep the files kernel mode needs")
    .argument(
      '<spec>',
      'debian:<version>: debian:7.3 (newest 7.3.x), debian:6.12, debian:7 (newest 7.x), debian:7.3.4-1~bpo13+1',
    )
    .option(
      '--suite <name...>',
      'Debian suites to search besides the configured ones (repeatable, comma-separated; default trixie,trixie-backports,sid)',
      collect,
    )
    .option('--refresh', 'ask apt again even when a matching tree is cached (updates the private lists)')
    .option('--json', 'print the tree (path, versions, ffa.c sha256, files) as JSON instead of its path')
    .action(async (spec: string, opts: FetchCmdOpts) => {
      process.exitCode = await runKernelFetch(spec, opts);
    });

  kernel
    .command('list')
    .description('list the kernel trees in the cache')
    .option('--json', 'JSON output')
    .action(async (opts: ListCmdOpts) => {
      process.exitCode = await runKernelList(opts);
    });

  addKernelBuildCommand(kernel);
  addKernelIdentifyCommand(kernel);

  return kernel;
}

/** `kernel fetch`: the tree's path on stdout (so `$(ffasim kernel fetch debian:7.3)` works), progress on stderr. */
export async function runKernelFetch(spec: string, o: FetchCmdOpts): Promise<number> {
  const { ensureDebianTree, KernelFetchError } = await import('../kernel/fetch.ts');
  const started = Date.now();
  try {
    const t = await ensureDebianTree(spec, {
      ...(o.suite !== undefined && o.suite.length > 0 ? { suites: o.suite } : {}),
      ...(o.refresh === true ? { refresh: true } : {}),
      log: (line) => process.stderr.write(`ffasim: ${line}\n`),
    });
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(
      `ffasim: linux ${t.kernelVersion} (Debian ${t.package} ${t.debianVersion}), ffa.c ${t.ffaLines} lines, ` +
        `sha256 ${t.ffaSha256.slice(0, 12)}; ${t.cached ? 'cached' : `fetched in ${secs} s`}\n`,
    );
    process.stdout.write(o.json === true ? `${JSON.stringify(t, null, 2)}\n` : `${t.path}\n`);
    return 0;
  } catch (e) {
    if (e instanceof KernelFetchError) throw new UsageError(`kernel fetch ${spec}: ${e.message}`);
    throw e;
  }
}

/** `kernel list`: kernel version, Debian version, short ffa.c sha256, path. */
export async function runKernelList(o: ListCmdOpts): Promise<number> {
  const { cacheDir, listCachedTrees, treesDir } = await import('../kernel/cache.ts');
  const cache = cacheDir();
  const trees = listCachedTrees(cache);
  if (o.json === true) {
    const rows = trees.map((t) => ({ ...t.manifest, path: t.path }));
    process.stdout.write(`${JSON.stringify({ cache, trees: rows }, null, 2)}\n`);
    return 0;
  }
  if (trees.length === 0) {
    process.stdout.write(
      `no kernel trees in ${treesDir(cache)} (fetch one: ffasim kernel fetch debian:7.3)\n`,
    );
    return 0;
  }
  const rows = [
    ['kernel', 'debian', 'ffa.c sha256', 'path'],
    ...trees.map((t) => [
      t.manifest.kernelVersion,
      `${t.manifest.package} ${t.manifest.debianVersion}`,
      t.manifest.ffaSha256.slice(0, 12),
      t.path,
    ]),
  ];
  const widths = [0, 1, 2].map((i) => {
    let w = 0;
    for (const r of rows) w = Math.max(w, r[i]!.length);
    return w;
  });
  let s = '';
  for (const r of rows) s += `${r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ')}\n`;
  process.stdout.write(s);
  return 0;
}
