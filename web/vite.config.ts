/**
 * Two builds of the view. `app` (default): web/dist, served by `ffasim view`; the what-if engine and exporters are
 * a lazily loaded chunk so first paint needs only the viewer. `report` (`--mode report`): one JavaScript file with
 * everything inlined (worker, font, lazy chunks), which `ffasim view --report` wraps into a single HTML file.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig(({ mode }) => {
  const report = mode === 'report';
  return {
    root: fileURLToPath(new URL('.', import.meta.url)),
    base: './',
    publicDir: false,
    logLevel: 'warn',
    build: {
      outDir: report ? 'dist-report' : 'dist',
      emptyOutDir: true,
      target: 'es2022',
      modulePreload: false,
      assetsInlineLimit: report ? 1_000_000 : 4096,
      reportCompressedSize: false,
      rolldownOptions: {
        output: report
          ? { codeSplitting: false, entryFileNames: 'report.js', assetFileNames: 'report[extname]' }
          : {},
      },
    },
    worker: { format: 'es' },
  };
});
