from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tfgancomp.backend import tf
from tfgancomp.data import (
    DataError,
    ReaderSettings,
    instance_edges,
    read_aligned,
    read_labeled,
    read_paired_folders,
    read_unaligned,
)

EVAL = ReaderSettings(size=16, batch_size=1, flip=False, shuffle=False)


def _rgb(seed: int, h: int = 16, w: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _ab_folder(path, n: int = 3, width: int = 32):
    path.mkdir()
    for i in range(n):
        Image.fromarray(_rgb(i, 16, width)).save(path / f"{i}.png")
    return path


def test_grayscale_palette_and_rgba_are_converted_to_rgb_and_counted(tmp_path):
    folder = _ab_folder(tmp_path / "ab", n=1)
    base = Image.fromarray(_rgb(9, 16, 32))
    converted = {
        "g.png": base.convert("L"),
        "la.png": base.convert("LA"),
        "p.png": base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16),
        "rgba.png": base.convert("RGBA"),
    }
    for name, img in converted.items():
        img.save(folder / name)
    reader = read_aligned(str(folder), EVAL, training=False)
    assert reader.summary.converted == {"grayscale": 2, "palette": 1, "RGBA": 1}
    assert "converted to RGB" in str(reader.summary)
    for (a, b), path in zip(reader.dataset, reader.files, strict=True):
        expected = np.asarray(Image.open(path).convert("RGB"), np.float32) / 127.5 - 1.0
        np.testing.assert_allclose(np.concatenate([a[0], b[0]], axis=1), expected, atol=1e-6)


def _corrupt(folder):
    (folder / "junk.png").write_bytes(b"this is not an image at all")
    Image.fromarray(_rgb(5, 16, 32)).save(folder / "trunc.png")
    data = (folder / "trunc.png").read_bytes()
    (folder / "trunc.png").write_bytes(data[: len(data) // 2])
    Image.fromarray(_rgb(6, 16, 31)).save(folder / "odd.png")


@pytest.mark.parametrize(
    "name,fragment",
    [("junk.png", "not a decodable image"), ("trunc.png", "truncated"), ("odd.png", "width 31 is odd")],
)
def test_each_bad_aligned_file_is_named_with_its_problem(tmp_path, name, fragment):
    folder = _ab_folder(tmp_path / "ab")
    _corrupt(folder)
    for other in {"junk.png", "trunc.png", "odd.png"} - {name}:
        (folder / other).unlink()
    with pytest.raises(DataError, match=fragment) as err:
        read_aligned(str(folder), EVAL)
    assert name in str(err.value)


def test_skip_mode_skips_counts_and_reports_bad_files(tmp_path):
    folder = _ab_folder(tmp_path / "ab")
    _corrupt(folder)
    reader = read_aligned(str(folder), ReaderSettings(size=16, on_error="skip"), training=False)
    assert reader.summary.found == 6 and reader.summary.used == 3 and len(reader.summary.skipped) == 3
    assert {p.split("/")[-1] for p, _ in reader.summary.skipped} == {"junk.png", "trunc.png", "odd.png"}
    assert "3 skipped" in str(reader.summary)
    assert sum(1 for _ in reader.dataset) == 3


def test_all_files_bad_is_an_error_even_when_skipping(tmp_path):
    folder = tmp_path / "ab"
    folder.mkdir()
    _corrupt(folder)
    with pytest.raises(DataError, match="all 3 files were skipped"):
        read_aligned(str(folder), ReaderSettings(size=16, on_error="skip"))


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match="empty folder"):
        read_aligned(str(tmp_path / "empty"), EVAL)
    with pytest.raises(DataError, match="no such folder"):
        read_aligned(str(tmp_path / "nowhere"), EVAL)
    (tmp_path / "trainA").mkdir()
    Image.fromarray(_rgb(0)).save(tmp_path / "trainA" / "0.png")
    (tmp_path / "trainB").mkdir()
    with pytest.raises(DataError, match="trainB: empty folder"):
        read_unaligned(str(tmp_path), EVAL)


def test_fewer_examples_than_a_batch(tmp_path):
    folder = _ab_folder(tmp_path / "ab", n=2)
    with pytest.raises(DataError, match="fewer than one batch of 4"):
        read_aligned(str(folder), ReaderSettings(size=16, batch_size=4))


def test_crop_and_flip_are_applied_jointly_to_a_and_b(tmp_path):
    folder = tmp_path / "ab"
    folder.mkdir()
    for i in range(4):
        half = _rgb(i)
        Image.fromarray(np.concatenate([half, half], axis=1)).save(folder / f"{i}.png")
    reader = read_aligned(str(folder), ReaderSettings(size=12, load_size=16, batch_size=2, seed=1))
    for _ in range(3):
        for a, b in reader.dataset:
            assert a.shape == (2, 12, 12, 3)
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_direction_b_to_a_swaps_the_halves(tmp_path):
    folder = _ab_folder(tmp_path / "ab", n=1)
    ab = read_aligned(str(folder), EVAL, training=False)
    ba = read_aligned(str(folder), ReaderSettings(size=16, flip=False, shuffle=False, direction="BtoA"), False)
    (a1, b1), (a2, b2) = next(iter(ab.dataset)), next(iter(ba.dataset))
    np.testing.assert_array_equal(a1.numpy(), b2.numpy())
    np.testing.assert_array_equal(b1.numpy(), a2.numpy())


def test_unaligned_epoch_is_the_larger_domain(tmp_path):
    for d, n in (("trainA", 3), ("trainB", 5)):
        (tmp_path / d).mkdir()
        for i in range(n):
            Image.fromarray(_rgb(10 * n + i)).save(tmp_path / d / f"{i}.jpg")
    reader = read_unaligned(str(tmp_path), ReaderSettings(size=16, seed=0))
    assert len(reader) == 5 and sum(1 for _ in reader.dataset) == 5


def test_paired_folders_size_mismatch_and_missing_partner(tmp_path):
    a, b = tmp_path / "testA", tmp_path / "testA2B"
    a.mkdir()
    b.mkdir()
    Image.fromarray(_rgb(0)).save(a / "x.png")
    Image.fromarray(_rgb(1, 16, 20)).save(b / "x.png")
    with pytest.raises(DataError, match="size mismatch") as err:
        read_paired_folders(str(a), str(b), EVAL)
    assert "x.png" in str(err.value) and "16x20" in str(err.value)
    Image.fromarray(_rgb(2)).save(a / "y.png")
    (b / "x.png").unlink()
    with pytest.raises(DataError, match="no file of the same name"):
        read_paired_folders(str(a), str(b), EVAL)


def _labeled(tmp_path, label_value: int = 2, image_size=(16, 16), palette: bool = False):
    for d in ("label", "img", "inst"):
        (tmp_path / d).mkdir(exist_ok=True)
    labels = np.zeros((16, 16), np.uint8)
    labels[4:12, 4:12] = label_value
    label_img = Image.fromarray(labels)
    if palette:
        label_img = label_img.convert("P")
        label_img.putpalette([v for i in range(256) for v in ((i * 40) % 256, 0, 255 - i)])
    label_img.save(tmp_path / "label" / "a.png")
    Image.fromarray(_rgb(3, *image_size)).save(tmp_path / "img" / "a.jpg")
    Image.fromarray(labels.astype(np.uint16) * 1000 + 1).save(tmp_path / "inst" / "a.png")


def test_label_value_out_of_range_is_named(tmp_path):
    _labeled(tmp_path, label_value=7)
    with pytest.raises(DataError, match="label value 7 >= label count 5") as err:
        read_labeled(str(tmp_path / "label"), str(tmp_path / "img"), EVAL, 5)
    assert "a.png" in str(err.value)


def test_label_image_size_mismatch_is_named(tmp_path):
    _labeled(tmp_path, image_size=(16, 24))
    with pytest.raises(DataError, match="size mismatch"):
        read_labeled(str(tmp_path / "label"), str(tmp_path / "img"), EVAL, 5, str(tmp_path / "inst"))


def test_missing_image_for_a_label_map(tmp_path):
    _labeled(tmp_path)
    (tmp_path / "img" / "a.jpg").unlink()
    Image.fromarray(_rgb(1)).save(tmp_path / "img" / "b.png")
    with pytest.raises(DataError, match="no image named a"):
        read_labeled(str(tmp_path / "label"), str(tmp_path / "img"), EVAL, 5)


def test_palette_label_maps_keep_their_class_ids_and_instances_give_edges(tmp_path):
    _labeled(tmp_path, label_value=3, palette=True)
    reader = read_labeled(str(tmp_path / "label"), str(tmp_path / "img"), EVAL, 5, str(tmp_path / "inst"), False)
    seg, image = next(iter(reader.dataset))
    assert seg.shape == (1, 16, 16, 6) and image.shape == (1, 16, 16, 3)
    classes = np.argmax(seg[0, ..., :5], -1)
    assert classes[8, 8] == 3 and classes[0, 0] == 0
    edges = seg[0, ..., 5].numpy()
    assert edges[4, 8] == 1 and edges[3, 8] == 1 and edges[8, 8] == 0 and edges[0, 0] == 0


def test_instance_edges_marks_both_sides_of_a_boundary():
    inst = tf.constant([[1, 1, 2], [1, 1, 2], [3, 3, 3]], tf.float32)[..., None]
    edges = instance_edges(inst)[..., 0].numpy()
    np.testing.assert_array_equal(edges, [[0, 1, 1], [1, 1, 1], [1, 1, 1]])


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"size": 0}, "size"),
        ({"size": 32, "load_size": 16}, "smaller than size"),
        ({"on_error": "ignore"}, "on_error"),
        ({"direction": "AB"}, "direction"),
    ],
)
def test_bad_reader_settings(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        ReaderSettings(**kwargs)
