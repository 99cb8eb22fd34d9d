"""Feature taps read by layer name, the 1×1 mappings from student to teacher width, student initialisation."""

from __future__ import annotations

import numpy as np

from tfgancomp.backend import keras


def default_taps(generator) -> list[str]:
    """The family's distillation taps of ``generator`` (``tap_layer_names()`` of the model zoo)."""
    names = generator.tap_layer_names() if hasattr(generator, "tap_layer_names") else []
    if not names:
        raise ValueError(
            f"model {generator.name!r} ({type(generator).__name__}) has no default distillation taps; "
            "name the layers to match (student_taps / teacher_taps, --student-taps / --teacher-taps)"
        )
    return list(names)


def tap_model(generator, names, name: str | None = None):
    """A model sharing ``generator``'s layers that returns ``[output, *tap outputs]`` (taps by layer name).

    Raises:
        ValueError: naming a tap the generator does not have, with the layer names it could use.
    """
    layers = {layer.name for layer in generator.layers}
    missing = [n for n in names if n not in layers]
    if missing:
        candidates = [layer.name for layer in generator.layers if layer.name.endswith(("_out", "_act"))]
        raise ValueError(
            f"model {generator.name!r} has no layer named {', '.join(map(repr, missing))}; "
            f"layers that make good taps: {', '.join(candidates[:24])}{' ...' if len(candidates) > 24 else ''}"
        )
    outputs = [generator.output] + [generator.get_layer(n).output for n in names]
    return keras.Model(generator.inputs, outputs, name=name or f"{generator.name}_taps")


def tap_channels(model) -> list[int]:
    """Channels of each tap of a :func:`tap_model` (the outputs after the first)."""
    return [int(t.shape[-1]) for t in model.outputs[1:]]


def build_mappings(student_channels, teacher_channels, name: str = "map"):
    """One learnable 1×1 conv per tap from the student's width to the teacher's (GAN Compression's ``netA``)."""
    if len(student_channels) != len(teacher_channels):
        raise ValueError(
            f"student and teacher need the same number of taps, got {len(student_channels)} and {len(teacher_channels)}"
        )
    mappings = []
    for i, (s, t) in enumerate(zip(student_channels, teacher_channels, strict=True)):
        layer = keras.layers.Conv2D(t, 1, name=f"{name}_{i}")
        layer.build((None, None, None, s))
        mappings.append(layer)
    return mappings


def _suffix(layer_name: str, model_name: str) -> str:
    prefix = model_name + "_"
    return layer_name[len(prefix) :] if layer_name.startswith(prefix) else layer_name


def init_from_teacher(student, teacher) -> list[str]:
    """Initialise a freshly built student with the first channels of the teacher's weights, where shapes allow.

    Layers are matched by name (less each model's name prefix) and class; a layer is copied when every weight of
    the student is no larger than the teacher's in every dimension: each weight becomes the teacher's leading
    slice ``W[:k0, :k1, ...]`` (first input / output channels). Layers whose class differs (a mobile student's
    separable blocks vs the teacher's plain convs) keep their initialisation.

    Returns:
        The student layer names that were copied.
    """
    by_suffix = {_suffix(layer.name, teacher.name): layer for layer in teacher.layers}
    copied = []
    for layer in student.layers:
        source = by_suffix.get(_suffix(layer.name, student.name))
        weights = layer.get_weights()
        if source is None or type(source) is not type(layer) or not weights:
            continue
        teacher_weights = source.get_weights()
        if len(teacher_weights) != len(weights):
            continue
        fits = all(
            w.ndim == t.ndim and all(a <= b for a, b in zip(w.shape, t.shape, strict=True))
            for w, t in zip(weights, teacher_weights, strict=True)
        )
        if not fits:
            continue
        layer.set_weights(
            [np.array(t[tuple(slice(0, n) for n in w.shape)]) for w, t in zip(weights, teacher_weights, strict=True)]
        )
        copied.append(layer.name)
    return copied
