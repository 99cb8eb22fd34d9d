"""``tf.data`` readers of the real dataset formats: aligned AB (pix2pix), unaligned A/B (CycleGAN), label maps.

Every reader first *scans* its files with Pillow (a decode of each file, in a thread pool): undecodable or
truncated images, AB files of odd width, label values ≥ the label count, and pairs whose sizes differ are found
before training starts, each reported with the file and the problem. With ``on_error="skip"`` such files are
left out and counted instead. Grayscale, palette and RGBA images are converted to RGB and counted by mode in the
reader's :class:`ReadSummary`.

The pipelines then decode in parallel, resize, random-crop and flip (jointly for paired images), scale images to
[-1, 1], batch and prefetch. Label maps are read as raw indices (so palette label maps keep their class ids) and
turned into one-hot maps, with the instance-edge channel GauGAN uses when instance maps are given.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from tfgancomp.backend import tf
from tfgancomp.validation import check_choice, check_positive_int

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
ON_ERROR = ("raise", "skip")
DIRECTIONS = ("AtoB", "BtoA")
_MODE_KIND = {"L": "grayscale", "LA": "grayscale", "1": "grayscale", "I": "grayscale", "I;16": "grayscale",
              "P": "palette", "PA": "palette", "RGBA": "RGBA"}  # fmt: skip


class DataError(ValueError):
    """A dataset file or folder that cannot be used; the message names the path and the problem."""


@dataclass(frozen=True)
class ReaderSettings:
    """How a reader turns files into training or evaluation batches.

    Args:
        size: Height of the images it yields (and width, times ``aspect_ratio``).
        load_size: Images are resized to this height before a random crop of ``size`` when training
            (``None``: same as ``size``, no crop). Evaluation always resizes straight to ``size``.
        aspect_ratio: Width / height of the yielded images.
        flip: Random horizontal flips when training.
        batch_size: Batch size (the last, smaller batch is dropped when training).
        shuffle: Shuffle when training.
        seed: Seed of the shuffles, crops and flips (``None``: nondeterministic).
        on_error: ``"raise"`` stops at the first bad file; ``"skip"`` leaves bad files out and counts them.
        direction: ``"AtoB"`` or ``"BtoA"`` (which side of an AB file is the input).
    """

    size: int = 256
    load_size: int | None = None
    aspect_ratio: float = 1.0
    flip: bool = True
    batch_size: int = 1
    shuffle: bool = True
    seed: int | None = None
    on_error: str = "raise"
    direction: str = "AtoB"

    def __post_init__(self):
        check_positive_int("size", self.size)
        check_positive_int("batch_size", self.batch_size)
        if self.load_size is not None:
            check_positive_int("load_size", self.load_size)
            if self.load_size < self.size:
                raise ValueError(f"load_size {self.load_size} is smaller than size {self.size}")
        if not self.aspect_ratio > 0:
            raise ValueError(f"aspect_ratio must be positive, got {self.aspect_ratio}")
        check_choice("on_error", self.on_error, ON_ERROR)
        check_choice("direction", self.direction, DIRECTIONS)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the yielded images."""
        return self.size, int(round(self.size * self.aspect_ratio))

    @property
    def load_shape(self) -> tuple[int, int]:
        """(height, width) before the random crop."""
        load = self.load_size or self.size
        return load, int(round(load * self.aspect_ratio))


@dataclass
class ReadSummary:
    """What a reader found: files used, files skipped (with the reason) and images converted to RGB."""

    source: str
    found: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    converted: dict[str, int] = field(default_factory=dict)

    @property
    def used(self) -> int:
        """Files (or pairs) that the pipeline reads."""
        return self.found - len(self.skipped)

    def __str__(self) -> str:
        text = f"{self.source}: {self.found} found, {self.used} used, {len(self.skipped)} skipped"
        if self.converted:
            text += "; converted to RGB: " + ", ".join(f"{n} {k}" for k, n in sorted(self.converted.items()))
        for path, problem in self.skipped[:5]:
            text += f"\n  skipped {path}: {problem}"
        if len(self.skipped) > 5:
            text += f"\n  ... and {len(self.skipped) - 5} more"
        return text


@dataclass
class Reader:
    """A ready pipeline: ``dataset`` yields ``(input, target)`` batches; ``files`` are the files it reads."""

    dataset: tf.data.Dataset
    summary: ReadSummary
    files: list
    steps: int

    def __len__(self) -> int:
        return self.steps


# ----------------------------------------------------------------------------------------------- scanning


def list_images(folder: str) -> list[str]:
    """Sorted image files of ``folder``; a missing or empty folder is a :class:`DataError`."""
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: no such folder")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise DataError(f"{folder}: empty folder, no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def _inspect(path: str, index_map: bool = False):
    """(mode, (height, width), max value or None) of ``path``; raises DataError naming the problem.

    An image is decoded here by the decoder the pipeline will use (Pillow for index maps, ``tf.io.decode_image``
    for images), so that what the scan passes, training decodes; the size is the decoder's. Images above Pillow's
    decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``) are bad files.
    """
    try:
        with Image.open(path) as img:
            mode, (w, h) = img.mode, img.size
            if Image.MAX_IMAGE_PIXELS and w * h > Image.MAX_IMAGE_PIXELS:
                raise DataError(f"{path}: {w}x{h} pixels is above the decompression-bomb limit of "
                                f"{Image.MAX_IMAGE_PIXELS} pixels (PIL.Image.MAX_IMAGE_PIXELS)")  # fmt: skip
            img.load()
            top = int(np.asarray(img).max()) if index_map else None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not a decodable image") from None
    except Image.DecompressionBombError as err:
        raise DataError(f"{path}: above the decompression-bomb limit ({err})") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path}: truncated or corrupt image ({err})") from None
    if not index_map:
        try:
            h, w = (int(n) for n in _decode_uint8(path).shape[:2])
        except tf.errors.OpError as err:
            problem = " ".join(err.message.split())[:200]
            raise DataError(f"{path}: the training decoder (tf.io.decode_image) cannot read it ({problem})") from None
    return mode, (h, w), top


def _scan(items, check, summary: ReadSummary, on_error: str) -> list:
    """Run ``check(item)`` (returns the modes seen) on every item in threads; keep the good ones."""
    summary.found = len(items)
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        results = list(pool.map(lambda item: _try(check, item), items))
    good = []
    for item, (modes, error) in zip(items, results, strict=True):
        if error is not None:
            if on_error == "raise":
                raise error
            path, _, problem = str(error).partition(": ")  # every DataError reads "path: problem"
            summary.skipped.append((path, problem))
            continue
        for mode in modes:
            kind = _MODE_KIND.get(mode, None if mode == "RGB" else mode)
            if kind:
                summary.converted[kind] = summary.converted.get(kind, 0) + 1
        good.append(item)
    if not good:
        raise DataError(f"{summary.source}: all {summary.found} files were skipped as bad\n{summary}")
    return good


def _try(check, item):
    try:
        return check(item), None
    except DataError as err:
        return None, err


# ---------------------------------------------------------------------------------------------- decoding


def _decode_uint8(path):
    """An image file as ``(H, W, 3)`` uint8: the one decoder of the pipeline and of the scan."""
    return tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False, dtype=tf.uint8)


def _decode_rgb(path):
    return tf.cast(_decode_uint8(path), tf.float32) / 127.5 - 1.0


def _read_index_map(path) -> np.ndarray:
    with Image.open(path.decode() if isinstance(path, bytes) else path) as img:
        return np.asarray(img).astype(np.int32)


def _decode_index(path):
    array = tf.numpy_function(_read_index_map, [path], tf.int32, stateful=False)
    return tf.ensure_shape(array, [None, None])[..., None]


def instance_edges(instances):
    """GauGAN's instance-boundary map: 1 where a pixel's instance id differs from a 4-neighbour's."""
    t = instances
    horizontal = tf.cast(t[:, 1:] != t[:, :-1], tf.float32)
    vertical = tf.cast(t[1:, :] != t[:-1, :], tf.float32)
    h = tf.pad(horizontal, [[0, 0], [0, 1], [0, 0]]) + tf.pad(horizontal, [[0, 0], [1, 0], [0, 0]])
    v = tf.pad(vertical, [[0, 1], [0, 0], [0, 0]]) + tf.pad(vertical, [[1, 0], [0, 0], [0, 0]])
    return tf.minimum(h + v, 1.0)


def _augment(stack, settings: ReaderSettings, training: bool, nearest_channels: int = 0):
    """Resize (bilinear; nearest for the first ``nearest_channels``), random crop and flip one stacked image."""
    shape = settings.load_shape if training else settings.shape
    if nearest_channels:
        head = tf.image.resize(stack[..., :nearest_channels], shape, method="nearest")
        tail = tf.image.resize(stack[..., nearest_channels:], shape, method="bilinear", antialias=True)
        stack = tf.concat([head, tail], axis=-1)
    else:
        stack = tf.image.resize(stack, shape, method="bilinear", antialias=True)
    if training:
        if settings.load_shape != settings.shape:
            stack = tf.image.random_crop(stack, [*settings.shape, stack.shape[-1]])
        if settings.flip:
            stack = tf.image.random_flip_left_right(stack)
    return stack


def _finish(ds: tf.data.Dataset, settings: ReaderSettings, training: bool, count: int):
    ds = ds.batch(settings.batch_size, drop_remainder=training)
    steps = count // settings.batch_size if training else -(-count // settings.batch_size)
    if training and steps == 0:
        raise DataError(f"{count} usable examples are fewer than one batch of {settings.batch_size}")
    return ds.prefetch(tf.data.AUTOTUNE), steps


def _pipeline(slices, load, settings: ReaderSettings, training: bool, summary: ReadSummary, files) -> Reader:
    """Shuffle (when training) the file ``slices``, ``load`` them in parallel, batch and prefetch."""
    ds = tf.data.Dataset.from_tensor_slices(slices)
    if training and settings.shuffle:
        ds = ds.shuffle(len(files), seed=settings.seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).with_options(_options(settings, training))
    ds, steps = _finish(ds, settings, training, len(files))
    return Reader(ds, summary, files, steps)


def _options(settings: ReaderSettings, training: bool) -> tf.data.Options:
    """Evaluation and seeded training keep file order; unseeded training lets parallel decoding reorder."""
    options = tf.data.Options()
    options.deterministic = not training or settings.seed is not None
    return options


# ---------------------------------------------------------------------------------------------- aligned


def read_aligned(folder: str, settings: ReaderSettings, training: bool = True) -> Reader:
    """pix2pix "AB" images (A left, B right, one file each) in ``folder``; yields ``(input, target)``.

    Raises:
        DataError: Missing or empty folder; an undecodable or truncated file; an AB file of odd width.
    """
    files = list_images(folder)
    summary = ReadSummary(folder)

    def check(path):
        mode, (_, w), _ = _inspect(path)
        if w % 2:
            raise DataError(f"{path}: AB image width {w} is odd; expected A and B side by side of equal width")
        return [mode]

    files = _scan(files, check, summary, settings.on_error)
    a_first = settings.direction == "AtoB"

    def load(path):
        ab = _decode_rgb(path)
        half = tf.shape(ab)[1] // 2
        a, b = ab[:, :half], ab[:, half:]
        stack = _augment(tf.concat([a, b] if a_first else [b, a], axis=-1), settings, training)
        return stack[..., :3], stack[..., 3:]

    return _pipeline(files, load, settings, training, summary, files)


# -------------------------------------------------------------------------------------------- unaligned


def _load_single(settings: ReaderSettings, training: bool):
    def load(path):
        return _augment(_decode_rgb(path), settings, training)

    return load


def read_unaligned(root: str, settings: ReaderSettings, split: str = "train", training: bool = True) -> Reader:
    """CycleGAN's ``{split}A/`` and ``{split}B/`` under ``root``; yields unpaired ``(a, b)`` batches.

    An epoch is ``max(len(A), len(B))`` pairs: A images in (shuffled) order, each with a random B image.

    Raises:
        DataError: A missing or empty folder, or an undecodable or truncated file.
    """
    domains = {}
    summary = ReadSummary(os.path.join(root, f"{split}{{A,B}}"))
    for d in "AB":
        part = ReadSummary(os.path.join(root, split + d))
        files = _scan(list_images(part.source), lambda p: [_inspect(p)[0]], part, settings.on_error)
        domains[d] = files
        summary.found += part.found
        summary.skipped += part.skipped
        for k, n in part.converted.items():
            summary.converted[k] = summary.converted.get(k, 0) + n
    a_files, b_files = domains["A"], domains["B"]
    if settings.direction == "BtoA":
        a_files, b_files = b_files, a_files
    count = max(len(a_files), len(b_files))
    load = _load_single(settings, training)
    seed = settings.seed
    ds_a = tf.data.Dataset.from_tensor_slices(a_files)
    ds_b = tf.data.Dataset.from_tensor_slices(b_files)
    if training and settings.shuffle:
        ds_a = ds_a.shuffle(len(a_files), seed=seed, reshuffle_each_iteration=True)
        ds_b = ds_b.shuffle(len(b_files), seed=None if seed is None else seed + 1, reshuffle_each_iteration=True)
    ds = tf.data.Dataset.zip((ds_a.repeat(), ds_b.repeat())).take(count)
    ds = ds.map(lambda a, b: (load(a), load(b)), num_parallel_calls=tf.data.AUTOTUNE)
    ds, steps = _finish(ds.with_options(_options(settings, training)), settings, training, count)
    return Reader(ds, summary, list(zip(a_files, b_files, strict=False)), steps)


def _check_same_size(paths: list[str], sizes: list[tuple[int, int]]) -> None:
    if len(set(sizes)) > 1:
        described = ", ".join(f"{p} is {h}x{w}" for p, (h, w) in zip(paths, sizes, strict=True))
        raise DataError(f"{paths[0]}: size mismatch between paired files ({described}, height x width)")


def read_paired_folders(
    input_folder: str, target_folder: str, settings: ReaderSettings, training: bool = False
) -> Reader:
    """Images of ``input_folder`` with the same-named images of ``target_folder``, e.g. ``testA/`` + ``testA2B/``.

    Raises:
        DataError: A missing partner, a size mismatch, or an undecodable or truncated file.
    """
    inputs = list_images(input_folder)
    summary = ReadSummary(f"{input_folder} + {target_folder}")

    def check(path):
        partner = os.path.join(target_folder, os.path.basename(path))
        if not os.path.exists(partner):
            raise DataError(f"{path}: no file of the same name in {target_folder}")
        (ma, sa, _), (mb, sb, _) = _inspect(path), _inspect(partner)
        _check_same_size([path, partner], [sa, sb])
        return [ma, mb]

    inputs = _scan(inputs, check, summary, settings.on_error)
    pairs = [(p, os.path.join(target_folder, os.path.basename(p))) for p in inputs]

    def load(a, b):
        stack = _augment(tf.concat([_decode_rgb(a), _decode_rgb(b)], axis=-1), settings, training)
        return stack[..., :3], stack[..., 3:]

    return _pipeline(([a for a, _ in pairs], [b for _, b in pairs]), load, settings, training, summary, pairs)


# ---------------------------------------------------------------------------------------------- labeled


def read_labeled(
    label_folder: str,
    image_folder: str,
    settings: ReaderSettings,
    label_nc: int,
    instance_folder: str | None = None,
    training: bool = True,
) -> Reader:
    """Label maps (+ instance maps) with their images (GauGAN / Cityscapes-like), matched by file stem.

    Yields ``(segmentation, image)``: the one-hot labels (``label_nc`` channels, plus one instance-edge
    channel when ``instance_folder`` is given) and the image in [-1, 1].

    Raises:
        DataError: A missing or empty folder, a label map without its image (or instance map), a label value
            ``>= label_nc``, sizes that differ between the files of one example, an undecodable or truncated file.
    """
    check_positive_int("label_nc", label_nc)
    labels = list_images(label_folder)
    images = {os.path.splitext(os.path.basename(p))[0]: p for p in list_images(image_folder)}
    instances = None
    if instance_folder is not None:
        instances = {os.path.splitext(os.path.basename(p))[0]: p for p in list_images(instance_folder)}
    summary = ReadSummary(label_folder)

    def partners(path):
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem not in images:
            raise DataError(f"{path}: no image named {stem}.* in {image_folder}")
        found = [path, images[stem]]
        if instances is not None:
            if stem not in instances:
                raise DataError(f"{path}: no instance map named {stem}.* in {instance_folder}")
            found.append(instances[stem])
        return found

    def check(path):
        files = partners(path)
        _, label_size, top = _inspect(path, index_map=True)
        if top >= label_nc:
            raise DataError(f"{path}: label value {top} >= label count {label_nc} (expected 0..{label_nc - 1})")
        mode, image_size, _ = _inspect(files[1])
        sizes = [label_size, image_size]
        if instances is not None:
            sizes.append(_inspect(files[2])[1])
        _check_same_size(files, sizes)
        return [mode]

    labels = _scan(labels, check, summary, settings.on_error)
    examples = [partners(p) for p in labels]
    columns = tuple(list(c) for c in zip(*examples, strict=True))

    def load(*paths):
        label = tf.cast(_decode_index(paths[0]), tf.float32)
        image = _decode_rgb(paths[1])
        parts = [label]
        if instances is not None:
            parts.append(tf.cast(_decode_index(paths[2]), tf.float32))
        nearest = len(parts)
        stack = _augment(tf.concat([*parts, image], axis=-1), settings, training, nearest_channels=nearest)
        seg = tf.one_hot(tf.cast(stack[..., 0], tf.int32), label_nc)
        if instances is not None:
            seg = tf.concat([seg, instance_edges(stack[..., 1:2])], axis=-1)
        return seg, stack[..., nearest:]

    return _pipeline(columns, load, settings, training, summary, examples)
