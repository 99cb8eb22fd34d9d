"""Quantization-aware training models: ``quantize_model(generator)`` → a new TFMOT QAT model."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zipfile

from tfgancomp.backend import custom_objects, keras
from tfgancomp.quantize._tfmot import quant_ops, tfmot
from tfgancomp.quantize.configs import config_for, scope_objects

PREFIX = "quant_"
#: The entry of a saved QAT model's zip that describes it (see :meth:`QATGenerator.save`).
QAT_ENTRY = "tfgancomp_qat.json"
QAT_FORMAT = 1


class QATGenerator(keras.Model):
    """A quantization-aware generator: TFMOT's Functional QAT model plus what a generator offers.

    ``tap_layer_names()`` gives the distillation taps of the float generator under their QAT names (so the
    :class:`~tfgancomp.distill.Distiller` trains it with the teacher's guidance), and :meth:`float_model` rebuilds
    the float architecture (weights not copied) for the MACs / params profiler.
    """

    def __init__(self, *args, taps=(), float_class: str = "", float_config=None, **kwargs):
        super().__init__(*args, **kwargs)
        # kept as JSON text: Keras would wrap a list / dict attribute in its tracking types
        self._taps_json = json.dumps(list(taps))
        self.float_class = float_class
        self._float_config_json = json.dumps(float_config or {})

    @property
    def float_config(self) -> dict:
        """The float generator's constructor arguments."""
        return json.loads(self._float_config_json)

    def tap_layer_names(self) -> list[str]:
        return json.loads(self._taps_json)

    def float_model(self):
        """A float model of the same architecture (fresh weights), or ``None`` when its class is unknown."""
        cls = custom_objects().get(self.float_class)
        return cls.from_config(self.float_config) if cls is not None else None

    def save(self, filepath, overwrite: bool = True, **kwargs):
        """Save as a ``.keras`` zip holding the float architecture and the QAT weights (HDF5).

        Keras' own ``.keras`` format cannot round-trip TFMOT's quantize layer; this one is rebuilt exactly by
        :func:`load_qat` (``quantize_model`` of the float architecture, then the weights).
        """
        path = os.fspath(filepath)
        if not path.endswith(".keras"):
            raise ValueError(f"a quantization-aware model is saved as a .keras file, got {path!r}")
        if os.path.exists(path) and not overwrite:
            raise ValueError(f"{path} exists (overwrite=False)")
        if not self.float_class:
            raise ValueError(f"model {self.name!r} does not know its float architecture, so it cannot be saved")
        with tempfile.TemporaryDirectory() as tmp:
            weights = os.path.join(tmp, "model.weights.h5")
            self.save_weights(weights)
            description = {"format": QAT_FORMAT, "name": self.name, "float_class": self.float_class,
                           "float_config": self.float_config, "taps": self.tap_layer_names()}  # fmt: skip
            staged = os.path.join(tmp, "model.keras")
            with zipfile.ZipFile(staged, "w") as archive:
                archive.writestr(QAT_ENTRY, json.dumps(description))
                archive.write(weights, "model.weights.h5")
            shutil.move(staged, path)


def _annotate(layer):
    config = config_for(layer)
    clone = layer.__class__.from_config(layer.get_config())
    if isinstance(layer, keras.layers.InputLayer):
        return clone
    if config is not None:
        return tfmot.quantization.keras.quantize_annotate_layer(clone, config)
    return tfmot.quantization.keras.quantize_annotate_layer(clone)


def quantize_model(model, name: str | None = None) -> QATGenerator:
    """A new quantization-aware copy of a Functional generator (the input model is left untouched).

    Our layers get the configs of :data:`~tfgancomp.quantize.configs.QUANTIZE_CONFIGS`, Keras' layers TFMOT's
    default 8-bit ones. The copy starts from ``model``'s weights; its fake-quant ranges are learned as it trains
    (with :class:`~tfgancomp.distill.Distiller`, so QAT runs with the teacher's guidance). Convert it with
    ``mobile_export.to_tflite(qat, "int8")``: no representative data is needed.

    Raises:
        ValueError: when ``model`` is not a Functional model, or holds a layer no config handles (named).
    """
    if isinstance(model, QATGenerator):
        raise ValueError(f"model {model.name!r} is already quantization-aware")
    if not getattr(model, "_is_graph_network", False):
        raise ValueError(f"quantize_model takes a Functional model; {model.name!r} is a {type(model).__name__}")
    source = keras.Model(model.inputs, model.outputs, name=model.name)  # plain Functional view, same layers
    try:
        annotated = keras.models.clone_model(source, clone_function=_annotate)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"cannot make {model.name!r} quantization-aware: {err}") from None
    annotated.set_weights(model.get_weights())
    with tfmot.quantization.keras.quantize_scope(scope_objects()):
        try:
            qat = tfmot.quantization.keras.quantize_apply(annotated)
        except (RuntimeError, ValueError) as err:
            raise ValueError(f"cannot make {model.name!r} quantization-aware: {err}") from None
    taps = []
    names = {layer.name for layer in qat.layers}
    for tap in model.tap_layer_names() if hasattr(model, "tap_layer_names") else []:
        taps.append(PREFIX + tap if PREFIX + tap in names else tap)
    float_class = type(model).__name__ if type(model).__name__ in custom_objects() else ""
    float_config = model.get_config() if float_class else {}
    return QATGenerator(inputs=qat.inputs, outputs=qat.outputs, name=name or model.name, taps=taps,
                        float_class=float_class, float_config=float_config)  # fmt: skip


@contextlib.contextmanager
def _ema_decay(value: float):
    """TFMOT's moving-average range quantizers with another EMA decay (theirs is fixed at 0.999)."""
    original = quant_ops.MovingAvgQuantize

    def patched(*args, **kwargs):
        kwargs["ema_decay"] = value
        return original(*args, **kwargs)

    quant_ops.MovingAvgQuantize = patched
    try:
        yield
    finally:
        quant_ops.MovingAvgQuantize = original


def calibrate_ranges(model, batches) -> int:
    """Set a QAT model's activation ranges to the average of their per-batch min / max over ``batches``.

    TFMOT starts every range at [-6, 6] and moves it by an EMA of decay 0.999: a short QAT run would keep ranges
    far too wide (int8 steps larger than the spread a normalization then divides by). This pass measures them
    first. Weights and every other state (e.g. batch-norm statistics) are left as they were.

    Returns:
        The number of batches used.
    """
    keep = [v for v in model.non_trainable_variables if not v.name.endswith(("_min:0", "_max:0"))]
    saved = [v.numpy() for v in keep]
    count = 0
    for batch in batches:
        with _ema_decay(count / (count + 1.0)):  # running mean: the first batch sets, the next ones average
            model(batch, training=True)
        count += 1
    for variable, value in zip(keep, saved, strict=True):
        variable.assign(value)
    return count


def load_qat(path: str) -> QATGenerator:
    """Load a quantization-aware model saved by :meth:`QATGenerator.save`.

    Raises:
        ValueError: naming the file when it is not such a model or its weights do not fit.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            description = json.loads(archive.read(QAT_ENTRY))
            with tempfile.TemporaryDirectory() as tmp:
                weights = archive.extract("model.weights.h5", tmp)
                cls = custom_objects().get(description["float_class"])
                if cls is None:
                    raise ValueError(f"unknown float architecture {description['float_class']!r}")
                model = quantize_model(cls.from_config(description["float_config"]), name=description["name"])
                model.load_weights(weights)
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a saved quantization-aware model: {err}") from None
    return model


def describe(model) -> dict:
    """Counts of what a QAT model fake-quantizes (for reports): wrapped layers and fake-quant variables."""
    wrapped = [layer for layer in model.layers if layer.__class__.__name__.startswith("QuantizeWrapper")]
    ranges = [v for v in model.non_trainable_variables if v.name.endswith(("_min:0", "_max:0"))]
    return {"quantized_layers": len(wrapped), "range_variables": len(ranges)}


__all__ = ["QATGenerator", "calibrate_ranges", "describe", "load_qat", "quantize_model"]
