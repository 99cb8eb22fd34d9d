"""The state-dict layouts of the reference PyTorch generators: recognise one, and fill our Keras twin from it.

Key names follow the published code: pytorch-CycleGAN-and-pix2pix's ``ResnetGenerator`` (``model.N`` of one
``nn.Sequential``, ``model.N.conv_block.M`` inside residual blocks) and ``UnetGenerator`` (``model.model.`` nested
once per level), GAN Compression's mobile / sub-mobile ResNets (``conv_block.M.conv.0`` depthwise, ``.conv.2``
pointwise) and GauGAN's ``SPADEGenerator`` (``fc``, ``head_0`` ... ``up_3``, ``norm_0.mlp_shared.0`` ...), with or
without spectral norm (``weight_orig`` / ``weight_u`` / ``weight_v``). Tensor layouts: convolutions ``OIHW`` become
``HWIO``, transposed convolutions ``IOHW`` become Keras' ``HWOI``, depthwise ``C1HW`` becomes ``HWC1``.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from tfgancomp.backend import keras
from tfgancomp.interop.checkpoint import CheckpointError
from tfgancomp.layers import SPADE, InstanceNorm, MobileSPADE, SeparableConv
from tfgancomp.models.config import format_config
from tfgancomp.models.resnet import _block_groups
from tfgancomp.models.spade import SPADE_BLOCKS

#: The architectures a PyTorch checkpoint can be imported as.
IMPORTABLE = ("resnet", "mobile_resnet", "sub_mobile_resnet", "unet", "spade", "mobile_spade", "sub_mobile_spade")
#: Index of the first residual block in the reference ResNets' ``model`` Sequential.
FIRST_BLOCK = 10


@dataclasses.dataclass(frozen=True)
class Inferred:
    """What a state dict says about its generator.

    Attributes:
        arch: Architecture name (a key of :data:`tfgancomp.models.ARCHITECTURES`).
        kwargs: Constructor arguments read from the key names and shapes.
        assumed: Arguments a state dict does not record (no weights depend on them), with the value taken.
    """

    arch: str
    kwargs: dict
    assumed: dict = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        text = f"{self.arch}({args})"
        if self.assumed:
            text += "; not recorded in a state dict, assumed: " + ", ".join(
                f"{k}={v!r}" for k, v in self.assumed.items()
            )
        return text


# ------------------------------------------------------------------------------------------------- inference


def _shape(state: dict, key: str) -> tuple[int, ...]:
    for k in (key + ".weight", key + ".weight_orig"):
        if k in state:
            return tuple(state[k].shape)
    raise CheckpointError(f"the state dict has no {key}.weight (nor {key}.weight_orig) that its other keys imply")


def infer_architecture(state: dict) -> Inferred:
    """The architecture and constructor arguments of a reference generator's state dict.

    Raises:
        CheckpointError: when the keys are not those of a generator this package can import, or widths that no
            architecture of the zoo builds.
    """
    if "fc.weight" in state or "fc.weight_orig" in state:
        return _infer_spade(state)
    if "model.model.0.weight" in state:
        return _infer_unet(state)
    if "model.1.weight" in state:
        return _infer_resnet(state)
    first = ", ".join(list(state)[:4])
    raise CheckpointError(
        "the state dict is not one of a generator tfgancomp imports (pytorch-CycleGAN-and-pix2pix's ResnetGenerator "
        "model.1.weight or UnetGenerator model.model.0.weight, GAN Compression's mobile / sub-mobile generators, "
        f"GauGAN's SPADEGenerator fc.weight); its first keys: {first}"
    )


def _divide(value: int, by: int, what: str) -> int:
    if value % by:
        raise CheckpointError(f"{what} has {value} channels, not a multiple of {by}: not a sub-mobile configuration")
    return value // by


def _infer_resnet(state: dict) -> Inferred:
    blocks = sorted({int(m.group(1)) for k in state if (m := re.match(r"model\.(\d+)\.conv_block\.", k))})
    nb = len(blocks)
    if not nb or blocks != list(range(FIRST_BLOCK, FIRST_BLOCK + nb)):
        raise CheckpointError(f"residual blocks at model.{blocks} are not model.10, model.11, ...: not a ResNet "
                              "generator of the reference layout")  # fmt: skip
    ngf, input_nc = _shape(state, "model.1")[:2]
    up = FIRST_BLOCK + nb
    up1, up2 = _shape(state, f"model.{up}")[1], _shape(state, f"model.{up + 3}")[1]
    output_nc = _shape(state, f"model.{up + 7}")[0]
    norm = "batch" if "model.2.running_mean" in state else "instance"
    common = {"input_nc": input_nc, "output_nc": output_nc, "n_blocks": nb}
    if f"model.{FIRST_BLOCK}.conv_block.1.conv.0.weight" not in state:
        dropout = f"model.{FIRST_BLOCK}.conv_block.6.weight" in state  # nn.Dropout shifts the second conv by one
        return Inferred("resnet", {**common, "ngf": ngf, "norm": norm, "dropout_rate": 0.5 if dropout else 0.0})
    down1, down2 = _shape(state, "model.4")[0], _shape(state, "model.7")[0]
    inner = [_shape(state, f"model.{b}.conv_block.1.conv.2")[0] for b in blocks]
    assumed = {"dropout_rate": 0.0}  # nn.Dropout has no weights: its rate is not recorded (inference ignores it)
    if (down1, down2, up1, up2, *inner) == (2 * ngf, 4 * ngf, 2 * ngf, ngf, *[4 * ngf] * nb):
        return Inferred("mobile_resnet", {**common, "ngf": ngf, "norm": norm}, assumed)
    n1, n2, _ = _block_groups(nb)
    firsts = [0, n1, n1 + n2]
    groups = [inner[:n1], inner[n1 : n1 + n2], inner[n1 + n2 :]]
    if any(len(set(g)) > 1 for g in groups):
        raise CheckpointError(f"residual inner widths {inner} differ inside a group of {n1}/{n2}/{nb - n1 - n2} "
                              "blocks: not a sub-mobile configuration")  # fmt: skip
    config = [ngf, _divide(down1, 2, "model.4"), _divide(down2, 4, "model.7")]
    config += [_divide(inner[f], 4, f"model.{FIRST_BLOCK + f}.conv_block.1.conv.2") for f in firsts]
    config += [_divide(up1, 2, f"model.{up}"), up2]
    return Inferred("sub_mobile_resnet", {**common, "config": format_config(config)}, assumed)


def unet_prefixes(num_downs: int) -> list[str]:
    """The key prefix of each U-Net level's ``nn.Sequential``, outermost first.

    ``model.model.``, then ``model.model.1.model.``, then one ``3.model.`` more per level.
    """
    prefixes = ["model.model."]
    for level in range(2, num_downs + 1):
        prefixes.append(prefixes[-1] + ("1.model." if level == 2 else "3.model."))
    return prefixes


def _infer_unet(state: dict) -> Inferred:
    levels = 1
    while any(k.startswith(unet_prefixes(levels + 1)[-1]) for k in state):
        levels += 1
    if levels < 5:
        raise CheckpointError(f"the U-Net state dict nests {levels} levels; the reference UnetGenerator has >= 5")
    p = unet_prefixes(levels)
    ngf, input_nc = _shape(state, p[0] + "0")[:2]
    output_nc = _shape(state, p[0] + "3")[1]
    norm = "batch" if p[1] + "2.running_mean" in state else "instance"
    kwargs = {"input_nc": input_nc, "output_nc": output_nc, "num_downs": levels, "ngf": ngf, "norm": norm}
    return Inferred("unet", kwargs, {"dropout_rate": 0.0})


def _infer_spade(state: dict) -> Inferred:
    if any(k.startswith("up_4.") for k in state):
        raise CheckpointError("the SPADE generator has an up_4 block (num_upsampling_layers='most'), which "
                              "tfgancomp does not build; 'normal' and 'more' are supported")  # fmt: skip
    trunk, semantic_nc = _shape(state, "fc")[:2]
    nf = _shape(state, "conv_img")[1]
    param_free = "batch" if "head_0.norm_0.param_free_norm.running_mean" in state else "instance"
    hidden = [_shape(state, f"{b}.norm_0.mlp_shared.0")[0] for b, _, _ in SPADE_BLOCKS]
    common = {"label_nc": semantic_nc, "instance": False, "param_free_norm": param_free}
    assumed = {"num_upsampling_layers": "normal"}
    if "head_0.norm_0.mlp_gamma.conv.0.weight" not in state:
        return Inferred("spade", {**common, "ngf": nf, "nhidden": hidden[0]}, assumed)
    assumed["separable_norm"] = "instance"
    inner = [_shape(state, f"{b}.conv_0")[0] for b, _, _ in SPADE_BLOCKS]
    units = [16, 16, 16, 8, 4, 2, 1]
    if trunk == 16 * nf and inner == [u * nf for u in units] and hidden == [2 * nf] * 7:
        return Inferred("mobile_spade", {**common, "ngf": nf}, assumed)
    config = [_divide(trunk, 16, "fc")] + [
        _divide(c, u, f"{b}.conv_0") for c, u, (b, _, _) in zip(inner, units, SPADE_BLOCKS, strict=True)
    ]
    return Inferred("sub_mobile_spade", {**common, "config": format_config(config)}, assumed)


# --------------------------------------------------------------------------------------------------- filling


class _Filler:
    """Collects (Keras variable, value) pairs from the state dict; assigns them only if every check passed."""

    def __init__(self, state: dict, slice_statistics: bool = False):
        self.state = state
        self.used: set[str] = set()
        self.problems: list[str] = []
        self.pairs: list[tuple] = []
        self.slice_statistics = slice_statistics

    def take(self, key: str):
        if key not in self.state:
            self.problems.append(f"missing key {key}")
            return None
        self.used.add(key)
        return self.state[key]

    def put(self, variable, key: str, value, to_keras=None, to_torch=None) -> None:
        """Queue ``value`` (torch layout) for ``variable``; ``to_keras`` / ``to_torch`` permute the axes."""
        if value is None:
            return
        keras_shape = tuple(variable.shape)
        torch_shape = tuple(keras_shape[i] for i in to_torch) if to_torch else keras_shape
        if tuple(value.shape) != torch_shape:
            self.problems.append(f"tensor {key} has shape {tuple(value.shape)} in the checkpoint, the architecture "
                                 f"expects {torch_shape}")  # fmt: skip
            return
        self.pairs.append((variable, np.transpose(value, to_keras) if to_keras else value))

    def weight(self, key: str):
        """``key.weight``, or the spectral-normalised weight ``weight_orig / σ`` with ``σ = uᵀ·W·v`` (eval mode)."""
        if key + ".weight" in self.state or key + ".weight_orig" not in self.state:
            return self.take(key + ".weight"), key + ".weight"
        w, u, v = (self.take(f"{key}.weight_{s}") for s in ("orig", "u", "v"))
        if u is None or v is None:
            return None, key + ".weight_orig"
        matrix = w.reshape(w.shape[0], -1)
        if u.shape != (matrix.shape[0],) or v.shape != (matrix.shape[1],):
            self.problems.append(f"spectral-norm vectors {key}.weight_u {u.shape} / weight_v {v.shape} do not fit "
                                 f"{key}.weight_orig {w.shape}")  # fmt: skip
            return None, key + ".weight_orig"
        return w / float(u @ (matrix @ v)), key + ".weight_orig"

    def bias(self, layer, key: str) -> None:
        if getattr(layer, "use_bias", False):
            self.put(layer.bias, key + ".bias", self.take(key + ".bias"))

    def conv(self, layer, key: str) -> None:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            w, name = self.weight(key)
            self.put(layer.depthwise_kernel, name, w, (2, 3, 0, 1), (2, 3, 0, 1))
        else:  # Conv2D: OIHW -> HWIO; Conv2DTranspose: IOHW -> HWOI (the same permutation)
            w, name = self.weight(key)
            self.put(layer.kernel, name, w, (2, 3, 1, 0), (3, 2, 0, 1))
        self.bias(layer, key)

    def separable(self, layer: SeparableConv, key: str) -> None:
        self.conv(layer.depthwise, key + ".conv.0")
        self.conv(layer.pointwise, key + ".conv.2")

    def norm(self, layer, key: str) -> None:
        if isinstance(layer, InstanceNorm):
            if layer.affine:
                self.put(layer.gamma, key + ".weight", self.take(key + ".weight"))
                self.put(layer.beta, key + ".bias", self.take(key + ".bias"))
            return
        if layer.scale:
            self.put(layer.gamma, key + ".weight", self.take(key + ".weight"))
        if layer.center:
            self.put(layer.beta, key + ".bias", self.take(key + ".bias"))
        for variable, name in ((layer.moving_mean, "running_mean"), (layer.moving_variance, "running_var")):
            value = self.take(f"{key}.{name}")
            if self.slice_statistics and value is not None and value.shape[0] > variable.shape[0]:
                value = value[: variable.shape[0]]  # GAN Compression's sub-mobile SPADE keeps the supernet's
            self.put(variable, f"{key}.{name}", value)

    def spade(self, layer: SPADE, key: str) -> None:
        self.norm(layer.norm, key + ".param_free_norm")
        self.conv(layer.mlp_shared, key + ".mlp_shared.0")
        for part in ("mlp_gamma", "mlp_beta"):
            if isinstance(layer, MobileSPADE):
                self.separable(getattr(layer, part), f"{key}.{part}")
            else:
                self.conv(getattr(layer, part), f"{key}.{part}")


def _fill_resnet(f: _Filler, model) -> None:
    n, nb = model.name, model.n_blocks
    separable = isinstance(model.get_layer(f"{n}_block1_conv1"), SeparableConv)
    second = 6 if separable or model.get_config().get("dropout_rate", 0) > 0 else 5
    for keras_name, index in (("stem", 1), ("down1", 4), ("down2", 7)):
        f.conv(model.get_layer(f"{n}_{keras_name}_conv"), f"model.{index}")
        f.norm(model.get_layer(f"{n}_{keras_name}_norm"), f"model.{index + 1}")
    for b in range(nb):
        base = f"model.{FIRST_BLOCK + b}.conv_block"
        for j, index in ((1, 1), (2, second)):
            layer = model.get_layer(f"{n}_block{b + 1}_conv{j}")
            (f.separable if separable else f.conv)(layer, f"{base}.{index}")
            f.norm(model.get_layer(f"{n}_block{b + 1}_{j}_norm"), f"{base}.{index + 1}")
    up = FIRST_BLOCK + nb
    for i, index in ((1, up), (2, up + 3)):
        f.conv(model.get_layer(f"{n}_up{i}_conv"), f"model.{index}")
        f.norm(model.get_layer(f"{n}_up{i}_norm"), f"model.{index + 1}")
    f.conv(model.get_layer(f"{n}_head_conv"), f"model.{up + 7}")


def _fill_unet(f: _Filler, model) -> None:
    n, levels = model.name, model.num_downs
    for level, prefix in enumerate(unet_prefixes(levels), start=1):
        if level == 1:
            f.conv(model.get_layer(f"{n}_down1_conv"), prefix + "0")
            f.conv(model.get_layer(f"{n}_up1_conv"), prefix + "3")
        elif level == levels:
            f.conv(model.get_layer(f"{n}_down{level}_conv"), prefix + "1")
            f.conv(model.get_layer(f"{n}_up{level}_conv"), prefix + "3")
            f.norm(model.get_layer(f"{n}_up{level}_norm"), prefix + "4")
        else:
            f.conv(model.get_layer(f"{n}_down{level}_conv"), prefix + "1")
            f.norm(model.get_layer(f"{n}_down{level}_norm"), prefix + "2")
            f.conv(model.get_layer(f"{n}_up{level}_conv"), prefix + "5")
            f.norm(model.get_layer(f"{n}_up{level}_norm"), prefix + "6")


def _fill_spade(f: _Filler, model) -> None:
    n = model.name
    f.conv(model.get_layer(f"{n}_fc"), "fc")
    names = {layer.name for layer in model.layers}
    for block, _, _ in SPADE_BLOCKS:
        for part in ("0", "1", "s"):
            if f"{n}_{block}_conv_{part}" in names:
                f.conv(model.get_layer(f"{n}_{block}_conv_{part}"), f"{block}.conv_{part}")
                f.spade(model.get_layer(f"{n}_{block}_norm_{part}"), f"{block}.norm_{part}")
    f.conv(model.get_layer(f"{n}_conv_img"), "conv_img")


def fill_from_state_dict(model, state: dict, where: str = "the checkpoint") -> None:
    """Set every weight of ``model`` (a zoo generator) from a reference state dict, or change nothing.

    Raises:
        CheckpointError: naming each missing key, unexpected key and tensor of the wrong shape (with both shapes).
    """
    family = getattr(model, "family", None)
    f = _Filler(state, slice_statistics=type(model).__name__ == "SubMobileSPADEGenerator")
    {"resnet": _fill_resnet, "unet": _fill_unet, "spade": _fill_spade}[family](f, model)
    unexpected = [k for k in state if k not in f.used]
    if unexpected:
        f.problems.append(f"unexpected key{'s' if len(unexpected) > 1 else ''} {', '.join(unexpected[:4])}"
                          + (f" (and {len(unexpected) - 4} more)" if len(unexpected) > 4 else ""))  # fmt: skip
    if f.problems:
        shown = "; ".join(f.problems[:4]) + (
            f"; and {len(f.problems) - 4} more problems" if len(f.problems) > 4 else ""
        )
        raise CheckpointError(f"{where} does not fit {type(model).__name__}: {shown}")
    filled = {id(v) for v, _ in f.pairs}
    missed = [v.name for v in model.weights if id(v) not in filled]
    if missed:  # a mapping that forgot a weight is a bug here, not the user's checkpoint
        raise RuntimeError(f"the {family} mapping left weights unset: {missed[:4]}")
    for variable, value in f.pairs:
        variable.assign(np.asarray(value, np.float32))
