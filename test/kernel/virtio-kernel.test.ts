/**
 * `ffasim run virtio-msg --kernel <tree>` on the real ffa.c of Debian 7.3 and 6.12 (docs/virtio-msg.md): the first
 * DIRECT_REQ2 is NOT_SUPPORTED on both, for different reasons read from the run, not assumed — 7.3's
 * `ffa_call_supported()` lists REQ2 as an optional 1.2 interface and answers at EL2; 6.12 forwards it and the
 * SPMC refuses it, the host having negotiated FF-A 1.1 — then the RFC-era fallback to FFA_MSG_SEND2 and why it
 * does not deliver either. Exit 0: the documented outcome. Trees come from ffasim's cache (test/kernel/trees.ts):
 * a loud SKIPPED line without them, a failure under CI=true.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { debianTree } from './trees.ts';

const root = resolve(import.meta.dirname, '../..');
const t73 = await debianTree('7.3');
const t612 = await debianTree('6.12');

function runVirtio(tree: string): { code: number; out: string; err: string } {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      join(root, 'src/cli/main.ts'),
      'run',
      'virtio-msg',
      '--kernel',
      tree,
    ],
    { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 240_000 },
  );
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** The text trace's hop lines for the first DIRECT_REQ2 host call (from `host → hyp` to its `host ← hyp`). */
function firstReq2(out: string): string[] {
  const lines = out.split('\n');
  const start = lines.findIndex((l) => /host → hyp\s+FFA_MSG_SEND_DIRECT_REQ2/.test(l));
  const end = lines.findIndex((l, i) => i > start && /host ← hyp/.test(l));
  return start < 0 || end < 0 ? [] : lines.slice(start, end + 1);
}

/** What both trees share after the refusal: the fallback, its reason, nothing shared. */
function expectFallback(out: string): void {
  expect(out).toContain('✓ the driver falls back to FFA_MSG_SEND2 for good');
  expect(out).toMatch(
    /✓ the fallback does not deliver: DIRECT_REQ2 → NOT_SUPPORTED; fallback FFA_MSG_SEND2: FFA_MSG_SEND2 → INVALID_PARAMETERS \(forwarded; spmc\/send2\/header: /,
  );
  expect(out).toContain('✓ no area reached the device');
  expect(out).toContain('✓ no memory shared: nothing to leak');
  expect(out).toMatch(/virtio-msg: (\d+)\/\1 expectations held/);
  // Expectations never fail; an invariant break (6.12's stale FFA_VERSION registers, I3) is not this flow's.
  expect(out.split('\n').filter((l) => /✗/.test(l) && !/✗ I3 FFA_VERSION/.test(l))).toEqual([]);
}

describe.skipIf(t73 === undefined)('run virtio-msg --kernel Debian 7.3', { timeout: 240_000 }, () => {
  it('REQ2 is refused at EL2 by the real ffa.c (no SMC to EL3), then the fallback', () => {
    const r = runVirtio(t73!);
    expect(r.code, r.err).toBe(0);
    const hops = firstReq2(r.out);
    expect(hops.length).toBeGreaterThan(0);
    expect(hops.some((l) => /hyp → spmd/.test(l))).toBe(false);
    expect(hops[hops.length - 1]).toMatch(/host ← hyp\s+FFA_ERROR NOT_SUPPORTED/);
    expect(r.out).toMatch(
      /✓ the first DIRECT_REQ2 → NOT_SUPPORTED, at EL2: the real ffa\.c 7\.3\.\d+ answered without an SMC to EL3 \(handled at EL2 by the real code/,
    );
    expectFallback(r.out);
  });
});

describe.skipIf(t612 === undefined)('run virtio-msg --kernel Debian 6.12', { timeout: 240_000 }, () => {
  it('REQ2 is forwarded by the real ffa.c and refused by the SPMC (FF-A 1.1 negotiated), then the fallback', () => {
    const r = runVirtio(t612!);
    expect(r.code, r.err).toBe(0);
    const hops = firstReq2(r.out);
    expect(hops.some((l) => /hyp → spmd\s+FFA_MSG_SEND_DIRECT_REQ2/.test(l))).toBe(true);
    expect(hops[hops.length - 1]).toMatch(/host ← hyp\s+FFA_ERROR NOT_SUPPORTED/);
    expect(r.out).toMatch(
      /✓ the first DIRECT_REQ2 → NOT_SUPPORTED, by the SPMC: the real ffa\.c 6\.12\.\d+ forwarded it to EL3 \(FF-A 1\.1 negotiated\), and the SPMC refused it \(spmc\/dispatch\/newer-than-caller: /,
    );
    expectFallback(r.out);
  });
});
