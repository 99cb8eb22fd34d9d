#!/usr/bin/env node
// Drive the built page in headless Chromium (the system's browser: nothing is downloaded) with playwright-core.
// Used by the browser test (tests/web_demo) and to take the README's screenshot.
//
//   node scripts/browser.mjs < job.json > result.json
//
// job: {"chromium": "/usr/bin/chromium", "url": "http://127.0.0.1:PORT/", "kind": KIND, ...}; kinds:
//   parity      {sketches: {name: data-URL}, models: [names]} -> per model: the pad's and the output canvas's PNGs, the raw
//               output tensor, the model's I/O description
//   stroke      draw a stroke with mouse events -> output PNG before and after, frame counts; then, with more
//               than one bundle, click the second one's toggle button -> its output
//   errors      {pages: [{url, noSimd}]} -> for each page, the page's error (title, detail, key) and the on-page
//               message text (noSimd: the browser is made to refuse WASM SIMD modules)
//   latency     {sketch, frames} -> per-frame and per-run milliseconds of `frames` runs of the same input
//   screenshot  {path, sketch?, stroke?, frames?} -> a PNG of the page (after `frames` more runs)
// The result is one JSON object on stdout: {ok: true, ...} or {ok: false, error, console}.

import {chromium} from 'playwright-core';

// playwright-core adds --headless and a fresh temporary profile (--user-data-dir) itself; these keep Chromium off
// the network (no component updates, sync, QUIC probes...) and on its software paths.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--metrics-recording-only',
  '--no-default-browser-check',
];

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function waitSettled(page, timeout) {
  await page.waitForFunction(() => window.demo && ['ready', 'error'].includes(window.demo.state) &&
    (window.demo.state === 'error' || window.demo.frames > 0), null, {timeout});
  // the first frame is drawn before the page's start-up has finished (it goes on to load the first example sketch
  // onto the pad): wait for all of it, else a job's own drawing races with that sketch
  await page.evaluate(() => window.demo.ready.then(() => {}, () => {}));
  await page.evaluate(() => window.demo.idle());
  return page.evaluate(() => ({state: window.demo.state, error: window.demo.error}));
}

async function drawStroke(page) {
  const box = await page.locator('#pad').boundingBox();
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  await page.mouse.move(...at(0.15, 0.2));
  await page.mouse.down();
  for (let i = 1; i <= 12; i++) await page.mouse.move(...at(0.15 + 0.7 * (i / 12), 0.2 + 0.6 * (i / 12)));
  await page.mouse.up();
}

async function run(job, page) {
  const timeout = job.timeout_ms || 60000;
  if (job.noSimd) {
    await page.addInitScript(() => {
      const validate = WebAssembly.validate.bind(WebAssembly);
      // Pretend the browser has no WASM SIMD: any module using a SIMD opcode (0xfd prefix) is refused.
      WebAssembly.validate = (bytes) => !new Uint8Array(bytes).includes(253) && validate(bytes);
    });
  }
  await page.goto(job.url, {waitUntil: 'load', timeout});
  const settled = await waitSettled(page, timeout);
  if (job.kind === 'error') {
    const message = await page.locator('#message').innerText().catch(() => null);
    const visible = await page.locator('#message').isVisible();
    return {...settled, message, visible, status: await page.locator('#status').innerText()};
  }
  if (settled.state !== 'ready') return {...settled, ok: false};
  if (job.kind === 'parity') {
    const results = [];
    for (const name of job.models) {
      results.push(await page.evaluate(async ([name, sketch]) => {
        await window.demo.select(name);
        await window.demo.loadSketch(sketch);
        await window.demo.idle();
        return {name, current: window.demo.current, pad: window.demo.padPNG(), output: window.demo.outputPNG(),
          raw: window.demo.lastOutput(), runMs: window.demo.lastRunMs, frameMs: window.demo.lastFrameMs};
      }, [name, job.sketches ? job.sketches[name] : job.sketch]));
    }
    return {...settled, results};
  }
  if (job.kind === 'stroke') {
    await page.evaluate(() => window.demo.clear());
    await page.evaluate(() => window.demo.idle());
    const before = await page.evaluate(() => ({frames: window.demo.frames, output: window.demo.outputPNG(),
      pad: window.demo.padPNG()}));
    await drawStroke(page);
    await page.waitForFunction((n) => window.demo.frames > n, before.frames, {timeout});
    await page.evaluate(() => window.demo.idle());
    const after = await page.evaluate(() => ({frames: window.demo.frames, output: window.demo.outputPNG(),
      pad: window.demo.padPNG(), latency: document.getElementById('latency').textContent}));
    // the generator toggle (shown when the page lists more than one bundle): click the other model's button
    let toggled = null;
    const names = await page.evaluate(() => window.demo.models);
    if (names.length > 1) {
      await page.locator(`#models button[data-name="${names[1]}"]`).click();
      await page.waitForFunction((name) => window.demo.current.name === name && window.demo.state === 'ready',
        names[1], {timeout});
      await page.evaluate(() => window.demo.idle());
      toggled = await page.evaluate(() => ({current: window.demo.current.name, frames: window.demo.frames,
        output: window.demo.outputPNG(), checked: document.querySelector('#models [aria-checked="true"]').dataset.name}));
    }
    return {...settled, before, after, toggled};
  }
  if (job.kind === 'latency') {
    return {...settled, ...(await page.evaluate(async ([sketch, frames]) => {
      if (sketch) await window.demo.loadSketch(sketch);
      const frameMs = [];
      const runMs = [];
      for (let i = 0; i < frames; i++) {
        await window.demo.run();
        frameMs.push(window.demo.lastFrameMs);
        runMs.push(window.demo.lastRunMs);
      }
      return {current: window.demo.current, frameMs, runMs, cores: navigator.hardwareConcurrency,
        isolated: self.crossOriginIsolated, userAgent: navigator.userAgent};
    }, [job.sketch || null, job.frames || 50]))};
  }
  if (job.kind === 'screenshot') {
    if (job.sketch) await page.evaluate(async (s) => window.demo.loadSketch(s), job.sketch);
    if (job.stroke) await drawStroke(page);
    await page.evaluate(() => window.demo.idle());
    // warm frames, so that the latency shown is the steady state rather than the first (compiling) runs
    for (let i = 0; i < (job.frames || 0); i++) await page.evaluate(() => window.demo.run());
    await page.screenshot({path: job.path, fullPage: true});
    return {...settled, path: job.path};
  }
  throw new Error(`unknown job kind ${job.kind}`);
}

const job = await readStdin();
const consoleLines = [];
let browser;
let result;
try {
  browser = await chromium.launch({executablePath: job.chromium || '/usr/bin/chromium', headless: true,
    args: CHROMIUM_ARGS, timeout: 60000});
  const context = await browser.newContext({viewport: job.viewport || {width: 920, height: 720},
    deviceScaleFactor: 1});
  const page = await context.newPage();
  page.on('console', (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => consoleLines.push(`pageerror: ${err.message}`));
  if (job.kind === 'errors') {
    // several pages that should each end in an on-page error, one fresh context each
    const pages = [];
    for (const one of job.pages) {
      const ctx = await browser.newContext({viewport: {width: 920, height: 720}});
      const p = await ctx.newPage();
      p.on('pageerror', (err) => consoleLines.push(`pageerror: ${err.message}`));
      pages.push(await run({...job, ...one, kind: 'error'}, p));
      await ctx.close();
    }
    result = {ok: true, pages};
  } else {
    result = {ok: true, ...(await run(job, page))};
  }
} catch (err) {
  result = {ok: false, error: String(err && err.stack ? err.stack : err)};
} finally {
  if (browser) await browser.close().catch(() => {});
}
result.console = consoleLines.slice(-50);
// exit only once the (possibly large) JSON is flushed into the pipe
process.stdout.write(JSON.stringify(result), () => process.exit(0));
