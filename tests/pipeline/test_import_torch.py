"""``tfgancomp import-torch``: a checkpoint becomes a teacher run dir that compress accepts; bad files write nothing."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.interop import torch_reference as R  # noqa: E402
from tests.numerics import float32_budget  # noqa: E402
from tfgancomp.cli import main  # noqa: E402
from tfgancomp.data import SynthSettings, synthesize  # noqa: E402
from tfgancomp.pipeline import load_generator  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("import")
    data = str(root / "e2s")
    synthesize(SynthSettings("edges2shapes", num_train=8, num_test=4, size=32, seed=3), data)
    unet = R.randomize(R.UnetGenerator(3, 3, 5, 8, "batch"), seed=2)
    resnet = R.randomize(R.ResnetGenerator(3, 3, 4, n_blocks=6), seed=3)
    paths = {"data": data, "unet": str(root / "latest_net_G.pth"), "resnet": str(root / "resnet.pth")}
    torch.save(unet.state_dict(), paths["unet"])
    torch.save(resnet.state_dict(), paths["resnet"])
    return root, paths, {"unet": unet, "resnet": resnet}


def test_import_writes_a_teacher_run_dir_that_compress_takes_to_a_benchmarked_tflite(files, tmp_path, capsys):
    root, paths, modules = files
    teacher = str(tmp_path / "teacher")
    argv = ["import-torch", "--checkpoint", paths["unet"], "--size", "32", "--data", paths["data"], "--out", teacher]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "unet(input_nc=3, output_nc=3, num_downs=5, ngf=8, norm='batch')" in printed and "held-out PSNR" in printed
    settings = json.load(open(os.path.join(teacher, "settings.json")))
    assert settings["stage"] == "import" and settings["task"] == "pix2pix" and settings["arch"] == "unet"
    assert settings["size"] == 32 and len(settings["sha256"]) == 64 and "n_blocks" not in settings
    metrics = json.load(open(os.path.join(teacher, "metrics.json")))
    assert 0 < metrics["imported"]["psnr"] < 100 and metrics["costs"]["at_training_size"]["params"] > 0
    # the saved generator is the PyTorch module: within the float32 budget of its float64 twin (tests/numerics.py)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    with torch.no_grad():
        expected = modules["unet"](torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    float32_budget(load_generator(teacher), x).check(expected, "PyTorch U-Net vs the imported teacher")
    # the same import again is allowed (it replaces the files)
    assert main(argv) == 0
    capsys.readouterr()

    out = str(tmp_path / "compress")
    argv = ["compress", "--data", paths["data"], "--teacher", teacher, "--macs-ratio", "1/4", "--supernet-epochs", "1",
            "--trials", "3", "--population", "2", "--search-images", "2", "--finetune-epochs", "1", "--batch-size",
            "2", "--precisions", "float16", "--qat-epochs", "0", "--benchmark-runs", "3", "--out", out,
            "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    report = json.load(open(os.path.join(out, "report.json")))
    assert report["models"]["float16"]["macs_ratio"] >= 4 and report["models"]["float16"]["speedup"] > 0
    assert os.path.isfile(os.path.join(out, "export", "float16", "model.tflite"))
    plan = json.load(open(os.path.join(out, "plan.json")))
    assert plan["teacher"]["class"] == "UnetGenerator" and plan["space"]["choices"] == [[4, 3, 2]] * 8


def _save(root, name, state):
    path = str(root / name)
    torch.save(state, path)
    return path


def _bad_files(root, module):
    state = module.state_dict()
    wrong = dict(state, **{"model.11.conv_block.1.weight": torch.zeros(16, 12, 3, 3)})
    missing = {k: v for k, v in state.items() if k != "model.12.conv_block.5.bias"}
    extra = dict(state, **{"model.12.conv_block.9.weight": torch.zeros(3)})
    foreign = {"encoder.0.weight": torch.zeros(4, 3, 3, 3)}
    text = root / "notes.pth"
    text.write_text("not a checkpoint\n")
    empty = root / "empty.pth"
    empty.write_bytes(b"")
    truncated = root / "truncated.pth"
    truncated.write_bytes(open(_save(root, "whole_for_truncation.pth", state), "rb").read()[:2000])
    damaged = root / "damaged.safetensors"
    damaged.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    return [
        (_save(root, "wrong.pth", wrong),
         "tensor model.11.conv_block.1.weight has shape (16, 12, 3, 3) in the checkpoint, the architecture expects "
         "(16, 16, 3, 3)"),
        (_save(root, "missing.pth", missing), "missing key model.12.conv_block.5.bias"),
        (_save(root, "extra.pth", extra), "unexpected key model.12.conv_block.9.weight"),
        (_save(root, "foreign.pth", foreign), "foreign.pth: the state dict is not one of a generator"),
        (str(text), "notes.pth is not a PyTorch checkpoint"),
        (str(empty), "empty.pth is empty, not a checkpoint"),
        (str(truncated), "truncated.pth is not a readable PyTorch checkpoint"),
        (str(damaged), "damaged.safetensors is not a readable safetensors file"),
        (_save(root, "module.pth", module),  # the whole nn.Module: a pickle of a class, refused by weights_only
         "module.pth holds Python objects that safe loading (torch.load weights_only=True) refuses: it stores a "
         "tests.interop.torch_reference.ResnetGenerator object"),
        (str(root / "absent.pth"), "checkpoint " + str(root / "absent.pth") + " does not exist"),
    ]  # fmt: skip


def test_each_bad_checkpoint_is_named_with_its_reason_and_nothing_is_written(files, tmp_path, capsys):
    _, _, modules = files
    for path, fragment in _bad_files(tmp_path, modules["resnet"]):
        out = tmp_path / "out"
        assert main(["import-torch", "--checkpoint", path, "--size", "32", "--out", str(out)]) == 2, path
        err = capsys.readouterr().err
        assert fragment in err and err.count("\n") == 1 and "Traceback" not in err, (path, err)
        assert not out.exists(), path


def test_safetensors_spade_with_instance_channel_and_a_folder_of_another_stage(files, tmp_path, capsys):
    from safetensors.torch import save_file

    module = R.randomize(R.SPADEGenerator(5, ngf=2, nhidden=8), seed=4, example=torch.rand(1, 5, 64, 64))
    path = str(tmp_path / "gaugan.safetensors")
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, path)
    out = str(tmp_path / "spade")
    assert main(["import-torch", "--checkpoint", path, "--size", "64", "--instance", "--out", out]) == 0
    settings = json.load(open(os.path.join(out, "settings.json")))
    assert settings["task"] == "gaugan" and settings["label_nc"] == 4 and settings["instance"] is True
    assert settings["arch"] == "spade" and settings["param_free_norm"] == "batch"
    capsys.readouterr()
    # a folder holding another stage's run is refused before anything is read
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "settings.json").write_text('{"stage": "teacher"}')
    assert main(["import-torch", "--checkpoint", path, "--size", "64", "--out", str(tmp_path / "other")]) == 2
    assert "holds a teacher run" in capsys.readouterr().err


def test_without_pytorch_the_error_says_how_to_install_it(files, monkeypatch):
    from tfgancomp.interop import CheckpointError, read_state_dict

    _, paths, _ = files
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    with pytest.raises(
        CheckpointError, match=r"needs PyTorch, which is not installed: pip install 'tfgancomp\[torch\]'"
    ):
        read_state_dict(paths["resnet"])
