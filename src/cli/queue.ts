/**
 * Campaigns over many machines (issue 14 item 6), on BullMQ over Redis. `fuzz --queue redis://HOST:PORT` is the
 * coordinator: for each guidance batch it appends the corpus entries the batch may mutate to a Redis list, adds
 * the batch's sequences as jobs of {@link JOB_CHUNK} each, waits for them and merges their results in index order
 * into the same campaign folder a local run writes. `ffasim worker --queue URL` runs jobs on any machine: it keeps a
 * booted world and a copy of the corpus per campaign, and reads from the list only the entries it has not seen.
 *
 * A worker that dies mid-job loses nothing: the job's lock runs out, BullMQ's stalled-job check puts it back in
 * the wait list and another worker runs it again from the start (a job is a pure function of its data and the
 * corpus prefix it names). The coordinator takes each job's result once, by job, so nothing is counted twice.
 */
import { randomUUID } from 'node:crypto';
import { type ConnectionOptions, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { SeqInput, SeqResult } from '../check/campaign.ts';
import { type RuleResult, runCheck } from '../check/conformance.ts';
import { createProfile } from '../hyp/profiles.ts';
import { UsageError } from './common.ts';
import type { DiffJob, DiffJobResult } from './diff-cmd.ts';
import { BatchExecutor, type BatchRunner, type CampaignSetup, split } from './fuzz-runners.ts';

/** The queue every job goes to: campaign batches (`batch`), check and diff sweep cells (`check`, `diff`). */
export const QUEUE_NAME = 'ffasim';
/** Sequences per job. */
export const JOB_CHUNK = 16;

/** One job: a piece of a batch of one campaign. */
export interface BatchJob {
  campaign: string;
  setup: CampaignSetup;
  batchCorpus: number;
  from: number;
  to: number;
}

/** One cell of a `check --queue` sweep: one profile's conformance rules (those whose id starts with `rule`). */
export interface CheckJob {
  profile: { base: string; with: string[]; without: string[] };
  rule?: string;
}

const corpusKey = (campaign: string): string => `ffasim:campaign:${campaign}:corpus`;

/** `redis://HOST:PORT[/DB]` as connection options; a UsageError naming what is wrong. */
export function parseRedisUrl(url: string): { host: string; port: number; db: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--queue ${url}: not a URL (expected redis://HOST:PORT)`);
  }
  if (u.protocol !== 'redis:') throw new UsageError(`--queue ${url}: expected redis://HOST:PORT`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const db = u.pathname === '' || u.pathname === '/' ? 0 : Number(u.pathname.slice(1));
  if (!Number.isInteger(db) || db < 0) throw new UsageError(`--queue ${url}: the database must be a number`);
  if (u.hostname === '') throw new UsageError(`--queue ${url}: no host`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port, db };
}

/** Connects and pings, failing fast with the reason (ioredis alone would retry forever). */
async function reach(url: string): Promise<Redis> {
  const o = parseRedisUrl(url);
  const r = new Redis({
    ...o,
    lazyConnect: true,
    maxRetriesPerRequest: null,
    connectTimeout: 5000,
    retryStrategy: () => null,
  });
  r.on('error', () => {}); // reported by connect() below
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    r.disconnect();
    throw new UsageError(
      `--queue ${url}: cannot reach Redis (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  return r;
}

function connectionOf(url: string): ConnectionOptions {
  return { ...parseRedisUrl(url), maxRetriesPerRequest: null };
}

/**
 * The coordinator's end of the queue: adds jobs, waits for all of them, takes each result once (by job id, then the
 * job is removed from Redis) and gives the results back in the order the jobs were given.
 */
export class JobQueue {
  readonly url: string;
  readonly redis: Redis;
  private readonly queue: Queue;
  private readonly events: QueueEvents;

  private constructor(url: string, redis: Redis, queue: Queue, events: QueueEvents) {
    this.url = url;
    this.redis = redis;
    this.queue = queue;
    this.events = events;
  }

  /** @throws UsageError when `url` is not a Redis URL or Redis cannot be reached. */
  static async open(url: string): Promise<JobQueue> {
    const redis = await reach(url);
    const connection = connectionOf(url);
    const queue = new Queue(QUEUE_NAME, { connection });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    await events.waitUntilReady();
    return new JobQueue(url, redis, queue, events);
  }

  /** Runs one job per entry of `data` (ids `${prefix}-${k}`) and returns their results in that order. */
  async runAll<D, R>(name: 'batch' | 'check' | 'diff', prefix: string, data: readonly D[]): Promise<R[]> {
    const jobs = await this.queue.addBulk(
      data.map((d, k) => ({ name, data: d, opts: { jobId: `${prefix}-${k}`, attempts: 3 } })),
    );
    const settled = await Promise.allSettled(jobs.map((j) => j.waitUntilFinished(this.events) as Promise<R>));
    // Taken once: then gone from Redis, failed ones too (nothing of this run is left in the queue).
    await Promise.all(jobs.map((j) => j.remove().catch(() => {})));
    const results: R[] = [];
    for (const [k, r] of settled.entries()) {
      if (r.status === 'fulfilled') {
        results.push(r.value);
        continue;
      }
      const why = r.reason instanceof Error ? r.reason.message : String(r.reason);
      // A job that runs longer than the worker's lock (its event loop busy with the job, so the lock is not
      // renewed) looks like a dead worker's: after a few such returns BullMQ gives up on it.
      const hint = /stalled/i.test(why)
        ? ' (it ran longer than the workers lock a job: start `ffasim worker` with a larger --lock-ms)'
        : '';
      throw new UsageError(`--queue ${this.url}: job ${jobs[k]!.id} failed: ${why}${hint}`);
    }
    return results;
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
    this.redis.disconnect();
  }
}

/** The coordinator's side of a campaign: its batches as jobs of {@link JOB_CHUNK} sequences. */
export class QueueRunner implements BatchRunner {
  readonly label: string;
  /** A batch dropped unmerged would leave its jobs to the workers: start one only when it is sure to be used. */
  readonly speculative = false;
  private sent = 0;
  private readonly jobs: JobQueue;
  private readonly campaign = randomUUID();
  private readonly setup: CampaignSetup;

  private constructor(jobs: JobQueue, setup: CampaignSetup) {
    this.jobs = jobs;
    this.setup = setup;
    this.label = `jobs on ${jobs.url}`;
  }

  static async open(url: string, setup: CampaignSetup): Promise<QueueRunner> {
    return new QueueRunner(await JobQueue.open(url), setup);
  }

  async run(
    corpus: readonly SeqInput[],
    batchCorpus: number,
    from: number,
    to: number,
  ): Promise<SeqResult[]> {
    if (this.sent < batchCorpus) {
      // Counted before the push: a second batch's run (the pipeline's next one) must not push these again.
      const entries = corpus.slice(this.sent, batchCorpus).map((c) => JSON.stringify(c));
      this.sent = batchCorpus;
      await this.jobs.redis.rpush(corpusKey(this.campaign), ...entries);
    }
    const pieces = split(from, to, Math.ceil((to - from) / JOB_CHUNK));
    const results = await this.jobs.runAll<BatchJob, SeqResult[]>(
      'batch',
      `${this.campaign}-${from}`,
      pieces.map(([a, b]) => ({ campaign: this.campaign, setup: this.setup, batchCorpus, from: a, to: b })),
    );
    return results.flat();
  }

  async close(): Promise<void> {
    await this.jobs.redis.del(corpusKey(this.campaign));
    await this.jobs.close();
  }
}

/** `check --queue URL`: each cell's rules on whichever worker takes it; the verdicts in cell order. */
export async function runCheckJobs(url: string, cells: readonly CheckJob[]): Promise<RuleResult[][]> {
  const jobs = await JobQueue.open(url);
  try {
    return await jobs.runAll<CheckJob, RuleResult[]>('check', `check-${randomUUID()}`, cells);
  } finally {
    await jobs.close();
  }
}

/** `diff --queue URL`: each subject on whichever worker takes it; the answers in subject order. */
export async function runDiffJobs(url: string, jobs: readonly DiffJob[]): Promise<DiffJobResult[]> {
  const q = await JobQueue.open(url);
  try {
    return await q.runAll<DiffJob, DiffJobResult>('diff', `diff-${randomUUID()}`, jobs);
  } finally {
    await q.close();
  }
}

/** A `check` job: the rules of one profile (a pure function of the job's data). */
export function runCheckJob(d: CheckJob): RuleResult[] {
  const rule = d.rule;
  return runCheck(
    createProfile(d.profile.base, { with: d.profile.with, without: d.profile.without }),
    rule === undefined ? undefined : (id) => id.startsWith(rule),
  );
}

export interface WorkerOptions {
  /** How long a job stays locked by a worker that stopped answering (ms, default 30 000). */
  lockMs?: number;
  log?: (line: string) => void;
}

/** `ffasim worker --queue URL`: runs campaign batches and check/diff sweep cells until closed. */
export async function startQueueWorker(
  url: string,
  o: WorkerOptions = {},
): Promise<{ close: () => Promise<void> }> {
  const redis = await reach(url);
  const log = o.log ?? (() => {});
  const executors = new Map<string, BatchExecutor>();
  const lockDuration = o.lockMs ?? 30_000;
  const worker = new Worker<BatchJob | CheckJob | DiffJob, SeqResult[] | RuleResult[] | DiffJobResult>(
    QUEUE_NAME,
    async (job) => {
      if (job.name === 'diff') {
        const d = job.data as DiffJob;
        log(
          `job ${job.id}: diff ${d.kernel} ${d.subject.kind === 'fuzz' ? `fuzz seed ${d.subject.seed}` : d.subject.name}`,
        );
        const { runDiffJob } = await import('./diff-cmd.ts');
        return runDiffJob(d);
      }
      if (job.name === 'check') {
        log(`job ${job.id}: check ${(job.data as CheckJob).profile.base}`);
        return runCheckJob(job.data as CheckJob);
      }
      const d = job.data as BatchJob;
      let exec = executors.get(d.campaign);
      if (exec === undefined) {
        // One campaign at a time is the common case: the world of a finished one is dropped.
        executors.clear();
        exec = new BatchExecutor(d.setup);
        executors.set(d.campaign, exec);
      }
      if (exec.corpus.length < d.batchCorpus) {
        const more = await redis.lrange(corpusKey(d.campaign), exec.corpus.length, d.batchCorpus - 1);
        for (const m of more) exec.corpus.push(JSON.parse(m) as SeqInput);
      }
      log(`job ${job.id}: sequences ${d.from}–${d.to - 1}`);
      return exec.run(d.batchCorpus, d.from, d.to);
    },
    {
      connection: connectionOf(url),
      concurrency: 1,
      lockDuration,
      stalledInterval: Math.max(500, Math.floor(lockDuration / 2)),
      // A killed worker's job comes back once; more returns mean the job outlives the lock (the coordinator says so).
      maxStalledCount: 3,
    },
  );
  // A job that outlived its lock was taken back; finishing it here then fails: one line, not a stack.
  worker.on('error', (e) =>
    log(
      /Missing lock/.test(e.message)
        ? `${e.message.replace(/\.\s*\w+$/, '')}: it ran longer than --lock-ms; another worker has it now`
        : `error: ${e.message}`,
    ),
  );
  await worker.waitUntilReady();
  return {
    close: async () => {
      await worker.close();
      redis.disconnect();
    },
  };
}
