/**
 * Kernel trees for the kernel-mode tests: fetched into ffasim's cache with the fetch helper (a second run is
 * offline). Without apt or network, a loud SKIPPED line names the command to run; under CI=true a missing tree
 * fails the run instead (the browser tests' rule).
 */
import { ensureDebianTree } from '../../src/kernel/fetch.ts';

const cache = new Map<string, Promise<string | undefined>>();

/** The tree's path, or undefined (after a SKIPPED warning) when it cannot be had here. */
export function debianTree(version: '7.3' | '6.12'): Promise<string | undefined> {
  let p = cache.get(version);
  if (p === undefined) {
    p = ensureDebianTree(`debian:${version}`).then(
      (t) => t.path,
      (e: unknown) => {
        const why = e instanceof Error ? e.message : String(e);
        if (process.env.CI === 'true') throw new Error(`CI=true and no Debian ${version} tree: ${why}`);
        console.warn(
          `\nSKIPPED: kernel-mode tests on Debian ${version}: ${why}\n  run: ./bin/ffasim.js kernel fetch debian:${version}\n`,
        );
        return undefined;
      },
    );
    cache.set(version, p);
  }
  return p;
}
