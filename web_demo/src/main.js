// The sketch-to-image page: a drawing pad, the generator's output beside it after every stroke, per-frame latency,
// and a toggle between the installed bundles (e.g. teacher vs compressed). Everything the page knows about a model
// comes from its bundle's model.json (input size, value range, dtypes), checked by ./bundle.js.
//
// URL parameters: ?accelerator=wasm|webgpu (default: WebGPU when the browser gives LiteRT.js a device, else WASM),
// ?threads=0|1 (default: multi-threaded WASM when the page is cross-origin isolated), ?model=NAME.
//
// window.demo is the page's own API, used by the browser test (tests/web_demo) and handy in the console.

import {Tensor, getWebGpuDevice, loadAndCompile, loadLiteRt, supportsFeature} from '@litertjs/core';
import {BundleError, outputToPixels, parseDescription, parseIndex, pixelsToInput} from './bundle.js';

const $ = (id) => document.getElementById(id);
const pad = $('pad');
const out = $('output');
const padCtx = pad.getContext('2d', {willReadFrequently: true});
const outCtx = out.getContext('2d');
const params = new URLSearchParams(location.search);
const WASM_BASE = new URL('litert/', document.baseURI).href;
const MODELS_BASE = new URL('models/', document.baseURI).href;

// A minimal module using a 128-bit SIMD instruction (i8x16.popcnt): LiteRT.js's XNNPACK CPU kernels need WASM SIMD.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

const state = {
  status: 'loading',
  tool: 'pen',
  models: [],
  current: null, // {entry, desc, compiled, accelerator}
  compiled: new Map(),
  frames: 0,
  latencies: [],
  lastOutput: null,
  lastRunMs: null,
  lastFrameMs: null,
  backend: null,
  error: null,
};

class PageError extends Error {
  constructor(title, detail) {
    super(`${title}: ${detail}`);
    this.title = title;
    this.detail = detail;
  }
}

// ---------------------------------------------------------------------------------------------------- messages

function setStatus(text) {
  $('status').textContent = text;
}

function showError(err) {
  let title = 'Something went wrong';
  let detail = String(err && err.message ? err.message : err);
  if (err instanceof PageError) {
    ({title, detail} = err);
  } else if (err instanceof BundleError) {
    title = `Malformed ${err.file.split('/').pop()} (key ${err.key})`;
    detail = err.message;
  }
  state.status = 'error';
  state.error = {title, detail, key: err && err.key ? err.key : null};
  document.body.dataset.state = 'error';
  const box = $('message');
  box.replaceChildren();
  const strong = document.createElement('strong');
  strong.textContent = title;
  box.append(strong, document.createTextNode(detail));
  box.hidden = false;
  setStatus(`Error: ${title}. ${detail}`);
  console.error(title, detail);
}

function clearError() {
  $('message').hidden = true;
  state.error = null;
}

// ---------------------------------------------------------------------------------------------------- loading

async function fetchJson(url, file) {
  let response;
  try {
    response = await fetch(url, {cache: 'no-cache'});
  } catch (err) {
    throw new PageError('The model could not be loaded', `${file} could not be fetched (${err.message}).`);
  }
  if (!response.ok) {
    throw new PageError('The model could not be loaded', `${file}: HTTP ${response.status} ${response.statusText}. ` +
      'Install a bundle with `make web-assets` (or tfgancomp export --web-demo) and rebuild.');
  }
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BundleError(file, '(whole file)', `is not valid JSON: ${err.message}`);
  }
}

function checkBrowser() {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') {
    throw new PageError('This browser cannot run the model', 'WebAssembly is not available (or is disabled). ' +
      'LiteRT.js runs the generator in WebAssembly; use a current Chrome, Edge, Firefox or Safari.');
  }
  if (!WebAssembly.validate(SIMD_PROBE)) {
    throw new PageError('This browser cannot run the model', 'WebAssembly SIMD is not supported. LiteRT.js runs ' +
      'the generator with XNNPACK, whose WebAssembly kernels need SIMD (Chrome/Edge 91+, Firefox 89+, Safari 16.4+).');
  }
}

let liteRtPromise = null;

async function startLiteRt() {
  const wantThreads = params.get('threads') !== '0' && self.crossOriginIsolated &&
    (await supportsFeature('threads')) && (await supportsFeature('relaxedSimd'));
  const seconds = 60;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`it did not finish loading within ${seconds} s`)), seconds * 1000);
  });
  try {
    await Promise.race([loadLiteRt(WASM_BASE, {threads: wantThreads}), timeout]);
  } catch (err) {
    // a script that fails to load rejects with its DOM error event, not an Error
    const why = err instanceof Event ? `Its script in ${WASM_BASE} did not load (missing, or refused by the server)` :
      `${err.message || err} (from ${WASM_BASE})`;
    throw new PageError('The LiteRT.js runtime could not be loaded', `${why}.`);
  } finally {
    clearTimeout(timer);
  }
  return {threads: wantThreads};
}

async function chooseAccelerator() {
  const wanted = params.get('accelerator');
  if (wanted === 'wasm' || wanted === 'webgpu') return wanted;
  return getWebGpuDevice() ? 'webgpu' : 'wasm';
}

function checkDetails(desc, compiled, file) {
  for (const [key, details] of [['input', compiled.getInputDetails()], ['output', compiled.getOutputDetails()]]) {
    if (details.length !== 1) {
      throw new BundleError(file, key, `describes one tensor, but model.tflite has ${details.length} ${key}s`);
    }
    const spec = desc[key];
    if (details[0].dtype !== spec.dtype) {
      throw new BundleError(file, `${key}.dtype`,
        `is "${spec.dtype}", but model.tflite's ${key} is ${details[0].dtype}`);
    }
    const shape = Array.from(details[0].shape);
    if (shape.join(',') !== spec.shape.join(',')) {
      throw new BundleError(file, `${key}.shape`,
        `is ${JSON.stringify(spec.shape)}, but model.tflite's ${key} has shape ${JSON.stringify(shape)}`);
    }
  }
}

const descriptions = new Map();

async function describe(entry) {
  if (!descriptions.has(entry.name)) {
    const file = `models/${entry.path}model.json`;
    descriptions.set(entry.name, parseDescription(await fetchJson(new URL(entry.path + 'model.json', MODELS_BASE), file),
      file));
  }
  return descriptions.get(entry.name);
}

async function loadModel(entry) {
  if (state.compiled.has(entry.name)) return state.compiled.get(entry.name);
  const folder = `models/${entry.path}`;
  const desc = await describe(entry);
  let accelerator = await chooseAccelerator();
  let compiled;
  const modelUrl = new URL(entry.path + 'model.tflite', MODELS_BASE).href;
  let bytes;
  try {
    const response = await fetch(modelUrl);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    throw new PageError('The model could not be loaded', `${folder}model.tflite could not be fetched: ${err.message}`);
  }
  try {
    compiled = await loadAndCompile(bytes, {accelerator});
  } catch (err) {
    if (accelerator !== 'webgpu' || params.get('accelerator') === 'webgpu') {
      throw new PageError('The model could not be loaded',
        `LiteRT.js could not load ${folder}model.tflite on ${accelerator}: ${err.message || err}`);
    }
    console.warn('WebGPU compilation failed, falling back to WASM:', err);
    accelerator = 'wasm';
    try {
      compiled = await loadAndCompile(bytes, {accelerator});
    } catch (err2) {
      throw new PageError('The model could not be loaded',
        `LiteRT.js could not load ${folder}model.tflite: ${err2.message || err2}`);
    }
  }
  checkDetails(desc, compiled, `${folder}model.json`);
  const loaded = {entry, desc, compiled, accelerator};
  state.compiled.set(entry.name, loaded);
  return loaded;
}

// ---------------------------------------------------------------------------------------------------- running

async function infer(loaded, rgba) {
  const {desc, compiled, accelerator} = loaded;
  const t0 = performance.now();
  let input = new Tensor(pixelsToInput(rgba, desc.input), desc.input.shape);
  if (accelerator === 'webgpu') input = await input.moveTo('webgpu');
  const outputs = await compiled.run([input]);
  let result = outputs[0];
  if (result.accelerator !== 'wasm') result = await result.moveTo('wasm');
  const data = result.toTypedArray().slice();
  input.delete();
  result.delete();
  for (const t of outputs.slice(1)) t.delete();
  const t1 = performance.now();
  return {data, runMs: t1 - t0};
}

async function frame() {
  const loaded = state.current;
  if (!loaded) return;
  const t0 = performance.now();
  const rgba = padCtx.getImageData(0, 0, pad.width, pad.height).data;
  const {data, runMs} = await infer(loaded, rgba);
  const spec = loaded.desc.output;
  outCtx.putImageData(new ImageData(outputToPixels(data, spec), spec.width, spec.height), 0, 0);
  const frameMs = performance.now() - t0;
  state.lastOutput = data;
  state.lastRunMs = runMs;
  state.lastFrameMs = frameMs;
  state.latencies.push(frameMs);
  if (state.latencies.length > 30) state.latencies.shift();
  state.frames += 1;
  const sorted = [...state.latencies].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  $('latency').textContent = `${frameMs.toFixed(1)} ms (model ${runMs.toFixed(1)} ms); median ${median.toFixed(1)} ms ` +
    `over ${sorted.length} frame${sorted.length > 1 ? 's' : ''}`;
}

let dirty = false;
let running = null;

function requestRun() {
  dirty = true;
  if (!running) {
    running = (async () => {
      try {
        while (dirty && state.status === 'ready') {
          dirty = false;
          await frame();
        }
      } catch (err) {
        showError(new PageError('The generator failed to run', err.message || String(err)));
      } finally {
        running = null;
      }
    })();
  }
  return running;
}

// ---------------------------------------------------------------------------------------------------- drawing

function clearPad() {
  padCtx.fillStyle = '#fff';
  padCtx.fillRect(0, 0, pad.width, pad.height);
}

function resizeCanvases(desc) {
  if (pad.width !== desc.input.width || pad.height !== desc.input.height) {
    const copy = document.createElement('canvas');
    copy.width = pad.width;
    copy.height = pad.height;
    copy.getContext('2d').drawImage(pad, 0, 0);
    pad.width = desc.input.width;
    pad.height = desc.input.height;
    clearPad();
    padCtx.drawImage(copy, 0, 0, pad.width, pad.height);
  }
  out.width = desc.output.width;
  out.height = desc.output.height;
}

function setTool(tool) {
  state.tool = tool;
  for (const name of ['pen', 'eraser']) {
    const button = $(`tool-${name}`);
    button.classList.toggle('active', name === tool);
    button.setAttribute('aria-pressed', String(name === tool));
  }
}

let last = null;

function padPoint(event) {
  const rect = pad.getBoundingClientRect();
  return [((event.clientX - rect.left) / rect.width) * pad.width, ((event.clientY - rect.top) / rect.height) * pad.height];
}

function strokeTo(point) {
  const size = Number($('brush').value);
  padCtx.strokeStyle = state.tool === 'pen' ? '#000' : '#fff';
  padCtx.lineWidth = state.tool === 'pen' ? size : size * 3;
  padCtx.lineCap = 'round';
  padCtx.lineJoin = 'round';
  padCtx.beginPath();
  padCtx.moveTo(...(last || point));
  padCtx.lineTo(...point);
  padCtx.stroke();
  last = point;
}

pad.addEventListener('pointerdown', (event) => {
  if (state.status !== 'ready') return;
  pad.setPointerCapture(event.pointerId);
  last = null;
  strokeTo(padPoint(event));
  requestRun();
});
pad.addEventListener('pointermove', (event) => {
  if (last === null || state.status !== 'ready') return;
  strokeTo(padPoint(event));
  requestRun(); // live while drawing: a new frame starts as soon as the previous one is done
});
const endStroke = () => {
  if (last === null) return;
  last = null;
  requestRun(); // and always once more after the stroke
};
pad.addEventListener('pointerup', endStroke);
pad.addEventListener('pointercancel', endStroke);

$('tool-pen').addEventListener('click', () => setTool('pen'));
$('tool-eraser').addEventListener('click', () => setTool('eraser'));
$('clear').addEventListener('click', () => {
  clearPad();
  requestRun();
});
document.addEventListener('keydown', (event) => {
  if (event.target instanceof HTMLInputElement) return;
  if (event.key === 'p') setTool('pen');
  if (event.key === 'e') setTool('eraser');
  if (event.key === 'c') $('clear').click();
});

async function loadSketch(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const bitmap = await createImageBitmap(await response.blob(), {colorSpaceConversion: 'none', premultiplyAlpha: 'none'});
  clearPad();
  padCtx.imageSmoothingQuality = 'high';
  padCtx.drawImage(bitmap, 0, 0, pad.width, pad.height);
  bitmap.close();
  return requestRun();
}

// ---------------------------------------------------------------------------------------------------- models

function describeModel(loaded) {
  const {desc} = loaded;
  const parts = [`${desc.input.width}×${desc.input.height}`, desc.precision, `${desc.input.dtype} I/O`];
  const info = desc.model;
  if (typeof info.macs === 'number') parts.push(`${(info.macs / 1e9).toFixed(3)} G MACs`);
  if (typeof info.params === 'number') parts.push(`${(info.params / 1e6).toFixed(3)} M params`);
  if (typeof info.config === 'string') parts.push(`config ${info.config}`);
  return parts.join(' · ');
}

async function select(name) {
  const entry = state.models.find((m) => m.name === name);
  if (!entry) throw new Error(`no model named ${name}`);
  await running;
  state.status = 'loading';
  document.body.dataset.state = 'loading';
  setStatus(`Loading ${entry.label}…`);
  const loaded = await loadModel(entry);
  state.current = loaded;
  resizeCanvases(loaded.desc);
  state.latencies = [];
  for (const button of $('models').children) button.setAttribute('aria-checked', String(button.dataset.name === name));
  $('model-name').textContent = `(${entry.label})`;
  $('model-info').textContent = describeModel(loaded);
  const backend = loaded.accelerator === 'webgpu' ? 'WebGPU' :
    `WASM + XNNPACK (${state.backend.threads ? 'multi-threaded' : 'single thread'})`;
  $('backend').textContent = backend;
  clearError();
  state.status = 'ready';
  document.body.dataset.state = 'ready';
  setStatus(`Ready: ${entry.label} on ${backend}. Draw on the left.`);
  return requestRun();
}

function addExample(url, title) {
  const button = document.createElement('button');
  button.title = title;
  const img = document.createElement('img');
  img.src = url;
  img.alt = title;
  button.append(img);
  button.addEventListener('click', () => {
    if (state.status === 'ready') loadSketch(url).catch(showError);
  });
  $('examples').append(button);
}

async function addExamples() {
  let list = [];
  try {
    const response = await fetch(new URL('examples/index.json', document.baseURI), {cache: 'no-cache'});
    if (response.ok) list = (await response.json()).examples || [];
  } catch {
    // examples are optional
  }
  for (const file of list) addExample(new URL(`examples/${file}`, document.baseURI).href, `held-out input ${file}`);
  // the default bundle's own sample input (bundles exported from one dataset share it)
  const m = state.models[0];
  addExample(new URL(`${m.path}sample_input.png`, MODELS_BASE).href, `${m.label}: sample input`);
}

async function main() {
  clearPad();
  checkBrowser();
  const index = parseIndex(await fetchJson(new URL('index.json', MODELS_BASE), 'models/index.json'));
  state.models = index.models;
  if (state.models.length > 1) {
    const group = $('models');
    for (const m of state.models) {
      const button = document.createElement('button');
      button.textContent = m.label;
      button.dataset.name = m.name;
      button.setAttribute('role', 'radio');
      button.addEventListener('click', () => {
        if (state.status !== 'loading') select(m.name).catch(showError);
      });
      group.append(button);
    }
    group.hidden = false;
  }
  const first = params.get('model') && state.models.some((m) => m.name === params.get('model')) ?
    params.get('model') : index.default;
  await describe(state.models.find((m) => m.name === first)); // a malformed model.json is reported before the runtime loads
  state.backend = await (liteRtPromise ||= startLiteRt());
  await addExamples();
  await select(first);
  const firstExample = $('examples').querySelector('img');
  if (firstExample) await loadSketch(firstExample.src);
}

const ready = main().catch((err) => {
  showError(err);
  throw err;
});
ready.catch(() => {}); // reported on the page; window.demo.ready still rejects for callers

window.addEventListener('unhandledrejection', (event) => {
  if (state.status !== 'error') showError(event.reason);
});

window.demo = {
  ready,
  get state() {
    return state.status;
  },
  get error() {
    return state.error;
  },
  get frames() {
    return state.frames;
  },
  get models() {
    return state.models.map((m) => m.name);
  },
  get current() {
    return state.current && {name: state.current.entry.name, accelerator: state.current.accelerator,
      threads: state.backend.threads, input: state.current.desc.input, output: state.current.desc.output};
  },
  get lastRunMs() {
    return state.lastRunMs;
  },
  get lastFrameMs() {
    return state.lastFrameMs;
  },
  lastOutput: () => (state.lastOutput ? Array.from(state.lastOutput) : null),
  idle: () => running || Promise.resolve(),
  select,
  loadSketch,
  clear: () => {
    clearPad();
    return requestRun();
  },
  run: requestRun,
  padPNG: () => pad.toDataURL('image/png'),
  outputPNG: () => out.toDataURL('image/png'),
};
