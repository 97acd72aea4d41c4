/**
 * Scenario virtio-msg on every profile: the echo on ffa-1.2-direct-msg, NOT_SUPPORTED at the first DIRECT_REQ2
 * elsewhere (and who refused it); the traces decode the virtio-msg messages; same seed → byte-identical JSONL.
 */
import { describe, expect, it } from 'vitest';
import { watchInvariants } from '../../src/check/invariants.ts';
import { createProfile, PROFILES } from '../../src/hyp/profiles.ts';
import { builtinScenario } from '../../src/scenario/builtin/index.ts';
import { ECHO_LINE, virtioDeviceOf } from '../../src/scenario/builtin/virtio-msg.ts';
import { runScenario } from '../../src/scenario/scenario.ts';
import { runToJSONL } from '../../src/scenario/trace.ts';
import { toMermaid } from '../../src/trace/mermaid.ts';
import { toPerfetto } from '../../src/trace/perfetto.ts';
import { toText } from '../../src/trace/text.ts';

const s = builtinScenario('virtio-msg')!;

describe.each(PROFILES.map((p) => [p.name] as const))('virtio-msg on %s', (name) => {
  it('holds its expectations, with the documented outcome', () => {
    const profile = createProfile(name);
    let violations: unknown[] = [];
    const r = runScenario(s, { profile, prepare: (w) => (violations = watchInvariants(w)) });
    expect(r.crash).toBeUndefined();
    expect(r.failures).toEqual([]);
    const text = toText(r.world.trace!.events);
    const first = text
      .split('\n')
      .find(
        (l) =>
          /host ← hyp .*FFA_MSG_SEND_DIRECT|host ← hyp .*FFA_ERROR/.test(l) &&
          text.indexOf(l) > text.indexOf('bus VERSION'),
      );
    if (profile.has('direct-req2-forward')) {
      expect(virtioDeviceOf(r.world)?.console.output.join('')).toBe(ECHO_LINE);
      expect(text).toContain(`console echoed ${JSON.stringify(ECHO_LINE)}`);
      expect(text).toContain('virtio-msg bus VERSION resp');
      expect(text).toContain('virtio-msg busy (all-zero payload)');
      expect(text).toContain('virtio-msg EVENT_AVAIL dev=1');
      expect(violations.filter((v) => (v as { invariant: string }).invariant !== 'I3')).toEqual([]);
    } else {
      expect(first).toContain('NOT_SUPPORTED');
      expect(text).toContain('switching to FFA_MSG_SEND2');
      expect(virtioDeviceOf(r.world)?.console.output).toEqual([]);
    }
  });
});

describe('virtio-msg traces', () => {
  const run = () => runScenario(s, { profile: createProfile('ffa-1.2-direct-msg'), seed: 3 });
  it('JSONL carries a decoded virtio field and is byte-identical for the same inputs', () => {
    const a = runToJSONL(run());
    expect(a).toBe(runToJSONL(run()));
    const v = a
      .split('\n')
      .filter((l) => l.includes('"virtio"'))
      .map((l) => JSON.parse(l).virtio as { name?: string; busy?: boolean });
    expect(v.some((x) => x.name === 'AREA_SHARE')).toBe(true);
    expect(v.some((x) => x.busy === true)).toBe(true);
  });
  it('Perfetto and Mermaid show the decoded messages', () => {
    const r = run();
    const p = JSON.stringify(toPerfetto(r.world.trace!.events));
    expect(p).toContain('virtio-msg GET_DEVICE_INFO resp dev=1');
    expect(toMermaid(r.world.trace!.events)).toContain('virtio-msg bus AREA_SHARE');
  });
});
