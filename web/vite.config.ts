import { defineConfig } from 'vitest/config'
import react from '@vitejs/plugin-react'

// The API is served by kanade-backend; in dev, Vite proxies to it.
const backend = process.env.KANADE_URL ?? 'http://127.0.0.1:18080'

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // No inline polyfill script: the CSP forbids inline scripts.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 400,
  },
  server: { proxy: { '/api': { target: backend, changeOrigin: true } } },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
})
