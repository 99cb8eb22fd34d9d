"""Shared test harness: tiny configurations of every architecture, round trips and TFLite parity."""

from __future__ import annotations

import numpy as np

from tfgancomp.backend import keras
from tfgancomp.models import build_model

#: Tiny configuration of every architecture: (kwargs, (height, width)).
TINY = {
    "resnet": ({"ngf": 4, "n_blocks": 3}, (32, 32)),
    "mobile_resnet": ({"ngf": 4, "n_blocks": 3}, (32, 32)),
    "sub_mobile_resnet": ({"config": "4_4_4_2_3_4_4_4", "n_blocks": 3}, (32, 32)),
    "unet": ({"ngf": 4, "num_downs": 5}, (32, 32)),
    "spade": ({"ngf": 2, "label_nc": 4, "instance": True, "nhidden": 8}, (64, 64)),
    "mobile_spade": ({"ngf": 2, "label_nc": 4, "instance": True}, (64, 64)),
    "sub_mobile_spade": ({"config": "2_2_1_2_2_1_2_3", "label_nc": 4, "instance": False}, (64, 32)),
    "patchgan": ({"ndf": 4, "input_nc": 6}, (32, 32)),
    "multiscale": ({"ndf": 4, "input_nc": 7, "n_layers": 3}, (32, 32)),
}
GENERATOR_ARCHS = [
    "resnet",
    "mobile_resnet",
    "sub_mobile_resnet",
    "unet",
    "spade",
    "mobile_spade",
    "sub_mobile_spade",
]


def tiny_model(arch: str, fixed: bool = True, **overrides):
    kwargs, (h, w) = TINY[arch]
    kwargs = {**kwargs, **overrides}
    if fixed:
        kwargs.update(height=h, width=w)
    return build_model(arch, **kwargs)


def tiny_input(model, arch: str, batch: int = 2, seed: int = 0) -> np.ndarray:
    """A random batch in [-1, 1] at the tiny size of ``arch`` with ``model``'s input channels."""
    _, (h, w) = TINY[arch]
    channels = model.inputs[0].shape[-1]
    return np.random.default_rng(seed).uniform(-1, 1, (batch, h, w, channels)).astype(np.float32)


def flatten(outputs) -> list[np.ndarray]:
    if isinstance(outputs, (list, tuple)):
        return [a for o in outputs for a in flatten(o)]
    return [np.asarray(outputs)]


def randomize(model, seed: int = 0) -> None:
    """Give every weight (batch-norm statistics included) non-trivial random values."""
    rng = np.random.default_rng(seed)
    values = []
    for w in model.weights:
        if "moving_variance" in w.name:
            values.append(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
        else:
            values.append(rng.normal(0, 0.3, w.shape).astype(np.float32))
    model.set_weights(values)


def single_layer_model(layer, *input_shapes):
    inputs = [keras.Input(shape=s) for s in input_shapes]
    outputs = layer(inputs if len(inputs) > 1 else inputs[0])
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs)
