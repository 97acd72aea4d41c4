/**
 * `ffasim view [TRACE.jsonl[.gz] | REPLAY.jsonl | SCENARIO]`: serves the web view on 127.0.0.1 and prints the URL;
 * `--report out.html` writes one self-contained HTML file instead. A scenario or replay file is run first (with
 * the invariant checks, as `ffasim run` does); a replay file is also handed to the page for what-if re-runs.
 */
import { spawn } from 'node:child_process';
import { gunzipSync, gzipSync } from 'node:zlib';
import { runToJSONL } from '../scenario/trace.ts';
import { intOption, loadWorld, readInput, UsageError, writeOutput } from './common.ts';
import { type HypFactory, type KernelCliOpts, kernelHypOption } from './kernel-opt.ts';
import { resolveScenario, runChosen, withHyp } from './run-cmd.ts';
import { reportHtml, startViewServer } from './view-server.ts';

interface ViewOpts extends KernelCliOpts {
  profile?: string;
  with?: string[];
  without?: string[];
  world?: string;
  port: string;
  report?: string;
  seed: string;
  open?: boolean;
  allowEmpty?: boolean;
}

/** What to show: trace bytes (JSONL or gzip), and the replay text when there is one. */
export async function viewInput(
  input: string | undefined,
  o: ViewOpts,
  hyp?: HypFactory,
): Promise<{ trace?: Uint8Array; replay?: string; world?: string; title: string }> {
  if (input === undefined) return { title: 'ffasim view' };
  // The world a scenario runs in goes to the page too, so what-if re-runs in the same machine.
  const world = o.world === undefined ? {} : { world: JSON.stringify(loadWorld(o.world)) };
  if (/\.jsonl(\.gz)?$/.test(input) || input.endsWith('.gz')) {
    const bytes = readInput(input);
    const gz = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
    let head: string;
    try {
      head = (gz ? gunzipSync(bytes) : bytes).subarray(0, 4096).toString('utf8');
    } catch (e) {
      throw new UsageError(`${input}: not a gzip file (${(e as Error).message})`);
    }
    const first = head.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#')) ?? '';
    if (gz || first.includes('"schema":"ffasim-trace/')) {
      // A recorded trace is shown as it was recorded: options that would change a run cannot apply to it.
      const run = [
        o.profile === undefined ? '' : '--profile',
        (o.with?.length ?? 0) > 0 ? '--with' : '',
        (o.without?.length ?? 0) > 0 ? '--without' : '',
      ].filter((x) => x !== '');
      if (o.kernel !== undefined) run.push('--kernel');
      if (run.length > 0)
        throw new UsageError(
          `${input} is a recorded trace, shown as recorded: ${run.join(', ')} cannot change it (run the scenario or replay file instead)`,
        );
      return { trace: new Uint8Array(bytes), ...world, title: input };
    }
    // Not a trace: a replay file. Run it, and keep it for what-if.
    const replay = bytes.toString('utf8');
    const s = await resolveScenario(input, { world: loadWorld(o.world), allowEmpty: o.allowEmpty });
    return { trace: run(withHyp(s, hyp), o), replay, title: input };
  }
  const s = await resolveScenario(input, { world: loadWorld(o.world), allowEmpty: o.allowEmpty });
  return { trace: run(withHyp(s, hyp), o), ...world, title: `ffasim ${s.name}` };
}

function run(s: Awaited<ReturnType<typeof resolveScenario>>, o: ViewOpts): Uint8Array {
  return new TextEncoder().encode(runToJSONL(runChosen(s, o, loadWorld(o.world))));
}

export async function runViewCommand(input: string | undefined, o: ViewOpts): Promise<number> {
  const port = intOption('--port', o.port, 0, 65535, '0–65535 (0: any free port)');
  if (o.report !== undefined && o.open === true)
    throw new UsageError('--open goes with the server, not --report (open the HTML file yourself)');
  if (input === undefined && o.kernel !== undefined)
    throw new UsageError('--kernel runs a scenario or replay file through the real code: name one');
  const hyp = await kernelHypOption(o, loadWorld(o.world)?.pageSize ?? 4096);
  if (typeof hyp === 'number') return hyp;
  const v = await viewInput(input, o, hyp);
  if (o.report !== undefined) {
    if (v.trace === undefined) throw new UsageError('--report needs a trace, replay file or scenario');
    const gz = v.trace[0] === 0x1f && v.trace[1] === 0x8b ? v.trace : gzipSync(v.trace, { level: 9 });
    const html = reportHtml(gz, v.title, v.replay, v.world);
    writeOutput(html, o.report);
    process.stderr.write(`wrote ${o.report} (${html.length} bytes, self-contained)\n`);
    return 0;
  }
  const s = await startViewServer({
    ...(v.trace === undefined ? {} : { trace: v.trace }),
    ...(v.replay === undefined ? {} : { replay: v.replay }),
    ...(v.world === undefined ? {} : { world: v.world }),
    port,
  });
  process.stdout.write(`ffasim view: ${s.url}\n(serving on 127.0.0.1 only; Ctrl-C to stop)\n`);
  if (o.open === true) openBrowser(s.url);
  return 0;
}

/** Asks the desktop to open `url` (xdg-open, open, or start); says so when it cannot. */
function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
  child.on('error', () => process.stderr.write(`ffasim view: could not run ${cmd}; open the URL yourself\n`));
  child.unref();
}
