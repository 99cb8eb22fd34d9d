// What the page needs from an export bundle's model.json (written by mobile_export.bundle.export_bundle), checked
// key by key so that a malformed file is reported with the key that is wrong, and the pixel <-> tensor conversions
// that follow from it. Pure functions: no DOM, no LiteRT.

export const SUPPORTED_FORMAT_VERSIONS = [1];
export const DTYPES = ['float32', 'uint8'];

/** A model.json (or models/index.json) that the page cannot use; `key` is the dotted path of the wrong entry. */
export class BundleError extends Error {
  constructor(file, key, problem) {
    super(`${file}: ${key} ${problem}`);
    this.name = 'BundleError';
    this.file = file;
    this.key = key;
  }
}

const show = (value) => (value === undefined ? 'missing' : `${JSON.stringify(value)}`);

function tensorSpec(file, json, key) {
  const spec = json[key];
  const fail = (sub, problem) => {
    throw new BundleError(file, sub ? `${key}.${sub}` : key, problem);
  };
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) fail('', `is ${show(spec)}; expected an object`);
  const {shape, dtype, layout, range} = spec;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    fail('shape', `is ${show(shape)}; expected [1, height, width, channels] of positive integers`);
  }
  if (shape[0] !== 1) fail('shape', `is ${show(shape)}; expected batch 1`);
  if (shape[3] !== 1 && shape[3] !== 3) {
    fail('shape', `is ${show(shape)}; the sketch pad handles 1 or 3 channels (RGB or gray), not ${shape[3]}`);
  }
  if (!DTYPES.includes(dtype)) fail('dtype', `is ${show(dtype)}; expected one of ${DTYPES.join(', ')}`);
  if (layout !== 'NHWC') fail('layout', `is ${show(layout)}; expected "NHWC"`);
  if (!Array.isArray(range) || range.length !== 2 || !range.every((v) => typeof v === 'number' && isFinite(v))) {
    fail('range', `is ${show(range)}; expected [low, high] numbers`);
  }
  if (!(range[0] < range[1])) fail('range', `is ${show(range)}; expected low < high`);
  if (dtype === 'uint8' && (range[0] !== 0 || range[1] !== 255)) {
    fail('range', `is ${show(range)}; a uint8 tensor holds pixels, expected [0, 255]`);
  }
  return {shape: shape.slice(), height: shape[1], width: shape[2], channels: shape[3], dtype, range: range.slice()};
}

/**
 * Check a parsed model.json; returns what the page uses.
 * @param {*} json the parsed file
 * @param {string} file how to name the file in messages (e.g. "models/compressed/model.json")
 */
export function parseDescription(json, file = 'model.json') {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new BundleError(file, '(top level)', `is ${show(json)}; expected a JSON object`);
  }
  if (!SUPPORTED_FORMAT_VERSIONS.includes(json.format_version)) {
    throw new BundleError(file, 'format_version', `is ${show(json.format_version)}; this page reads ` +
      `${SUPPORTED_FORMAT_VERSIONS.join(', ')}`);
  }
  if (typeof json.precision !== 'string') {
    throw new BundleError(file, 'precision', `is ${show(json.precision)}; expected a string`);
  }
  const input = tensorSpec(file, json, 'input');
  const output = tensorSpec(file, json, 'output');
  const model = json.model && typeof json.model === 'object' ? json.model : {};
  return {precision: json.precision, input, output, model, parity: json.parity || null};
}

/**
 * Check models/index.json: {"models": [{"name": ..., "path": ...}, ...], "default": name}.
 */
export function parseIndex(json, file = 'models/index.json') {
  if (json === null || typeof json !== 'object' || !Array.isArray(json.models)) {
    throw new BundleError(file, 'models', `is ${show(json && json.models)}; expected a list of bundles`);
  }
  if (json.models.length === 0) throw new BundleError(file, 'models', 'is empty: no bundle was installed');
  const models = json.models.map((entry, i) => {
    if (!entry || typeof entry.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(entry.name)) {
      throw new BundleError(file, `models[${i}].name`, `is ${show(entry && entry.name)}; expected a plain name`);
    }
    if (typeof entry.path !== 'string' || entry.path.includes('..')) {
      throw new BundleError(file, `models[${i}].path`, `is ${show(entry.path)}; expected a relative folder`);
    }
    return {name: entry.name, path: entry.path.endsWith('/') ? entry.path : `${entry.path}/`,
      label: typeof entry.label === 'string' ? entry.label : entry.name};
  });
  const names = models.map((m) => m.name);
  const fallback = names.includes('compressed') ? 'compressed' : names[0];
  const preferred = names.includes(json.default) ? json.default : fallback;
  return {models, default: preferred};
}

/**
 * RGBA pixels (a canvas's ImageData.data) -> the model's input typed array (NHWC, batch 1).
 * uint8: the pixels themselves; float32: mapped linearly from [0, 255] to the declared range
 * (for [-1, 1]: p / 127.5 - 1, exactly mobile_export.convert.from_pixels).
 */
export function pixelsToInput(rgba, spec) {
  const n = spec.height * spec.width;
  const c = spec.channels;
  const out = spec.dtype === 'uint8' ? new Uint8Array(n * c) : new Float32Array(n * c);
  const [lo, hi] = spec.range;
  const scale = (hi - lo) / 255;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < c; k++) {
      // one channel: the gray value of a gray pad is its red channel
      const p = rgba[4 * i + (c === 1 ? 0 : k)];
      out[i * c + k] = spec.dtype === 'uint8' ? p : (lo === -1 && hi === 1 ? p / 127.5 - 1 : lo + p * scale);
    }
  }
  return out;
}

/**
 * The model's output typed array -> RGBA pixels. float32: mapped from the declared range to [0, 255], rounded half
 * up and clipped, exactly mobile_export.convert.to_pixels for [-1, 1]; uint8: as is.
 */
export function outputToPixels(data, spec) {
  const n = spec.height * spec.width;
  const c = spec.channels;
  const rgba = new Uint8ClampedArray(n * 4);
  const [lo, hi] = spec.range;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) {
      const v = data[i * c + (c === 1 ? 0 : k)];
      let p;
      if (spec.dtype === 'uint8') {
        p = v;
      } else if (lo === -1 && hi === 1) {
        p = Math.floor((Math.fround(v) + 1) * 127.5 + 0.5);
      } else {
        p = Math.floor(((v - lo) / (hi - lo)) * 255 + 0.5);
      }
      rgba[4 * i + k] = p < 0 ? 0 : p > 255 ? 255 : p;
    }
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}
