from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from PIL import Image

from tfgancomp.cli import main
from tfgancomp.data import ReaderSettings, open_split, read_paired_folders, synthesize
from tfgancomp.data.synth import TASKS, SynthSettings, render_edges2shapes


def _digests(root: str) -> dict:
    out = {}
    for folder, _, files in os.walk(root):
        for f in files:
            path = os.path.join(folder, f)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_gives_byte_identical_files(tmp_path, task):
    settings = SynthSettings(task, num_train=4, num_test=2, size=32, seed=7)
    synthesize(settings, str(tmp_path / "a"))
    synthesize(settings, str(tmp_path / "b"))
    a, b = _digests(str(tmp_path / "a")), _digests(str(tmp_path / "b"))
    assert a == b and len(a) > 4
    synthesize(SynthSettings(task, num_train=4, num_test=2, size=32, seed=8), str(tmp_path / "c"))
    c = _digests(str(tmp_path / "c"))
    assert sum(a[k] != c[k] for k in a if k != "dataset.json") >= 4


def test_an_image_does_not_depend_on_how_many_were_asked_for(tmp_path):
    synthesize(SynthSettings("edges2shapes", num_train=2, num_test=1, size=32), str(tmp_path / "few"))
    synthesize(SynthSettings("edges2shapes", num_train=5, num_test=3, size=32), str(tmp_path / "many"))
    few, many = _digests(str(tmp_path / "few")), _digests(str(tmp_path / "many"))
    assert all(few[k] == many[k] for k in few if k != "dataset.json")


def test_edges2shapes_a_is_the_edge_map_of_b():
    a, b = render_edges2shapes(np.random.default_rng(3), 64)
    assert a.shape == b.shape == (64, 64, 3)
    assert set(np.unique(a)) <= {0, 255}
    edge = a[..., 0] == 0
    # an edge is where B changes colour: flat background far from edges, and every shape outline is an edge
    background = np.all(b == b[0, 0], axis=-1)
    change = np.zeros_like(edge)
    change[:, :-1] |= background[:, :-1] != background[:, 1:]
    change[:-1, :] |= background[:-1, :] != background[1:, :]
    assert edge[change].all() and 0 < edge.mean() < 0.2


def test_target_is_a_function_of_the_input(tmp_path):
    """shapes2zebra: a test A image and its stored truth differ by the dark bands on its shapes alone."""
    synthesize(SynthSettings("shapes2zebra", num_train=2, num_test=3, size=48, seed=1), str(tmp_path))
    for name in os.listdir(tmp_path / "testA"):
        plain = np.asarray(Image.open(tmp_path / "testA" / name)).astype(np.int32)
        truth = np.asarray(Image.open(tmp_path / "testA2B" / name)).astype(np.int32)
        banded = np.any(plain != truth, axis=-1)
        # same lighting and noise: the pixels that change are the dark bands, darker in every channel
        assert banded.any() and banded.mean() < 0.5  # bands exist; they never cover most of the frame
        assert (truth[banded] < plain[banded]).all() and truth[banded].max() < 80
        assert plain[banded].max(axis=-1).min() > 120  # on saturated shapes, never on the background
        background = plain[~banded].reshape(-1, 3)  # the background: lit and noisy, not flat
        assert background.std(axis=0).min() > 3


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"task": "edges2cats"}, "edges2cats"),
        ({"task": "edges2shapes", "size": 8}, "at least 16"),
        ({"task": "edges2shapes", "num_train": 0}, "num_train"),
        ({"task": "labels2scenes", "label_nc": 2}, "label_nc"),
    ],
)
def test_bad_settings_are_named(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        SynthSettings(**kwargs)


def test_refuses_to_write_into_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        synthesize(SynthSettings("edges2shapes", num_train=1, num_test=1, size=16), str(tmp_path))
    assert (tmp_path / "keep.txt").read_text() == "mine"


def _png(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 127.5 - 1.0


def test_readers_round_trip_every_synthetic_layout(tmp_path):
    plain = ReaderSettings(size=32, batch_size=2, flip=False, shuffle=False)
    synthesize(SynthSettings("edges2shapes", num_train=4, num_test=2, size=32), str(tmp_path / "e"))
    reader = open_split("pix2pix", str(tmp_path / "e"), plain, "test", training=False)
    a, b = next(iter(reader.dataset))
    ab = _png(reader.files[0])
    np.testing.assert_allclose(a[0], ab[:, :32], atol=1e-6)
    np.testing.assert_allclose(b[0], ab[:, 32:], atol=1e-6)

    synthesize(SynthSettings("shapes2zebra", num_train=4, num_test=2, size=32), str(tmp_path / "z"))
    reader = read_paired_folders(str(tmp_path / "z" / "testA"), str(tmp_path / "z" / "testA2B"), plain)
    a, b = next(iter(reader.dataset))
    np.testing.assert_allclose(a[1], _png(reader.files[1][0]), atol=1e-6)
    np.testing.assert_allclose(b[1], _png(reader.files[1][1]), atol=1e-6)
    train = open_split("cyclegan", str(tmp_path / "z"), ReaderSettings(size=32, batch_size=2, seed=0))
    assert len(train) == 2 and train.summary.found == 8

    synthesize(SynthSettings("labels2scenes", num_train=4, num_test=2, size=32, label_nc=5), str(tmp_path / "l"))
    reader = open_split("gaugan", str(tmp_path / "l"), plain, "test", False, label_nc=5, instance=True)
    seg, image = next(iter(reader.dataset))
    label_path, image_path, _ = reader.files[0]
    labels = np.asarray(Image.open(label_path))
    np.testing.assert_array_equal(np.argmax(seg[0, ..., :5], -1), labels)
    np.testing.assert_allclose(image[0], _png(image_path), atol=1e-6)
    assert seg.shape == (2, 32, 32, 6) and float(seg[..., 5].numpy().max()) == 1.0


def test_cli_data_synth(tmp_path, capsys):
    out = tmp_path / "d"
    argv = ["data", "synth", "--task", "labels2scenes", "--out", str(out), "--num-train", "3", "--num-test", "2"]
    assert main(argv + ["--size", "32", "--seed", "5", "--label-nc", "6"]) == 0
    assert "labels2scenes" in capsys.readouterr().out
    description = json.loads((out / "dataset.json").read_text())
    assert description["label_nc"] == 6 and description["seed"] == 5
    assert len(os.listdir(out / "train_inst")) == 3 and Image.open(out / "train_inst" / "00000.png").mode == "I;16"
    assert main(argv + ["--size", "32"]) == 2  # not empty any more
    assert "not empty" in capsys.readouterr().err
