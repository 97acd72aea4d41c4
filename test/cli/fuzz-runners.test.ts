/**
 * The batch pipeline (src/cli/fuzz-runners.ts): the batch after the one being merged is already running, started
 * with the corpus prefix guidance one batch behind allows — and only when it will be used, unless the runner may
 * drop a batch unmerged.
 */
import { describe, expect, it } from 'vitest';
import { type CampaignState, initialState, type SeqResult } from '../../src/check/campaign.ts';
import { BatchPipeline, type BatchRunner, split } from '../../src/cli/fuzz-runners.ts';

/** A runner that records each run and answers when told to. */
class FakeRunner implements BatchRunner {
  readonly label = 'fake';
  readonly runs: { batchCorpus: number; from: number; to: number }[] = [];
  private readonly answers: (() => void)[] = [];
  readonly speculative: boolean;
  constructor(speculative: boolean) {
    this.speculative = speculative;
  }

  run(_c: unknown, batchCorpus: number, from: number, to: number): Promise<SeqResult[]> {
    this.runs.push({ batchCorpus, from, to });
    return new Promise((ok) => {
      this.answers.push(() =>
        ok(
          Array.from({ length: to - from }, (_, k) => ({ index: from + k, smcs: 1, coverage: [], hits: [] })),
        ),
      );
    });
  }

  answerAll(): void {
    for (const a of this.answers.splice(0)) a();
  }

  async close(): Promise<void> {}
}

/** What mergeResults does to the fields the pipeline reads, for results of [st.next, to). */
function merged(st: CampaignState, to: number, corpusNow: number): void {
  st.next = to;
  if (to % 8 === 0) {
    st.batchCorpus = st.nextBatchCorpus;
    st.nextBatchCorpus = corpusNow;
  }
}

describe('BatchPipeline', () => {
  it('starts the next batch, with the next batch corpus, before the current one is merged', async () => {
    const r = new FakeRunner(false);
    const p = new BatchPipeline(r, 8, 20, false);
    const st = initialState();
    st.nextBatchCorpus = 3;
    const first = p.next(st);
    expect(r.runs).toEqual([
      { batchCorpus: 0, from: 0, to: 8 },
      { batchCorpus: 3, from: 8, to: 16 },
    ]);
    r.answerAll();
    expect((await first).map((x) => x.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    merged(st, 8, 5);
    const second = p.next(st); // batch 1 is the one already running; batch 2 starts, cut at the run budget
    expect(r.runs.slice(2)).toEqual([{ batchCorpus: 5, from: 16, to: 20 }]);
    r.answerAll();
    expect((await second)[0]!.index).toBe(8);
    merged(st, 16, 6);
    const third = p.next(st);
    expect(r.runs.length).toBe(3); // nothing past the budget
    r.answerAll();
    expect((await third).map((x) => x.index)).toEqual([16, 17, 18, 19]);
  });

  it('with --time or --calls, runs ahead only on a runner that may drop a batch unmerged', () => {
    const queue = new FakeRunner(false);
    new BatchPipeline(queue, 8, undefined, true).next(initialState());
    expect(queue.runs.length).toBe(1);
    const threads = new FakeRunner(true);
    new BatchPipeline(threads, 8, undefined, true).next(initialState());
    expect(threads.runs.map((x) => x.from)).toEqual([0, 8]);
  });

  it('resumed mid-batch: the rest of that batch, then the next from its start', () => {
    const r = new FakeRunner(true);
    const st = initialState();
    st.next = 13;
    st.batchCorpus = 2;
    st.nextBatchCorpus = 4;
    new BatchPipeline(r, 8, 40, false).next(st);
    expect(r.runs).toEqual([
      { batchCorpus: 2, from: 13, to: 16 },
      { batchCorpus: 4, from: 16, to: 24 },
    ]);
  });

  it('split cuts a range into consecutive, near-even pieces', () => {
    expect(split(0, 10, 3)).toEqual([
      [0, 3],
      [3, 6],
      [6, 10],
    ]);
    expect(split(5, 7, 4)).toEqual([
      [5, 6],
      [6, 7],
    ]);
  });
});
