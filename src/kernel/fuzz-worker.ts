/**
 * The process a kernel-mode fuzz campaign runs the real code in (./campaign.ts starts it, with libasan preloaded
 * for an ASan build). The real code may overflow, abort or spin: when it takes this process down, the parent
 * still knows which sequence did it (each is announced before it runs) and has every replay line recorded up to
 * the fatal call (streamed as recorded), and starts a new worker. Requests and answers are JSON lines: requests
 * on stdin, answers on stdout (written synchronously, so nothing is lost in a buffer when the process dies).
 *
 *   {"op":"batch","from":I,"count":N}        → {"at":i} per sequence, {"finding":{…}} per violation, {"batch":{…}}
 *   {"op":"one","actions":[…],"record":true} → {"line":{…}} per replay line, then {"one":{…}}
 *   {"op":"coverage-start","withCheck":B} → {"started":true}: counters zeroed (then the check suite, if B)
 *   {"op":"coverage"}                        → {"coverage":{…}} (a --coverage build)
 */
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { runCheck } from '../check/conformance.ts';
import { type Action, type FuzzRun, runSequence } from '../check/fuzz.ts';
import { createProfile } from '../hyp/profiles.ts';
import { parseWorldConfig } from '../world/config.ts';
import { sequenceAt, type WorkerSetup } from './campaign.ts';
import { beginCoverage, type CoverageSession } from './coverage.ts';
import { kernelHypForTree } from './hyp.ts';

const send = (o: unknown): void => {
  writeSync(1, `${JSON.stringify(o)}\n`);
};

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
          const actions = sequenceAt(s.seed, i, s.maxLength);
          const r = runSequence(actions, profile!, s.config, s.ignore, false, { hyp: hyp! });
          smcs += r.run.smcs;
          if (r.violation !== undefined) send({ finding: { i, violation: r.violation, actions } });
        }
        send({ batch: { from, count, smcs } });
        break;
      }
      case 'one': {
        const actions = req.actions as Action[];
        const record = req.record === true;
        // Each replay line leaves this process as it is recorded: a fatal call still leaves the lines before it.
        let sent = 0;
        const flush = (run: FuzzRun): void => {
          for (; sent < run.replay.length; sent++) send({ line: run.replay[sent] });
        };
        const r = runSequence(actions, profile!, s.config, s.ignore, record, {
          hyp: hyp!,
          onRun: (run) => {
            if (record)
              run.world.observers.push({
                before: () => flush(run),
                after: () => {},
              });
          },
        });
        if (record) flush(r.run);
        send({ one: { smcs: r.run.smcs, ...(r.violation === undefined ? {} : { violation: r.violation }) } });
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
