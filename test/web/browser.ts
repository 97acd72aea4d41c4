/**
 * Browser harness for the web view tests and `npm run bench:web`: Debian's Chromium driven by playwright-core
 * (never a downloaded browser), every request to anything but the view's own 127.0.0.1 server blocked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function chromiumPath(): string | undefined {
  return CHROMIUM_PATHS.find((p) => existsSync(p));
}

/**
 * Finds Debian's Chromium; installs it with apt when missing and running as root (a fresh machine); otherwise
 * says why not. Under CI=true a missing browser is an error, never a skip.
 */
export function ensureChromium(): { path?: string; why?: string } {
  // A browser elsewhere (another distribution's Chromium, a local build): FFASIM_CHROMIUM names it.
  const env = process.env.FFASIM_CHROMIUM;
  if (env !== undefined && env !== '')
    return existsSync(env) ? { path: env } : { why: `FFASIM_CHROMIUM=${env} does not exist` };
  let p = chromiumPath();
  if (p !== undefined) return { path: p };
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root) {
    try {
      process.stderr.write('web view tests: Chromium missing; installing Debian chromium with apt-get…\n');
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', timeout: 600_000 });
      execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], {
        stdio: 'inherit',
        timeout: 900_000,
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    } catch (e) {
      return { why: `apt-get install chromium failed: ${(e as Error).message}` };
    }
    p = chromiumPath();
    if (p !== undefined) return { path: p };
    return { why: 'apt-get install chromium finished but /usr/bin/chromium is missing' };
  }
  return {
    why: 'Debian chromium is not installed and this is not root: run `sudo apt-get install chromium`',
  };
}

/** Headless Chromium with the flags this closed network needs; Playwright gives it a fresh empty profile. */
export async function launch(path: string): Promise<Browser> {
  return chromium.launch({
    executablePath: path,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-features=Translate,MediaRouter,OptimizationHints',
      '--font-render-hinting=none',
      '--force-color-profile=srgb',
    ],
  });
}

/** A page that may talk only to `allowedOrigins` (the view's server); every other request is aborted and recorded. */
export async function isolatedPage(
  browser: Browser,
  allowedOrigins: string[],
  viewport = { width: 1400, height: 900 },
): Promise<{ context: BrowserContext; page: Page; blocked: string[] }> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, reducedMotion: 'reduce' });
  const blocked: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || url.startsWith('blob:') || allowedOrigins.some((o) => url.startsWith(o)))
      return route.continue();
    blocked.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  return { context, page, blocked };
}
