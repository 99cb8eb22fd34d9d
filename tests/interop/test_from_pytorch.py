"""Imported PyTorch generators compute what the PyTorch modules compute, in Keras and in TFLite.

Each reference architecture (tests/interop/torch_reference.py: the published module layouts and key names) gets
random weights, batch-norm statistics and spectral-norm vectors, and a last convolution scaled so that tanh is not
saturated. The bound is the suite's float32 budget (tests/numerics.py): the imported Keras model evaluated in
float64 is the reference; PyTorch float32 and the TFLite export — other float32 implementations of the same
function — must stay within FACTOR × Keras float32's own
error (PyTorch float64 too). Planted mapping mistakes (spectral norm not folded, a transposed kernel flipped)
land far outside.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mobile_export import run_batch, to_tflite  # noqa: E402
from tests.interop import torch_reference as R  # noqa: E402
from tests.numerics import float32_budget  # noqa: E402
from tfgancomp.interop import (  # noqa: E402
    CheckpointError,
    from_pytorch,
    infer_architecture,
    layouts,  # noqa: E402
    load_pytorch,
)

#: id -> (PyTorch module factory, (channels, height, width), expected arch, expected inferred kwargs)
CASES = {
    "resnet6": (lambda: R.ResnetGenerator(3, 3, 4, n_blocks=6), (3, 32, 32), "resnet",
                {"ngf": 4, "n_blocks": 6, "norm": "instance", "dropout_rate": 0.0}),
    "resnet6-dropout": (lambda: R.ResnetGenerator(3, 3, 4, use_dropout=True, n_blocks=6), (3, 32, 32), "resnet",
                        {"ngf": 4, "n_blocks": 6, "norm": "instance", "dropout_rate": 0.5}),
    "resnet9": (lambda: R.ResnetGenerator(3, 3, 4, n_blocks=9), (3, 32, 32), "resnet",
                {"ngf": 4, "n_blocks": 9, "norm": "instance", "dropout_rate": 0.0}),
    "resnet9-dropout-batch": (lambda: R.ResnetGenerator(3, 3, 4, "batch", True, 9), (3, 32, 32), "resnet",
                              {"ngf": 4, "n_blocks": 9, "norm": "batch", "dropout_rate": 0.5}),
    "unet128": (lambda: R.UnetGenerator(3, 3, 7, 2, "batch", use_dropout=True), (3, 128, 128), "unet",
                {"num_downs": 7, "ngf": 2, "norm": "batch"}),
    "unet256": (lambda: R.UnetGenerator(3, 3, 8, 2, "instance"), (3, 256, 256), "unet",
                {"num_downs": 8, "ngf": 2, "norm": "instance"}),
    "mobile_resnet": (lambda: R.MobileResnetGenerator(3, 3, 4), (3, 32, 32), "mobile_resnet",
                      {"ngf": 4, "n_blocks": 9, "norm": "instance"}),
    "sub_mobile-a": (lambda: R.SubMobileResnetGenerator([4, 6, 3, 2, 5, 1, 3, 7]), (3, 32, 32), "sub_mobile_resnet",
                     {"config": "4_6_3_2_5_1_3_7", "n_blocks": 9}),
    "sub_mobile-b": (lambda: R.SubMobileResnetGenerator([8, 4, 4, 6, 2, 4, 8, 2]), (3, 32, 32), "sub_mobile_resnet",
                     {"config": "8_4_4_6_2_4_8_2", "n_blocks": 9}),
    "sub_mobile-legacy6": (lambda: R.SubMobileResnetGenerator([6, 6, 6, 8, 5, 4]), (3, 32, 32), "sub_mobile_resnet",
                           {"config": "6_6_6_8_8_8_5_4", "n_blocks": 9}),
    "spade-spectral": (lambda: R.SPADEGenerator(5, ngf=2, nhidden=8), (5, 64, 64), "spade",
                       {"ngf": 2, "nhidden": 8, "label_nc": 5, "param_free_norm": "batch"}),
    "mobile_spade-spectral": (lambda: R.SPADEGenerator(5, ngf=2, mobile=True), (5, 64, 64), "mobile_spade",
                              {"ngf": 2, "label_nc": 5, "param_free_norm": "batch"}),
    "sub_mobile_spade": (lambda: R.SPADEGenerator(5, ngf=4, config=[2, 3, 1, 2, 4, 1, 3, 2]), (5, 64, 64),
                         "sub_mobile_spade", {"config": "2_3_1_2_4_1_3_2", "label_nc": 5}),
}  # fmt: skip


def torch_unsaturate(module, x, peak: float = 2.0) -> None:
    """Scale the last convolution so its pre-tanh output peaks at ``peak`` (tanh at ±1 would hide differences)."""
    last = [m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))][-1]
    seen = {}
    handle = last.register_forward_hook(lambda m, i, o: seen.setdefault("out", o))
    with torch.no_grad():
        module(x)
        handle.remove()
        scale = peak / float(seen["out"].abs().max())
        last.weight.mul_(scale)
        last.bias.mul_(scale)


def nhwc(t) -> np.ndarray:
    return t.detach().numpy().transpose(0, 2, 3, 1)


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    factory, (c, h, w), arch, expected = CASES[request.param]
    torch.manual_seed(0)
    module = factory()
    x = torch.rand(2, c, h, w) * 2 - 1
    if arch.endswith("spade"):  # one-hot-like label maps: SPADE's inputs
        x = torch.nn.functional.one_hot(torch.randint(0, c, (2, h, w)), c).permute(0, 3, 1, 2).float()
    R.randomize(module, seed=1, example=x)
    torch_unsaturate(module, x)
    state = {k: v.clone() for k, v in module.state_dict().items()}
    with torch.no_grad():
        out32 = nhwc(module(x))
        out64 = nhwc(module.double()(x.double()))
    imported = load_pytorch(state, height=h, width=w)
    inputs = nhwc(x)
    params = sum(p.numel() for p in module.parameters())
    return {"id": request.param, "arch": arch, "torch_params": params, "expected": expected, "state": state,
            "inputs": inputs,
            "torch32": out32, "torch64": out64, "imported": imported, "size": (h, w),
            "budget": float32_budget(imported.model, inputs)}  # fmt: skip


def test_auto_identifies_the_architecture_and_its_arguments(case):
    inferred = infer_architecture({k: v.numpy() for k, v in case["state"].items() if "num_batches" not in k})
    assert inferred.arch == case["arch"] == case["imported"].arch
    assert {k: inferred.kwargs[k] for k in case["expected"]} == case["expected"]
    model = case["imported"].model
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == case["torch_params"]


def test_keras_matches_pytorch_in_float64_and_float32(case):
    budget, imported = case["budget"], case["imported"]
    # PyTorch float64 is not compared at float64 precision: TensorFlow's LeakyRelu op holds its slope as a float32
    # attribute even on float64 tensors (0.2f, 1.5e-8 relative), which moved the U-Net's float64 output by 1.7e-10.
    budget.check(case["torch64"], f"{case['id']} PyTorch float64")
    budget.check(case["torch32"], f"{case['id']} PyTorch float32")
    scale = float(np.max(np.abs(budget.reference)))
    budget.check(imported.model(case["inputs"]).numpy(), f"{case['id']} Keras float32")
    assert scale > 0.5 and np.max(np.abs(budget.reference)) < 0.999  # live outputs, tanh not saturated


def test_tflite_export_of_the_import_reproduces_pytorch(case):
    h, w = case["size"]
    content = to_tflite(case["imported"].model, input_size=(h, w))
    output = run_batch(content, case["inputs"])
    case["budget"].check(output, f"{case['id']} TFLite float32")
    torch_to_reference = np.max(np.abs(case["torch64"] - case["budget"].reference))  # float64 rounding
    assert np.max(np.abs(output - case["torch64"])) <= case["budget"].bound + torch_to_reference


def test_spectral_norm_that_is_not_folded_is_caught(monkeypatch):
    """Planted defect: ``weight_orig`` used as it is (σ ignored) lands far outside the bound."""
    factory, (c, h, w), _, _ = CASES["spade-spectral"]
    torch.manual_seed(0)
    module = factory()
    x = torch.nn.functional.one_hot(torch.randint(0, c, (2, h, w)), c).permute(0, 3, 1, 2).float()
    R.randomize(module, seed=1, example=x)
    torch_unsaturate(module, x)
    state = module.state_dict()
    healthy = from_pytorch(state, height=h, width=w)
    budget = float32_budget(healthy, nhwc(x))
    with torch.no_grad():
        budget.check(nhwc(module(x)))

    def unfolded(self, key):
        if key + ".weight_orig" in self.state:
            for s in ("u", "v"):
                self.take(f"{key}.weight_{s}")
            return self.take(key + ".weight_orig"), key + ".weight_orig"
        return self.take(key + ".weight"), key + ".weight"

    monkeypatch.setattr(layouts._Filler, "weight", unfolded)
    broken = from_pytorch(state, height=h, width=w)
    assert budget.error(broken(nhwc(x)).numpy()) > 100 * budget.bound


def test_a_flipped_transposed_kernel_is_caught(monkeypatch):
    """Planted defect: transposed-conv kernels flipped spatially (a convolution-vs-correlation mix-up)."""
    factory, (c, h, w), _, _ = CASES["resnet6"]
    torch.manual_seed(0)
    module = R.randomize(factory())
    x = torch.rand(2, c, h, w) * 2 - 1
    torch_unsaturate(module, x)
    state = module.state_dict()
    budget = float32_budget(from_pytorch(state, height=h, width=w), nhwc(x))
    original = layouts._Filler.conv

    def flipping(self, layer, key):
        original(self, layer, key)
        if type(layer).__name__ == "Conv2DTranspose":
            variable, value = self.pairs[-2]  # (kernel, bias): flip the kernel's H and W
            self.pairs[-2] = (variable, value[::-1, ::-1])

    monkeypatch.setattr(layouts._Filler, "conv", flipping)
    broken = from_pytorch(state, height=h, width=w)
    assert budget.error(broken(nhwc(x)).numpy()) > 100 * budget.bound


def test_dataparallel_prefixes_and_nested_state_dicts_are_accepted():
    module = R.randomize(R.ResnetGenerator(3, 3, 4, n_blocks=6))
    state = module.state_dict()
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    plain = from_pytorch(state, height=32, width=32)(x).numpy()
    wrapped = {"netG": {f"module.{k}": v for k, v in state.items()}, "epoch": 7}
    np.testing.assert_array_equal(from_pytorch(wrapped, height=32, width=32)(x).numpy(), plain)


def test_named_arch_with_wrong_width_names_every_misfit_tensor_with_both_shapes():
    state = R.randomize(R.ResnetGenerator(3, 3, 4, n_blocks=6)).state_dict()
    with pytest.raises(CheckpointError) as err:
        from_pytorch(state, arch="resnet", ngf=8, n_blocks=6)
    text = str(err.value)
    assert "does not fit ResNetGenerator" in text
    assert (
        "tensor model.1.weight has shape (4, 3, 7, 7) in the checkpoint, the architecture expects (8, 3, 7, 7)" in text
    )
    assert "\n" not in text
