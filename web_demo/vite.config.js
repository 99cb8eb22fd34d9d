import {cpSync, createReadStream, existsSync, mkdirSync, readdirSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {defineConfig} from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const WASM_DIR = join(here, 'node_modules', '@litertjs', 'core', 'wasm');
// The builds the page may load: single-thread with and without relaxed SIMD, and multi-threaded. (The JSPI build
// is for WebNN / WebGPU partitioning, which this page does not use.)
const WASM_FILES = readdirSync(WASM_DIR).filter((f) => !f.includes('_jspi_'));

// Cross-origin isolation: SharedArrayBuffer (multi-threaded WASM) is only given to isolated pages.
const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Serve LiteRT.js's WASM files at litert/ in dev, and copy them to dist/litert/ on build. */
function litertWasm() {
  let outDir;
  return {
    name: 'litert-wasm',
    configResolved(config) {
      outDir = join(config.root, config.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use('/litert/', (req, res, next) => {
        const name = req.url.split('?')[0].replace(/^\//, '');
        if (!WASM_FILES.includes(name)) return next();
        for (const [key, value] of Object.entries(HEADERS)) res.setHeader(key, value);
        res.setHeader('Content-Type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        createReadStream(join(WASM_DIR, name)).pipe(res);
      });
    },
    closeBundle() {
      if (!existsSync(outDir)) return;
      mkdirSync(join(outDir, 'litert'), {recursive: true});
      for (const name of WASM_FILES) cpSync(join(WASM_DIR, name), join(outDir, 'litert', name));
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [litertWasm()],
  server: {host: '127.0.0.1', headers: HEADERS},
  preview: {host: '127.0.0.1', headers: HEADERS},
  build: {target: 'es2022', chunkSizeWarningLimit: 1024},
});
