import { defineConfig } from 'vite';

// Preact through the automatic JSX runtime: no framework plugin needed. The output is
// plain files for the edge to serve; no inline script or style, so the edge's
// Content-Security-Policy can stay at 'self'.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    // LiveKit's client is one chunk of about 540 kB (140 kB gzip), loaded only with the call
    // screen; the page itself stays far below this.
    chunkSizeWarningLimit: 600,
  },
});
