/**
 * `kernel build`: the real ffa.c of each Debian era compiles unchanged against the shims, builds are cached by
 * content, and bad input fails with a clear error.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildKernel, KernelBuildError } from '../../src/kernel/build.ts';
import { debianTree } from './trees.ts';

const t73 = await debianTree('7.3');
const t612 = await debianTree('6.12');
const cacheDir = mkdtempSync(join(tmpdir(), 'ffasim-build-test-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe.each([
  ['7.3', t73, '7.3.'],
  ['6.12', t612, '6.12.'],
])('kernel build on Debian %s', (_v, tree, version) => {
  it.skipIf(tree === undefined)('compiles ffa.c unchanged, then finds the build in the cache', () => {
    const first = buildKernel(tree!, { cacheDir });
    expect(first.cached).toBe(false);
    expect(existsSync(first.addon)).toBe(true);
    expect(first.kernelVersion?.startsWith(version)).toBe(true);
    expect(first.label).toBe(`ffa.c ${first.kernelVersion}`);
    expect(first.stackInit).toBe('pattern');
    const again = buildKernel(tree!, { cacheDir });
    expect(again.cached).toBe(true);
    expect(again.hash).toBe(first.hash);
    // Flags are part of the identity.
    const zero = buildKernel(tree!, { cacheDir, stackInit: 'zero' });
    expect(zero.hash).not.toBe(first.hash);
  });

  it.skipIf(tree === undefined)('builds with ASan + UBSan and gcov', () => {
    const b = buildKernel(tree!, { cacheDir, sanitize: ['undefined', 'address'], coverage: true });
    expect(b.sanitize).toEqual(['address', 'undefined']);
    expect(b.libasan).toMatch(/libasan\.so/);
    expect(existsSync(b.addon)).toBe(true);
  });
});

describe('kernel build errors', () => {
  it('names a directory without ffa.c', () => {
    const e = (() => {
      try {
        buildKernel(cacheDir, { cacheDir });
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(KernelBuildError);
    expect((e as KernelBuildError).code).toBe('NO_TREE');
    expect((e as Error).message).toContain('arch/arm64/kvm/hyp/nvhe/ffa.c');
  });

  it.skipIf(t73 === undefined)('refuses unknown options', () => {
    expect(() => buildKernel(t73!, { cacheDir, sanitize: ['thread' as 'address'] })).toThrow(
      /--sanitize thread/,
    );
    expect(() => buildKernel(t73!, { cacheDir, stackInit: 'random' as 'zero' })).toThrow(
      /--stack-init random/,
    );
  });
});
