import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// In development the dashboard runs on Vite's port and forwards the API,
// including the WebSocket at /api/v1/stream, to a local `blackhole serve`.
// BLACKHOLE_API_URL points the proxy at a server on another port. The
// proxy keeps the browser's Host header (changeOrigin: false), because the
// server accepts the WebSocket's session cookie only when the Origin
// matches the Host.
const apiTarget = process.env.BLACKHOLE_API_URL ?? 'http://127.0.0.1:7070'

export default defineConfig({
  plugins: [react()],
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: apiTarget, changeOrigin: false, ws: true },
    },
  },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
})
