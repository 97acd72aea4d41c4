/**
 * Campaigns (issue 14): distinct findings past the first, a hostile SPMC that finds the FRAG_RX hazards with no
 * quirk named, findings that replay, and a campaign that is a pure function of (seed, runs) however it is split.
 */
import { describe, expect, it } from 'vitest';
import {
  CampaignContext,
  type CampaignOptions,
  type CampaignState,
  checkInput,
  classify,
  findingReplayText,
  freshInput,
  initialState,
  inputAt,
  mergeResults,
  mutateInput,
  runRange,
  stateFromJSON,
  stateToJSON,
} from '../../src/check/campaign.ts';
import { watchInvariants } from '../../src/check/invariants.ts';
import { FFA } from '../../src/ffa/ids.ts';
import { createProfile } from '../../src/hyp/profiles.ts';
import { parseReplay, runAction } from '../../src/scenario/replay.ts';
import { seededPrng } from '../../src/spmc/hostile.ts';
import { defaultWorldConfig } from '../../src/world/config.ts';
import { createWorld } from '../../src/world/world.ts';

function opts(seed: number, more: Partial<CampaignOptions> = {}): CampaignOptions {
  return {
    profile: createProfile('ffa-1.2'),
    config: defaultWorldConfig(),
    seed,
    hostile: true,
    guided: true,
    ignore: ['I3'],
    ...more,
  };
}

/** Runs to `runs` sequences in batch-bounded chunks, as the CLI does. */
function runTo(ctx: CampaignContext, st: CampaignState, runs: number): void {
  while (st.next < runs) {
    const end = Math.min(runs, (Math.floor(st.next / 64) + 1) * 64);
    mergeResults(ctx, st, runRange(ctx, st, st.next, end));
  }
}

describe('campaign', () => {
  it('a hostile SPMC with no quirk finds the FRAG_RX length overflow (I6), shrunk, and its replay reproduces it', () => {
    const o = opts(3);
    const ctx = new CampaignContext(o);
    const st = initialState();
    runTo(ctx, st, 64);
    const f = st.findings.find((x) => x.key.endsWith('FFA_MEM_FRAG_RX:hyp-rx:past-end'));
    expect(f).toBeDefined();
    expect(f!.cls).toBe('holds-when-el3-lies');
    expect(f!.kind).toBe('memory-safety');
    expect(f!.input.lies?.length).toBe(1); // one lie is enough: a FRAG_TX length past the mailbox
    expect(f!.input.lies![0]!.target).toBe('w3');
    expect(f!.fixes).toEqual([]); // no profile bounds it (findings/README.md)
    const text = findingReplayText(o, f!);
    expect(text).not.toMatch(/\b\d+(\.\d+)? ?(ms|s)\b/); // no wall time in a finding file
    const parsed = parseReplay(text, 'finding.jsonl');
    if (!parsed.ok) throw new Error(parsed.error);
    const w = createWorld({
      config: parsed.value.world!,
      profile: createProfile(parsed.value.profile!),
      trace: true,
    });
    const seen = watchInvariants(w);
    for (const a of parsed.value.actions) runAction(w, a);
    expect(seen.map((v) => v.detail)).toContainEqual(
      expect.stringMatching(/EL2 access past the end of hyp-rx/),
    );
    // Distinct findings are distinct keys.
    expect(new Set(st.findings.map((x) => x.key)).size).toBe(st.findings.length);
  });

  it('a call with an EL2 out-of-bounds access and a livelock has both findings, at that call', () => {
    const o = opts(1, { profile: createProfile('linux-6.10') });
    const ctx = new CampaignContext(o);
    // EL3 answers the reclaim's retrieve with length 0, then a zero-length third fragment: the hyp reads past the
    // (empty) message, and its FRAG_RX loop stops making progress.
    const r = ctx.result(0, {
      actions: [
        { op: 'big', n: 1140 },
        { op: 'reclaim', pick: 0, flags: 0 },
        { op: 'direct', smc64: false, req2: true },
      ],
      lies: [
        { call: FFA.MEM_RETRIEVE_REQ64, nth: 1, target: 'w2', value: 0 },
        { call: FFA.MEM_FRAG_RX, nth: 3, target: 'w3', value: 0 },
      ],
    });
    const keys = r.hits.map((h) => h.key);
    expect(keys).toContain('I6|FFA_MEM_RECLAIM|FFA_MEM_FRAG_RX:livelock');
    expect(
      keys.some((k) => /^I6\|FFA_MEM_RECLAIM\|FFA_MEM_RETRIEVE_REQ_64:hyp-rx:past-message$/.test(k)),
    ).toBe(true);
    expect(keys.filter((k) => k.includes('DIRECT_REQ2'))).toEqual([]); // not reported again, one call late
  });

  it('is a pure function of (seed, runs): one go, or stopped mid-batch and resumed from its JSON state', () => {
    const o = opts(6);
    const one = initialState();
    runTo(new CampaignContext(o), one, 150);
    const a = initialState();
    const ctx = new CampaignContext(o);
    runTo(ctx, a, 100);
    const saved = JSON.parse(JSON.stringify(stateToJSON(o, a)));
    const corpus = JSON.parse(JSON.stringify(a.corpus));
    const b = stateFromJSON(o, saved, corpus, 'state.json');
    runTo(new CampaignContext(o), b, 150);
    expect(stateToJSON(o, b)).toEqual(stateToJSON(o, one));
    expect(one.findings.length).toBeGreaterThan(0);
    expect(inputAt(o, one.corpus, 10, 777)).toEqual(inputAt(o, one.corpus.slice(0, 10), 10, 777));
  });

  it('guidance is one batch behind: batch b mutates the corpus as it stood when batch b − 1 began', () => {
    const o = opts(9);
    const ctx = new CampaignContext(o);
    const st = initialState();
    const atStart: number[] = [];
    for (let b = 0; b < 5; b++) {
      atStart.push(st.corpus.length);
      // At every batch start: this batch mutates the corpus of the previous start; the next one, this start's.
      expect(st.batchCorpus).toBe(b === 0 ? 0 : atStart[b - 1]);
      expect(st.nextBatchCorpus).toBe(atStart[b]);
      mergeResults(ctx, st, runRange(ctx, st, st.next, st.next + 64));
    }
    // Batch 0 grew the corpus, and that changes what batch 2 runs (batch 1 drew fresh input: batchCorpus 0).
    expect(atStart[1]).toBeGreaterThan(0);
    const changed = [128, 129, 130, 131, 132, 133, 134, 135].filter(
      (i) => JSON.stringify(inputAt(o, st.corpus, atStart[1]!, i)) !== JSON.stringify(inputAt(o, [], 0, i)),
    );
    expect(changed.length).toBeGreaterThan(0);
  });

  it('a mutation leaves its parents as they were and shares only unchanged actions with them', () => {
    const o = opts(4);
    for (let k = 0; k < 300; k++) {
      const p = freshInput(o, 2 * k);
      const q = freshInput(o, 2 * k + 1);
      const before = JSON.stringify([p, q]);
      const c = mutateInput(o, p, q, seededPrng(k));
      expect(JSON.stringify([p, q])).toBe(before);
      expect(c.actions).not.toBe(p.actions);
      expect(JSON.stringify(mutateInput(o, p, q, seededPrng(k)))).toBe(JSON.stringify(c));
      // Deterministic and plain data: the child survives the corpus file's JSON round trip unchanged.
      expect(JSON.parse(JSON.stringify(c))).toEqual(c);
    }
  });

  it('guidance changes what is run; without it every sequence is fresh from (seed, index)', () => {
    const g = opts(9);
    const b = opts(9, { guided: false });
    const st = initialState();
    runTo(new CampaignContext(g), st, 64);
    expect(st.corpus.length).toBeGreaterThan(0);
    expect(inputAt(b, st.corpus, st.corpus.length, 70)).toEqual(inputAt(b, [], 0, 70));
    const mutated = Array.from({ length: 8 }, (_, k) => 64 + k).filter(
      (i) =>
        JSON.stringify(inputAt(g, st.corpus, st.corpus.length, i)) !== JSON.stringify(inputAt(g, [], 0, i)),
    );
    expect(mutated.length).toBeGreaterThan(0);
  });

  it('resume refuses other options and corrupt state, naming what and where', () => {
    const o = opts(1);
    const st = initialState();
    const j = stateToJSON(o, st);
    expect(() => stateFromJSON(opts(2), j, [], 'DIR/state.json')).toThrow(
      /DIR\/state.json: the campaign was made with --seed 1, not 2/,
    );
    expect(() => stateFromJSON(o, { ...j, schema: 'x' }, [], 'S')).toThrow(/S: not a campaign state/);
    expect(() => stateFromJSON(o, { ...j, schema: 'ffasim-campaign/1' }, [], 'S')).toThrow(
      /S: a campaign of an older ffasim .* start another --out/,
    );
    expect(() => stateFromJSON(o, { ...j, batchCorpus: 1, corpus: 1 }, [{ actions: [] }], 'S')).toThrow(
      /S: batchCorpus 1 > nextBatchCorpus 0/,
    );
    expect(() => stateFromJSON(o, { ...j, nextBatchCorpus: 1 }, [], 'S')).toThrow(
      /S: nextBatchCorpus 1 > corpus 0/,
    );
    expect(() => stateFromJSON(o, { ...j, next: -1 }, [], 'S')).toThrow(
      /S: next must be a non-negative integer/,
    );
    expect(() => stateFromJSON(o, { ...j, corpus: 2 }, [{ actions: [] }], 'S')).toThrow(
      /2 corpus entries recorded, 1 found/,
    );
    expect(() => checkInput({ actions: [{ op: 'share', sels: [] }] }, 'corpus/000003.json')).toThrow(
      /corpus\/000003.json.actions\[0\].split: must be a u32/,
    );
    expect(() => checkInput({ actions: [{ op: 'nope' }] }, 'c')).toThrow(/c.actions\[0\]: unknown action/);
    expect(() => checkInput({ actions: [], hostile: { seed: -1, rate: 2 } }, 'c')).toThrow(/c.hostile/);
  });

  it('classifies: what must hold even when EL3 lies, and what presupposes an honest SPMC', () => {
    expect(classify({ invariant: 'I1', detail: '' }).cls).toBe('presupposes-honest-spmc');
    expect(classify({ invariant: 'I7', detail: '' }).cls).toBe('presupposes-honest-spmc');
    expect(classify({ invariant: 'I6', detail: 'EL2 livelock: x' })).toEqual({
      cls: 'holds-when-el3-lies',
      kind: 'liveness',
    });
    expect(classify({ invariant: 'I6', detail: 'EL2 access past' }).kind).toBe('memory-safety');
    expect(classify({ invariant: 'I5', detail: '' }).kind).toBe('exception');
    expect(classify({ invariant: 'I4', detail: '' }).cls).toBe('holds-when-el3-lies');
  });
});
