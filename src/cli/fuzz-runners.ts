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
  type CampaignState,
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

/**
 * Runs the sequences [from, to) of one batch; `corpus` holds at least the batch's `batchCorpus` entries. A runner
 * takes a second batch before the first one's results are back (`run` is called in index order, and its
 * results come back whole, in index order).
 */
export interface BatchRunner {
  readonly label: string;
  /**
   * Whether a batch may be started on speculation — before it is known that the budget (`--time`, `--calls`)
   * leaves room for it — and dropped unmerged: true where an unused batch costs only its run.
   */
  readonly speculative: boolean;
  run(corpus: readonly SeqInput[], batchCorpus: number, from: number, to: number): Promise<SeqResult[]>;
  close(): Promise<void>;
}

/**
 * A campaign's batches on a runner, one ahead: while the batch at `st.next` is merged, the batch after it already
 * runs. That is what guidance one batch behind allows (../check/campaign.ts): the batch after mutates the corpus as
 * it stood when the current one began, `st.nextBatchCorpus`, known before the current batch is merged.
 */
export class BatchPipeline {
  private ahead: { from: number; results: Promise<SeqResult[]> } | undefined;
  private readonly runner: BatchRunner;
  private readonly batch: number;
  /** `--runs`: no sequence at or past it is run. */
  private readonly runBudget: number | undefined;
  /** Whether `--time` or `--calls` may stop the campaign at any batch end. */
  private readonly stopsEarly: boolean;

  constructor(runner: BatchRunner, batch: number, runBudget: number | undefined, stopsEarly: boolean) {
    this.runner = runner;
    this.batch = batch;
    this.runBudget = runBudget;
    this.stopsEarly = stopsEarly;
  }

  /**
   * The results of the sequences from `st.next` to the end of its batch (or the run budget), after starting the
   * next batch if the budget is sure to need it or the runner is {@link BatchRunner.speculative}.
   */
  async next(st: CampaignState): Promise<SeqResult[]> {
    const end = (Math.floor(st.next / this.batch) + 1) * this.batch;
    const cut = (to: number): number => (this.runBudget === undefined ? to : Math.min(to, this.runBudget));
    const cur =
      this.ahead?.from === st.next
        ? this.ahead.results
        : this.runner.run(st.corpus, st.batchCorpus, st.next, cut(end));
    this.ahead = undefined;
    const inBudget = this.runBudget === undefined || end < this.runBudget;
    if (inBudget && (this.runner.speculative || !this.stopsEarly)) {
      const results = this.runner.run(st.corpus, st.nextBatchCorpus, end, cut(end + this.batch));
      // Dropped unmerged if the campaign stops first: its failure is then nobody's (and must not go unhandled).
      results.catch(() => {});
      this.ahead = { from: end, results };
    }
    return cur;
  }
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

/** Pieces a batch is cut into, per thread. */
const PIECES_PER_THREAD = 2;
/** Pieces posted to a thread and not yet answered: its next one is already queued when it finishes one. */
const LANES = 2;

interface Piece {
  corpus: readonly SeqInput[];
  batchCorpus: number;
  from: number;
  to: number;
  ok: (r: SeqResult[]) => void;
  fail: (e: Error) => void;
}

/** `--workers N`: each batch in pieces, run by N worker threads (each with its own booted world). */
export class ThreadRunner implements BatchRunner {
  readonly label: string;
  readonly speculative = true;
  private readonly workers: { w: Worker; sent: number; posted: number }[] = [];
  private nextId = 0;
  /** Time the threads spent running sequences, summed over threads. */
  busyMs = 0;
  /** Pieces not yet posted, in index order (batches are run in index order). */
  private readonly queue: Piece[] = [];
  private readonly waiting = new Map<number, { piece: Piece; thread: number }>();

  constructor(setup: CampaignSetup, n: number) {
    this.label = `${n} worker threads`;
    const entry = threadEntry();
    for (let k = 0; k < n; k++) {
      const w = new Worker(entry.file, { workerData: setup, eval: entry.eval });
      w.on('message', (a: ThreadAnswer) => {
        const p = this.waiting.get(a.id);
        if (p === undefined) return;
        this.waiting.delete(a.id);
        this.workers[p.thread]!.posted--;
        if ('error' in a) p.piece.fail(new Error(`campaign worker thread: ${a.error}`));
        else {
          this.busyMs += a.ms;
          p.piece.ok(a.results);
        }
        this.post();
      });
      w.on('error', (e) => {
        for (const p of this.waiting.values()) p.piece.fail(e);
        for (const p of this.queue) p.fail(e);
        this.waiting.clear();
        this.queue.length = 0;
      });
      this.workers.push({ w, sent: 0, posted: 0 });
    }
  }

  /**
   * The batch in pieces (a few per thread: sequences differ in length), queued behind any earlier batch's and
   * posted in index order to whichever thread has a free lane — so each thread's pieces come in index order, as
   * its terse results need (a thread runs its messages in the order posted).
   */
  run(corpus: readonly SeqInput[], batchCorpus: number, from: number, to: number): Promise<SeqResult[]> {
    const cuts = split(from, to, Math.min(to - from, this.workers.length * PIECES_PER_THREAD));
    if (cuts.length === 0) return Promise.resolve([]);
    return new Promise((ok, fail) => {
      const results: SeqResult[][] = [];
      let left = cuts.length;
      cuts.forEach(([a, b], k) => {
        this.queue.push({
          corpus,
          batchCorpus,
          from: a,
          to: b,
          ok: (r) => {
            results[k] = r;
            if (--left === 0) ok(results.flat());
          },
          fail,
        });
      });
      this.post();
    });
  }

  /** Posts queued pieces to threads with a free lane, the least loaded first. */
  private post(): void {
    while (this.queue.length > 0) {
      let t = 0;
      for (let k = 1; k < this.workers.length; k++)
        if (this.workers[k]!.posted < this.workers[t]!.posted) t = k;
      const th = this.workers[t]!;
      if (th.posted >= LANES) return;
      const p = this.queue.shift()!;
      if (th.sent < p.batchCorpus) {
        th.w.postMessage({
          op: 'corpus',
          entries: p.corpus.slice(th.sent, p.batchCorpus),
        } satisfies ThreadRequest);
        th.sent = p.batchCorpus;
      }
      const id = this.nextId++;
      this.waiting.set(id, { piece: p, thread: t });
      th.posted++;
      th.w.postMessage({
        op: 'run',
        id,
        batchCorpus: p.batchCorpus,
        from: p.from,
        to: p.to,
      } satisfies ThreadRequest);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((t) => t.w.terminate()));
  }
}
