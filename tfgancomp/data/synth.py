"""Procedural datasets, deterministic from a seed, written in the real formats users' data comes in.

Each image is drawn from its own random stream ``(seed, stream, index)``, so a file never depends on how many
others were asked for, and the same seed gives byte-identical PNG files. The target of every task is a
deterministic function of its input, so quality can be scored against ground truth:

* ``edges2shapes`` — pix2pix "AB" files (``train/``, ``test/``): B is a scene of shaded, textured shapes whose
  colour and texture follow from the shape's kind and size; A is B's edge map (black lines on white).
* ``shapes2zebra`` — CycleGAN layout (``trainA/ trainB/ testA/ testB/``): A plain shapes, one saturated colour per
  kind, B the same kind of shapes crossed by dark bands like a zebra (rings, vertical or horizontal bands, an eighth
  of the image wide, anchored to the shape). Both renderings of a scene share its lighting and sensor noise, as two
  photographs of one scene would. Training sets are unpaired; ``testA2B/`` holds the true translation of each
  ``testA`` image under the same file name.
* ``labels2scenes`` — GauGAN / SPADE custom layout (``{split}_label/``, ``{split}_inst/``, ``{split}_img/``): a
  label map of ``label_nc`` classes (8-bit PNG), an instance map (16-bit PNG: stuff = class id, objects =
  ``1000·class + k``) and an image where every class has its own texture, shaded by distance to its boundary.

Every dataset also gets a ``dataset.json`` describing it (task, size, seed, counts, ``label_nc``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from tfgancomp.validation import check_choice, check_positive_int

TASKS = ("edges2shapes", "shapes2zebra", "labels2scenes")
KINDS = ("circle", "square", "triangle")
#: Format version of the generators; bump it when a drawing changes so old copies are recognisable.
#: 2: shapes2zebra's shapes saturated, its bands an eighth of the image wide, lighting and noise added.
VERSION = 2

_STREAMS = {"train": 0, "test": 1, "trainA": 2, "trainB": 3, "testA": 4, "testB": 5}
_BACKGROUND = np.array([0.93, 0.93, 0.90])
_ZEBRA_BACKGROUND = np.array([0.80, 0.86, 0.66])
_HUES = {"circle": 0.02, "square": 0.60, "triangle": 0.33}


@dataclass(frozen=True)
class SynthSettings:
    """What ``tfgancomp data synth`` makes.

    Args:
        task: One of :data:`TASKS`.
        num_train: Training images (per domain for ``shapes2zebra``).
        num_test: Test images (per domain for ``shapes2zebra``).
        size: Side of the square images in pixels (at least 16).
        seed: Seed of every random stream.
        label_nc: Label classes of ``labels2scenes`` (at least 3: sky, ground and one object class).
    """

    task: str
    num_train: int = 200
    num_test: int = 20
    size: int = 64
    seed: int = 0
    label_nc: int = 8

    def __post_init__(self):
        check_choice("task", self.task, TASKS)
        check_positive_int("num_train", self.num_train)
        check_positive_int("num_test", self.num_test)
        check_positive_int("size", self.size)
        if self.size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {self.size}")
        check_positive_int("label_nc", self.label_nc)
        if self.label_nc < 3:
            raise ValueError(f"label_nc must be at least 3 (sky, ground, one object class), got {self.label_nc}")


def _rng(seed: int, stream: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAMS[stream], index])


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def _grid(size: int):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    return yy, xx


def _shape_mask(kind: str, cy: float, cx: float, r: float, yy, xx) -> np.ndarray:
    if kind == "circle":
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if kind == "square":
        return (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
    # upright isosceles triangle: apex at the top, base at the bottom
    top, bottom = cy - r, cy + r * 0.8
    half = (yy - top) / (bottom - top) * r
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)


def _place_shapes(rng: np.random.Generator, size: int, max_shapes: int = 3):
    """Non-overlapping (kind, cy, cx, r) tuples: 1 to ``max_shapes`` shapes, radius 12–26 % of the side."""
    shapes = []
    count = int(rng.integers(1, max_shapes + 1))
    for _ in range(60):
        if len(shapes) == count:
            break
        r = float(rng.uniform(0.12, 0.26)) * size
        cy, cx = (float(v) for v in rng.uniform(r + 2, size - r - 2, 2))
        kind = KINDS[int(rng.integers(len(KINDS)))]
        if all(np.hypot(cy - y, cx - x) > (r + q) * 1.05 + 2 for _, y, x, q in shapes):
            shapes.append((kind, cy, cx, r))
    return shapes


def _edges(pieces: np.ndarray, thickness: int) -> np.ndarray:
    """Pixels whose piece id differs from a right or lower neighbour, dilated to ``thickness``."""
    edge = np.zeros(pieces.shape, bool)
    edge[:, :-1] |= pieces[:, :-1] != pieces[:, 1:]
    edge[:-1, :] |= pieces[:-1, :] != pieces[1:, :]
    for _ in range(thickness - 1):
        grown = edge.copy()
        grown[1:, :] |= edge[:-1, :]
        grown[:, 1:] |= edge[:, :-1]
        edge = grown
    return edge


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def render_edges2shapes(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One (A, B) pair as uint8 arrays: A the edge map of B, B the shaded shapes."""
    yy, xx = _grid(size)
    image = np.broadcast_to(_BACKGROUND, (size, size, 3)).copy()
    pieces = np.zeros((size, size), np.int32)
    rmin, rmax = 0.12 * size, 0.26 * size
    for n, (kind, cy, cx, r) in enumerate(_place_shapes(rng, size), start=1):
        mask = _shape_mask(kind, cy, cx, r, yy, xx)
        grow = (r - rmin) / (rmax - rmin)  # 0 for the smallest shapes, 1 for the largest
        base = _hsv_to_rgb(_HUES[kind] + 0.10 * grow, 0.55 + 0.3 * grow, 0.95)
        if kind == "circle":  # lit sphere: bright in the middle, darker at the rim
            shade = 0.45 + 0.55 * np.sqrt(np.clip(1 - ((yy - cy) ** 2 + (xx - cx) ** 2) / (r * r), 0, 1))
            colour = base * shade[..., None]
            piece = np.full((size, size), 4 * n)
        elif kind == "square":  # two-tone quadrants, darker on the diagonal from top-left to bottom-right
            quadrant = (yy >= cy).astype(np.int32) * 2 + (xx >= cx).astype(np.int32)
            tone = np.where((quadrant == 0) | (quadrant == 3), 0.55, 1.0)
            colour = base * tone[..., None]
            piece = 4 * n + quadrant
        else:  # vertical gradient: dark apex, bright base
            t = np.clip((yy - (cy - r)) / (1.8 * r), 0, 1)
            colour = base * (0.35 + 0.65 * t)[..., None]
            piece = np.full((size, size), 4 * n)
        image[mask] = colour[mask]
        pieces[mask] = piece[mask]
    edges = _edges(pieces, max(1, size // 128))
    a = np.where(edges, 0.0, 1.0)[..., None].repeat(3, axis=2)
    return _to_uint8(a), _to_uint8(image)


def _zebra_scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One scene drawn twice: plain (A) and striped (B), under the same lighting and sensor noise.

    Version 1 drew pale shapes (saturation 0.25, 0.08–0.14 of the range from the background's colour on average) with
    bands 2 pixels wide at 32², perfectly flat: a CycleGAN teacher never learned it (see the README's paper table).
    """
    yy, xx = _grid(size)
    plain = np.broadcast_to(_ZEBRA_BACKGROUND, (size, size, 3)).copy()
    striped = plain.copy()
    period = max(4.0, size / 4)  # dark and light bands an eighth of the image wide, as a zebra's are of similar width
    for kind, cy, cx, r in _place_shapes(rng, size):
        mask = _shape_mask(kind, cy, cx, r, yy, xx)
        colour = _hsv_to_rgb(_HUES[kind], 0.7, 0.85)
        if kind == "circle":  # rings around the centre
            coord = np.hypot(yy - cy, xx - cx)
        elif kind == "square":  # vertical stripes from the left edge
            coord = xx - (cx - r * 0.85)
        else:  # horizontal stripes from the apex
            coord = yy - (cy - r)
        dark = np.mod(coord, period) < period / 2
        stripes = np.where(dark[..., None], np.array([0.08, 0.08, 0.08]), colour)
        plain[mask] = colour
        striped[mask] = stripes[mask]
    tilt_y, tilt_x = rng.uniform(-0.08, 0.08, 2)  # a lighting gradient of up to ±8 % across the frame
    light = (1.0 + tilt_y * (2 * yy / size - 1) + tilt_x * (2 * xx / size - 1))[..., None]
    noise = rng.normal(0.0, 0.03, (size, size, 3))
    return _to_uint8(plain * light + noise), _to_uint8(striped * light + noise)


def _class_colour(c: int, label_nc: int) -> np.ndarray:
    if c == 0:
        return np.array([0.55, 0.75, 0.95])  # sky
    if c == 1:
        return np.array([0.45, 0.40, 0.30])  # ground
    return _hsv_to_rgb((c - 2) / max(1, label_nc - 2), 0.65, 0.9)


def _distance_to_boundary(labels: np.ndarray, cap: int) -> np.ndarray:
    """Chessboard distance (capped at ``cap``) of every pixel to the nearest pixel of another region.

    The image border is not a boundary: padding repeats the edge pixels.
    """
    h, w = labels.shape
    padded = np.pad(labels, 1, mode="edge")
    inside = np.ones(labels.shape, bool)
    dist = np.zeros(labels.shape, np.float64)
    for _ in range(cap):
        grown = np.pad(inside, 1, mode="edge")
        keep = inside.copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                keep &= grown[dy : dy + h, dx : dx + w] & (padded[dy : dy + h, dx : dx + w] == labels)
        inside = keep
        dist += inside
    return dist


def render_labels2scenes(rng: np.random.Generator, size: int, label_nc: int):
    """One (label, instance, image) triple: uint8 labels, uint16 instances, uint8 RGB."""
    yy, xx = _grid(size)
    phase, amp, freq = rng.uniform(0, 2 * np.pi), rng.uniform(0.02, 0.08) * size, rng.uniform(1, 3)
    horizon = rng.uniform(0.3, 0.6) * size + amp * np.sin(2 * np.pi * freq * xx / size + phase)
    labels = np.where(yy < horizon, 0, 1).astype(np.int32)
    instances = labels.copy()
    for k in range(int(rng.integers(1, 5))):
        c = int(rng.integers(2, label_nc))
        kind = KINDS[int(rng.integers(len(KINDS)))]
        r = float(rng.uniform(0.08, 0.22)) * size
        cy, cx = (float(v) for v in rng.uniform(r, size - r, 2))
        mask = _shape_mask(kind, cy, cx, r, yy, xx)
        labels[mask] = c
        instances[mask] = 1000 * c + k + 1
    dist = _distance_to_boundary(instances, cap=8) / 8.0
    image = np.zeros((size, size, 3))
    for c in np.unique(labels):
        mask = labels == c
        colour = _class_colour(int(c), label_nc)
        period = 2 + (int(c) % 4)  # class texture: concentric bands at a class-specific spacing from the border
        band = 0.8 + 0.2 * np.cos(2 * np.pi * dist * 8 / period)
        shade = (0.6 + 0.4 * dist) * band
        image[mask] = (colour * shade[..., None])[mask]
    return labels.astype(np.uint8), instances.astype(np.uint16), _to_uint8(image)


def _save(array: np.ndarray, path: str) -> None:
    if array.dtype == np.uint16:
        Image.fromarray(array).save(path)
    else:
        Image.fromarray(array).save(path)


def synthesize(settings: SynthSettings, out_dir: str) -> dict:
    """Write the dataset of ``settings`` under ``out_dir``; return the ``dataset.json`` description.

    Raises:
        ValueError: When ``out_dir`` exists and is not empty (nothing is overwritten).
    """
    if os.path.exists(out_dir) and (not os.path.isdir(out_dir) or os.listdir(out_dir)):
        raise ValueError(f"output directory {out_dir} exists and is not empty; choose a new one")
    size, seed = settings.size, settings.seed
    splits = {"train": settings.num_train, "test": settings.num_test}
    layout = {}
    if settings.task == "edges2shapes":
        for split, count in splits.items():
            folder = os.path.join(out_dir, split)
            os.makedirs(folder)
            for i in range(count):
                a, b = render_edges2shapes(_rng(seed, split, i), size)
                _save(np.concatenate([a, b], axis=1), os.path.join(folder, f"{i:05d}.png"))
        layout = {"train": "train/", "test": "test/", "format": "aligned AB, A = edges (left), B = shapes (right)"}
    elif settings.task == "shapes2zebra":
        for split, count in splits.items():
            for domain in "AB":
                os.makedirs(os.path.join(out_dir, split + domain))
            if split == "test":
                os.makedirs(os.path.join(out_dir, "testA2B"))
            for i in range(count):
                name = f"{i:05d}.png"
                plain, truth = _zebra_scene(_rng(seed, split + "A", i), size)
                _save(plain, os.path.join(out_dir, split + "A", name))
                if split == "test":
                    _save(truth, os.path.join(out_dir, "testA2B", name))
                _save(_zebra_scene(_rng(seed, split + "B", i), size)[1], os.path.join(out_dir, split + "B", name))
        layout = {"domains": {"A": "plain shapes", "B": "striped shapes"}, "truth": "testA2B/ = true B of testA/"}
    else:
        for split, count in splits.items():
            for kind in ("label", "inst", "img"):
                os.makedirs(os.path.join(out_dir, f"{split}_{kind}"))
            for i in range(count):
                labels, instances, image = render_labels2scenes(_rng(seed, split, i), size, settings.label_nc)
                name = f"{i:05d}.png"
                _save(labels, os.path.join(out_dir, f"{split}_label", name))
                _save(instances, os.path.join(out_dir, f"{split}_inst", name))
                _save(image, os.path.join(out_dir, f"{split}_img", name))
        layout = {"label": "{split}_label/", "instance": "{split}_inst/", "image": "{split}_img/"}
    description = {"task": settings.task, "version": VERSION, **asdict(settings), "layout": layout}
    if settings.task != "labels2scenes":
        description.pop("label_nc")
    with open(os.path.join(out_dir, "dataset.json"), "w") as f:
        json.dump(description, f, indent=2, sort_keys=True)
        f.write("\n")
    return description


def read_description(data_dir: str) -> dict | None:
    """The ``dataset.json`` of ``data_dir`` or ``None`` when it has none."""
    path = os.path.join(data_dir, "dataset.json")
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable dataset description: {err}") from err
