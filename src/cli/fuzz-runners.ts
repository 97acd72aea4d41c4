/**
 * Where a model-mode campaign's sequences run (issue 14 items 5–6): in this thread, in `--workers N` worker
 * threads, or as jobs on a BullMQ queue (./queue.ts). Each runner is given one batch at a time — the
 * sequences [from, to) of one guidance batch, planned from the corpus as it stood when the batch began — and
 * gives back their results, which the caller merges in index order (src/check/campaign.ts `mergeResults`). A
 * sequence is a function of (seed, index, that corpus) alone, so the findings folder does not depend on the
 * runner or on how the batch was split.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import {
  CampaignContext,
  type CampaignOptions,
  inputAt,
  profileDelta,
  type SeqInput,
  type SeqResult,
} from '../check/campaign.ts';
import { createProfile } from '../hyp/profiles.ts';
import type { WorldConfig } from '../world/config.ts';

/** CampaignOptions as plain data: what a worker thread or a queue job is told. */
export interface CampaignSetup {
  profile: { base: string; with: string[]; without: string[] };
  config: WorldConfig;
  seed: number;
  hostile: boolean;
  guided: boolean;
  ignore: string[];
  maxLength?: number;
  batchSize?: number;
}

export function setupOf(o: CampaignOptions): CampaignSetup {
  return {
    profile: { base: o.profile.base, ...profileDelta(o.profile) },
    config: o.config,
    seed: o.seed,
    hostile: o.hostile,
    guided: o.guided,
    ignore: [...o.ignore],
    ...(o.maxLength === undefined ? {} : { maxLength: o.maxLength }),
    ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
  };
}

export function optionsOf(s: CampaignSetup): CampaignOptions {
  return {
    profile: createProfile(s.profile.base, { with: s.profile.with, without: s.profile.without }),
    config: s.config,
    seed: s.seed,
    hostile: s.hostile,
    guided: s.guided,
    ignore: s.ignore,
    ...(s.maxLength === undefined ? {} : { maxLength: s.maxLength }),
    ...(s.batchSize === undefined ? {} : { batchSize: s.batchSize }),
  };
}

/** Runs the sequences [from, to) of one batch; `corpus` holds at least the batch's `batchCorpus` entries. */
export interface BatchRunner {
  readonly label: string;
  run(corpus: readonly SeqInput[], batchCorpus: number, from: number, to: number): Promise<SeqResult[]>;
  close(): Promise<void>;
}

/**
 * A worker's side of a runner: its own CampaignContext (one booted world, restored per sequence) and a copy of
 * the corpus that only ever grows (entries are appended in index order and never change).
 */
export class BatchExecutor {
  readonly ctx: CampaignContext;
  readonly corpus: SeqInput[] = [];
  /** Coverage keys this executor has reported (only when it {@link BatchExecutor.terse | is terse}). */
  private readonly reported = new Set<string>();

  /**
   * `terse`: results leave out the input (the merge redraws it: {@link inputAt}) and every coverage key this
   * executor reported before. Exact only when its pieces are merged in the order it ran them, after every lower
   * index — a thread given pieces in index order; not a queue worker, whose jobs are retried anywhere.
   */
  private readonly terse: boolean;

  constructor(setup: CampaignSetup, terse = false) {
    this.ctx = new CampaignContext(optionsOf(setup));
    this.terse = terse;
  }

  run(batchCorpus: number, from: number, to: number): SeqResult[] {
    if (this.corpus.length < batchCorpus)
      throw new Error(
        `campaign worker: ${this.corpus.length} corpus entries, the batch needs ${batchCorpus}`,
      );
    const out: SeqResult[] = [];
    for (let i = from; i < to; i++) {
      const r = this.ctx.result(i, inputAt(this.ctx.o, this.corpus, batchCorpus, i));
      if (!this.terse) {
        out.push(r);
        continue;
      }
      const coverage: string[] = [];
      for (const k of r.coverage)
        if (!this.reported.has(k)) {
          this.reported.add(k);
          coverage.push(k);
        }
      out.push({ index: r.index, smcs: r.smcs, coverage, hits: r.hits });
    }
    return out;
  }
}

/** `[from, to)` cut into `n` consecutive pieces, as even as can be (empty ones left out). */
export function split(from: number, to: number, n: number): [number, number][] {
  const out: [number, number][] = [];
  const len = to - from;
  for (let k = 0; k < n; k++) {
    const a = from + Math.floor((len * k) / n);
    const b = from + Math.floor((len * (k + 1)) / n);
    if (b > a) out.push([a, b]);
  }
  return out;
}

/** Messages to a campaign worker thread (./fuzz-thread.ts) and back. */
export type ThreadRequest =
  | { op: 'corpus'; entries: SeqInput[] }
  | { op: 'run'; id: number; batchCorpus: number; from: number; to: number };
/** `ms`: the thread's time running the piece (for the benchmark's busy share). */
export type ThreadAnswer = { id: number; results: SeqResult[]; ms: number } | { id: number; error: string };

/**
 * The worker thread's entry beside this module: compiled (lib/), or, run through tsx, the source — loaded by a
 * bootstrap that registers tsx in the thread first.
 */
function threadEntry(): { file: URL | string; eval: boolean } {
  const js = new URL('./fuzz-thread.js', import.meta.url);
  if (existsSync(js)) return { file: js, eval: false };
  const ts = new URL('./fuzz-thread.ts', import.meta.url).href;
  const api = import.meta.resolve('tsx/esm/api');
  return {
    file: `import(${JSON.stringify(api)}).then((t) => t.tsImport(${JSON.stringify(ts)}, ${JSON.stringify(ts)}))`,
    eval: true,
  };
}

const PIECES_PER_THREAD = 8;

/** `--workers N`: each batch in pieces, run by N worker threads (each with its own booted world). */
export class ThreadRunner implements BatchRunner {
  readonly label: string;
  private readonly workers: { w: Worker; sent: number }[] = [];
  private nextId = 0;
  /** Time the threads spent running sequences, summed over threads. */
  busyMs = 0;
  private readonly waiting = new Map<number, { ok: (r: SeqResult[]) => void; fail: (e: Error) => void }>();

  constructor(setup: CampaignSetup, n: number) {
    this.label = `${n} worker threads`;
    const entry = threadEntry();
    for (let k = 0; k < n; k++) {
      const w = new Worker(entry.file, { workerData: setup, eval: entry.eval });
      w.on('message', (a: ThreadAnswer) => {
        const p = this.waiting.get(a.id);
        if (p === undefined) return;
        this.waiting.delete(a.id);
        if ('error' in a) p.fail(new Error(`campaign worker thread: ${a.error}`));
        else {
          this.busyMs += a.ms;
          p.ok(a.results);
        }
      });
      w.on('error', (e) => {
        for (const p of this.waiting.values()) p.fail(e);
        this.waiting.clear();
      });
      this.workers.push({ w, sent: 0 });
    }
  }

  /**
   * The batch in pieces of about an eighth of a thread's share, handed out in index order to whichever thread is
   * free (sequences differ in length; one piece per thread left a thread idle at each batch's end).
   */
  async run(
    corpus: readonly SeqInput[],
    batchCorpus: number,
    from: number,
    to: number,
  ): Promise<SeqResult[]> {
    const pieces = split(from, to, Math.min(to - from, this.workers.length * PIECES_PER_THREAD));
    const results: SeqResult[][] = [];
    let next = 0;
    // Two lanes per thread: its next piece is already queued when it finishes one (a thread runs its messages in
    // the order posted, so its pieces still come in index order).
    await Promise.all(
      [...this.workers, ...this.workers].map(async (t) => {
        while (next < pieces.length) {
          const k = next++;
          const [a, b] = pieces[k]!;
          if (t.sent < batchCorpus) {
            t.w.postMessage({
              op: 'corpus',
              entries: corpus.slice(t.sent, batchCorpus),
            } satisfies ThreadRequest);
            t.sent = batchCorpus;
          }
          const id = this.nextId++;
          results[k] = await new Promise<SeqResult[]>((ok, fail) => {
            this.waiting.set(id, { ok, fail });
            t.w.postMessage({ op: 'run', id, batchCorpus, from: a, to: b } satisfies ThreadRequest);
          });
        }
      }),
    );
    return results.flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((t) => t.w.terminate()));
  }
}
