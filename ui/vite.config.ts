import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  plugins: [svelte()],
  // The window loads files only: no dev server in production, nothing from the network.
  clearScreen: false,
  server: { port: 5173, strictPort: true, fs: { allow: [root] } },
  build: {
    target: 'safari15',
    outDir: 'dist',
    emptyOutDir: true,
    // One small app: a single chunk is expected.
    chunkSizeWarningLimit: 1024,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
