/**
 * The process a kernel-mode fuzz campaign runs the real code in (./campaign.ts starts it, with libasan preloaded
 * for an ASan build). The real code may overflow, abort or spin: when it takes this process down, the parent
 * still knows which sequence did it (each is announced before it runs) and has every replay line recorded up to
 * the fatal call (streamed as recorded), and starts a new worker. Requests and answers are JSON lines: requests
 * on stdin, answers on stdout (written synchronously, so nothing is lost in a buffer when the process dies).
 *
 *   {"op":"batch","from":I,"count":N}        → {"at":i} per sequence, {"finding":{…}} per violation, {"batch":{…}}
 *   {"op":"one","input":{…},"record":true}   → {"line":{…}} per replay line, then {"one":{…}} (with the lies told)
 *   {"op":"coverage-start","withCheck":B} → {"started":true}: counters zeroed (then the check suite, if B)
 *   {"op":"coverage"}                        → {"coverage":{…}} (a --coverage build)
 */
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { hostileFor } from '../check/campaign.ts';
import { runCheck } from '../check/conformance.ts';
import { type FuzzRun, runSequence } from '../check/fuzz.ts';
import { createProfile, type Profile } from '../hyp/profiles.ts';
import type { HostileLie, HostileSpmc } from '../spmc/hostile.ts';
import { parseWorldConfig } from '../world/config.ts';
import { type KernelInput, type SeqOutcome, sequenceAt, type WorkerSetup } from './campaign.ts';
import { beginCoverage, type CoverageSession } from './coverage.ts';
import { kernelHypForTree } from './hyp.ts';

const send = (o: unknown): void => {
  writeSync(1, `${JSON.stringify(o)}\n`);
};

/**
 * Runs one sequence through the real code: its lies (exact, or a plan drawn from its seed) and its driver start's
 * version. A WARN_ON that fired is the outcome when no invariant broke (each world has its own counters).
 */
function runInput(
  input: KernelInput,
  profile: Profile,
  s: WorkerSetup,
  hyp: ReturnType<typeof kernelHypForTree>,
  record: boolean,
  onRun?: (run: FuzzRun) => void,
): SeqOutcome & { smcs: number; lies: HostileLie[] } {
  const hostile = hostileFor(input);
  const r = runSequence(input.actions, profile, s.config, s.ignore, record, {
    hyp,
    ...(hostile === undefined ? {} : { hostile }),
    ...(input.version === undefined ? {} : { version: input.version }),
    ...(onRun === undefined ? {} : { onRun }),
  });
  const liar = r.run.world.spmd.hostile as { applied: HostileLie[] } | undefined;
  const warn = r.run.world.hyp.counters.warns[0];
  return {
    smcs: r.run.smcs,
    lies: liar?.applied ?? [],
    ...(r.violation !== undefined ? { violation: r.violation } : warn !== undefined ? { warn } : {}),
  };
}

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  let setup: WorkerSetup | undefined;
  let hyp: ReturnType<typeof kernelHypForTree> | undefined;
  let profile: ReturnType<typeof createProfile> | undefined;
  let coverage: CoverageSession | undefined;
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const req = JSON.parse(line) as Record<string, unknown>;
    if (setup === undefined) {
      setup = req as unknown as WorkerSetup;
      const cfg = parseWorldConfig(setup.config);
      if (!cfg.ok) throw new Error(`worker: bad world: ${JSON.stringify(cfg.errors)}`);
      setup.config = cfg.value;
      profile = createProfile(setup.profile.base, setup.profile);
      hyp = kernelHypForTree(setup.tree, setup.build);
      send({ ready: true });
      continue;
    }
    const s = setup;
    switch (req.op) {
      case 'batch': {
        const from = req.from as number;
        const count = req.count as number;
        let smcs = 0;
        for (let i = from; i < from + count; i++) {
          send({ at: i });
          const input = sequenceAt(s.seed, i, s.maxLength, s.hostile === true);
          const r = runInput(input, profile!, s, hyp!, false);
          smcs += r.smcs;
          if (r.violation !== undefined || r.warn !== undefined)
            send({
              finding: {
                i,
                input,
                ...(r.violation === undefined ? { warn: r.warn } : { violation: r.violation }),
              },
            });
        }
        send({ batch: { from, count, smcs } });
        break;
      }
      case 'one': {
        const input = req.input as KernelInput;
        const record = req.record === true;
        // Each replay line leaves this process as it is recorded: a fatal call still leaves the lines before it.
        let sent = 0;
        const flush = (run: FuzzRun): void => {
          for (; sent < run.replay.length; sent++) send({ line: run.replay[sent] });
        };
        let current: FuzzRun | undefined;
        const r = runInput(input, profile!, s, hyp!, record, (run) => {
          current = run;
          // Each lie too, as it is told: the answer it changes may be the one the real code dies of.
          const liar = run.world.spmd.hostile as HostileSpmc | undefined;
          if (record && liar !== undefined) liar.onLie = (l) => send({ lie: l });
          if (record)
            run.world.observers.push({
              before: () => flush(run),
              after: () => {},
            });
        });
        if (record && current !== undefined) flush(current);
        send({ one: r });
        break;
      }
      case 'coverage': {
        if (coverage === undefined) {
          send({ coverage: null });
          break;
        }
        send({ coverage: coverage.finish() });
        coverage = undefined;
        break;
      }
      case 'coverage-start': {
        // The build is loaded by the first world; a measurement starts once it is.
        const { buildKernel } = await import('./build.ts');
        coverage = beginCoverage(buildKernel(s.tree, { ...s.build, pageSize: s.config.pageSize }));
        // The conformance suite first, as the campaign's seed: the coverage is that of check plus the fuzzing.
        if (req.withCheck === true) runCheck(profile!, undefined, { hyp: hyp! });
        send({ started: true });
        break;
      }
      case 'exit':
        send({ bye: true });
        return;
      default:
        throw new Error(`worker: unknown request ${JSON.stringify(req.op)}`);
    }
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`ffasim fuzz worker: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(70);
  },
);
