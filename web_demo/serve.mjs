#!/usr/bin/env node
// Serve the built page (dist/) on the loopback interface with the headers LiteRT.js needs: cross-origin isolation
// (COOP same-origin + COEP require-corp) so that SharedArrayBuffer, hence the multi-threaded WASM build, is
// available, and application/wasm for the .wasm files. No dependencies beyond Node itself.
//
//   node serve.mjs [--root dist] [--port 5173] [--host 127.0.0.1] [--models DIR]
//
// --port 0 picks a free port. --models DIR serves DIR at /models/ instead of ROOT/models (another set of bundles
// without rebuilding). The first line on stdout is "serving http://HOST:PORT/".

import {createReadStream, statSync} from 'node:fs';
import {createServer} from 'node:http';
import {extname, join, resolve, sep} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const args = {root: join(here, 'dist'), port: '5173', host: '127.0.0.1', models: null};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const key = argv[i].replace(/^--/, '');
  if (!(key in args) || i + 1 >= argv.length) {
    console.error(`usage: node serve.mjs [--root DIR] [--port N] [--host ADDR] [--models DIR] (bad: ${argv[i]})`);
    process.exit(2);
  }
  args[key] = argv[++i];
}
const root = resolve(args.root);
const models = args.models ? resolve(args.models) : join(root, 'models');
try {
  statSync(join(root, 'index.html'));
} catch {
  console.error(`${root}/index.html not found: build the page first (npm run build, or make web-demo)`);
  process.exit(1);
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.tflite': 'application/octet-stream',
  '.map': 'application/json; charset=utf-8',
};
const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-cache',
  'X-Content-Type-Options': 'nosniff',
};

function locate(pathname) {
  const [base, rest] = pathname.startsWith('/models/') ? [models, pathname.slice(8)] : [root, pathname.slice(1)];
  const file = resolve(base, rest || 'index.html');
  if (file !== base && !file.startsWith(base + sep)) return null;
  try {
    const stat = statSync(file);
    if (stat.isDirectory()) return locate(`${pathname.replace(/\/?$/, '/')}index.html`);
    return stat.isFile() ? {file, size: stat.size} : null;
  } catch {
    return null;
  }
}

const server = createServer((req, res) => {
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
  } catch {
    res.writeHead(400, HEADERS).end('bad request');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, HEADERS).end('method not allowed');
    return;
  }
  const found = locate(pathname);
  if (!found) {
    res.writeHead(404, {...HEADERS, 'Content-Type': 'text/plain'}).end(`not found: ${pathname}`);
    return;
  }
  const type = TYPES[extname(found.file)] || 'application/octet-stream';
  res.writeHead(200, {...HEADERS, 'Content-Type': type, 'Content-Length': found.size});
  if (req.method === 'HEAD') res.end();
  else createReadStream(found.file).pipe(res);
});

server.listen(Number(args.port), args.host, () => {
  const {address, port} = server.address();
  const host = address.includes(':') ? `[${address}]` : address;
  console.log(`serving http://${host}:${port}/`);
  if (!['127.0.0.1', '::1', 'localhost'].includes(args.host)) {
    console.log(`note: listening on ${args.host}, not only on this machine's loopback interface`);
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
