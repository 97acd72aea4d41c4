/**
 * Regenerates docs/view.png, the README's screenshot of `ffasim view`: the share/lend/reclaim scenario with the
 * host's MEM_SHARE selected. `npx tsx scripts/web-screenshot.ts` (after `npm run build:web`).
 */
import { viewInput } from '../src/cli/view-cmd.ts';
import { startViewServer } from '../src/cli/view-server.ts';
import { ensureChromium, isolatedPage, launch } from '../test/web/browser.ts';

const found = ensureChromium();
if (found.path === undefined) throw new Error(found.why);
const v = await viewInput('share-lend-reclaim', { port: '0', seed: '1', profile: 'ffa-1.2' });
const server = await startViewServer({ trace: v.trace! });
const browser = await launch(found.path);
try {
  const { page } = await isolatedPage(browser, [server.base], { width: 1440, height: 900 });
  await page.goto(`${server.url}#sel=42`);
  await page.waitForFunction(
    () =>
      (window as unknown as { __ffasim?: { debug(): { ready: boolean } } }).__ffasim?.debug().ready === true,
  );
  await page.evaluate(
    () => (window as unknown as { __ffasim: { fontReady: Promise<void> } }).__ffasim.fontReady,
  );
  await page.screenshot({ path: new URL('../docs/view.png', import.meta.url).pathname });
} finally {
  await browser.close();
  await server.close();
}
