#!/usr/bin/env node
/**
 * The `ffasim` command. Exit codes: 0 success, 1 a scenario expectation (or check) failed, 2 usage or input
 * error. Bad input never produces a stack trace: every error names what and where.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { DESCRIPTOR_KINDS } from '../ffa/desc/annotate.ts';
import { UsageError } from './errors.ts';
import { addKernelCommands } from './kernel-cmd.ts';

const collect = (v: string, prev: string[] = []): string[] => [
  ...prev,
  ...v.split(',').filter((s) => s !== ''),
];

/** The package's version, from the package.json beside `src/` (checkout) or `lib/` (installed package). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('ffasim')
    .description('Register-accurate model of the pKVM FF-A 1.2 proxy, its host driver and secure world')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride();

  const profileOpts = (c: Command): Command =>
    c
      // No commander default: an explicit `--profile ffa-1.2` must win over a scenario's or replay file's own.
      .option(
        '-p, --profile <name>',
        "proxy profile (see `ffasim profiles`; default ffa-1.2, or the scenario/replay file's own); run/replay also take all or a,b,c to compare profiles",
      )
      .option('--with <change...>', 'add profile changes (repeatable, comma-separated)', collect)
      .option('--without <change...>', 'remove profile changes (repeatable, comma-separated)', collect)
      .option('--world <file>', 'world JSON (docs/world.md)');
  // Kernel mode (docs/kernel-mode.md): the hyp is a kernel tree's real ffa.c, built on this machine.
  const kernelOnly = (c: Command): Command =>
    c
      .option('--kernel <tree>', "the hyp is a kernel tree's real ffa.c (a path, or debian:<version>)")
      .option(
        '--sanitize <list>',
        'with --kernel: build with sanitizers (address, undefined; comma-separated)',
      )
      .option('--stack-init <mode>', 'with --kernel: pattern (default), zero or none')
      .option('--coverage', 'with --kernel: gcov line and branch coverage of ffa.c, and an lcov file');
  const kernelOpts = (c: Command): Command => kernelOnly(profileOpts(c));

  kernelOpts(
    program
      .command('run')
      .description('run built-in or user scenarios and print their trace')
      .argument('[scenario...]', 'built-in name, a .ts/.js module, or a .jsonl replay file', ['boot'])
      .option('--list', 'list built-in scenarios')
      .addOption(
        new Option('-f, --format <fmt>', 'trace format (replay: the host actions as a replay file)')
          .choices(['text', 'jsonl', 'mermaid', 'perfetto', 'replay'])
          .default('text'),
      )
      .option('-o, --out <file>', 'write the trace to a file')
      .option('--explain', 'name the profile change and source of every proxy decision')
      .option('--regs', 'text format: print all registers of every hop')
      .option('--seed <n>', 'seed', '1')
      .option('--json', "with --profile all or a,b,c: the profiles' differences as JSON")
      .option('--allow-empty', 'accept a replay file with no actions (otherwise an error)'),
  ).action(async (scenarios: string[], opts) => {
    const { runRunCommand } = await import('./run-cmd.ts');
    process.exitCode = await runRunCommand(scenarios, opts);
  });

  kernelOpts(
    program
      .command('replay')
      .description('replay a JSONL file of host actions; prints one JSON line per action')
      .argument('<file>', 'replay file (- for stdin)')
      .option('--json', "with --profile all or a,b,c: the profiles' differences as JSON")
      .option('--allow-empty', 'accept a file with no actions (otherwise an error)'),
  ).action(async (file: string, opts) => {
    const { runReplayCommand } = await import('./replay-cmd.ts');
    process.exitCode = await runReplayCommand(file, opts);
  });

  program
    .command('decode')
    .description('decode FF-A register files (one per line) or a descriptor')
    .argument('[file]', 'input (- for stdin)', '-')
    .option('--json', 'one JSON object per line')
    .option('--strict', 'report MBZ violations')
    .option('--descriptor <file>', 'decode a binary or hex descriptor instead')
    .addOption(
      new Option('--ffa-version <v>', 'descriptor layout').choices(['1.0', '1.1', '1.2']).default('1.2'),
    )
    .addOption(
      new Option('--kind <k>', 'descriptor kind (mem: a send, else a retrieve response; mem-*: one use)')
        .choices([...DESCRIPTOR_KINDS])
        .default('mem'),
    )
    .option('--count <n>', 'partition-info: number of descriptors')
    .option('--allow-empty', 'accept an input with no register lines (otherwise an error)')
    .action(async (file: string, opts) => {
      const { runDecodeCommand } = await import('./decode-cmd.ts');
      process.exitCode = await runDecodeCommand(file, opts);
    });

  const checkCmd = program
    .command('check')
    .description('run the conformance rules (exit 1 when one fails)')
    .option('-p, --profile <name>', "profile, or 'all' for every shipped profile", 'ffa-1.2')
    .option('--with <change...>', 'add profile changes', collect)
    .option('--without <change...>', 'remove profile changes', collect)
    .option('--rule <prefix>', 'only rules whose id starts with this')
    .option(
      '--queue <url>',
      'one BullMQ job per profile on redis://HOST:PORT, run by `ffasim worker --queue URL` anywhere',
    )
    .addOption(
      new Option('-f, --format <fmt>', 'report format (junit and tap for CI)')
        .choices(['text', 'json', 'junit', 'tap'])
        .default('text'),
    )
    .option('--json', 'JSON output (same as --format json)');
  kernelOnly(checkCmd).action(async (opts) => {
    const { runCheckCommand } = await import('./check-cmd.ts');
    process.exitCode = await runCheckCommand(opts);
  });

  kernelOpts(
    program
      .command('fuzz')
      .description(
        'a fuzz campaign: adversarial host call sequences, invariants after every call, distinct shrunk findings (exit 1 on a finding)',
      )
      .option('--seed <n>', 'seed', '1')
      .option('--runs <n>', 'number of sequences (default 2000 when --time is not given)')
      .option('--time <sec>', 'stop after this many seconds')
      .option(
        '--spmc-quirks <names...>',
        'SPMC misbehaviours: share-success64, version-ns32, features-extra, retrieve-short, retrieve-count, retrieve-emad, frag-rx-long, frag-rx-zero',
        collect,
      )
      .option('--ignore <invariants...>', 'invariants not to report (e.g. I3 where H16 is known)', collect)
      .option(
        '-o, --out <dir>',
        'campaign directory: finding-NNN.jsonl/.md, corpus/, state.json, summary (nothing is written without it)',
      )
      .option('--resume', 'continue the campaign saved in --out DIR')
      .option('--calls <n>', 'stop after this many host SMCs')
      .option('--spmc <mode>', "the secure world: 'honest' (default) or 'hostile' (EL3 lies in its answers)")
      .option('--no-guidance', 'no coverage guidance: every sequence fresh from the generator')
      .option('-q, --quiet', 'no progress on stderr (CI)')
      .option('--workers <n>', 'worker threads running the sequences (the findings do not depend on it)')
      .option(
        '--queue <url>',
        'run the sequences as BullMQ jobs on redis://HOST:PORT (start `ffasim worker --queue URL` anywhere)',
      )
      .addOption(
        new Option('-f, --format <fmt>', 'summary format (junit: one test case per invariant, for CI)')
          .choices(['text', 'json', 'junit'])
          .default('text'),
      )
      .option('--json', 'JSON summary (same as --format json)'),
  ).action(async (opts) => {
    const { runFuzzCommand } = await import('./fuzz-cmd.ts');
    process.exitCode = await runFuzzCommand(opts);
  });

  program
    .command('worker')
    .description(
      'run the jobs of `fuzz --queue URL` campaigns and `check`/`diff --queue URL` sweeps from a BullMQ queue on Redis until stopped',
    )
    .requiredOption('--queue <url>', 'the queue: redis://HOST:PORT[/DB]')
    .option('--lock-ms <ms>', 'how long a job stays locked by a worker that stopped answering', '30000')
    .action(async (opts: { queue: string; lockMs: string }) => {
      const { intOption } = await import('./common.ts');
      const { startQueueWorker } = await import('./queue.ts');
      const lockMs = intOption('--lock-ms', opts.lockMs, 200, 3_600_000);
      const w = await startQueueWorker(opts.queue, {
        lockMs,
        log: (line) => process.stderr.write(`ffasim worker: ${line}\n`),
      });
      process.stderr.write(`ffasim worker: waiting for jobs on ${opts.queue}\n`);
      await new Promise<void>((done) => {
        for (const sig of ['SIGINT', 'SIGTERM'] as const)
          process.once(sig, () => {
            void w.close().then(done);
          });
      });
    });

  kernelOpts(
    program
      .command('view')
      .description(
        'web view of a trace, replay file or scenario on 127.0.0.1 (or one HTML file with --report)',
      )
      .argument('[input]', 'TRACE.jsonl[.gz], a replay .jsonl, or a scenario (none: a file picker)')
      .option('--port <n>', 'port (0: any free port)', '7160')
      .option('--report <file>', 'write one self-contained HTML file instead of serving')
      .option('--open', 'also open the URL in the desktop browser')
      .option('--seed <n>', 'seed for scenarios', '1')
      .option('--allow-empty', 'accept a replay file with no actions (otherwise an error)'),
  ).action(async (input: string | undefined, opts) => {
    const { runViewCommand } = await import('./view-cmd.ts');
    process.exitCode = await runViewCommand(input, opts);
  });

  kernelOpts(
    program
      .command('diff')
      .description("the model proxy vs a kernel tree's real ffa.c, call by call (exit 1 on a divergence)")
      .argument(
        '[subject...]',
        'built-in scenarios, scenario modules or .jsonl replay files (none: every built-in plus a fuzz batch)',
      )
      .option('--fuzz <n>', 'also compare this many seeded fuzz sequences')
      .option('--seed <n>', 'seed (scenarios and fuzz)', '1')
      .option('--max-length <n>', 'longest fuzz sequence (actions)')
      .option('-o, --out <file>', 'write the report to a file')
      .option('--json', 'JSON report')
      .option(
        '--queue <url>',
        'one BullMQ job per subject on redis://HOST:PORT, for `ffasim worker` processes that have the tree',
      ),
  ).action(async (subjects: string[], opts) => {
    const { runDiffCommand } = await import('./diff-cmd.ts');
    process.exitCode = await runDiffCommand(subjects, opts);
  });

  program
    .command('profiles')
    .description('list profiles and changes, or diff two profiles')
    .option('--diff <profiles...>', 'two profiles to compare')
    .option('--json', 'JSON output')
    .action(async (opts) => {
      const { runProfilesCommand } = await import('./profiles-cmd.ts');
      process.exitCode = await runProfilesCommand(opts);
    });

  addKernelCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`ffasim: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('main.ts')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(
        `ffasim: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
      );
      process.exitCode = 70;
    },
  );
}
