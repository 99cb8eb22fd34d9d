"""MACs / parameter profiler that follows the convention of GAN Compression's published tables.

Convention (``macs``): a convolution counts ``H_out·W_out·C_out·(C_in/groups)·k²``; a transposed convolution is
counted at its *output* resolution (``H_in·s · W_in·s · C_out·C_in·k²``, as the reference profiler does);
every normalization (instance, batch, SPADE's parameter-free one) counts one MAC per element, and SPADE's
modulation ``x·(1+γ)+β`` one more. ``macs_exact`` counts the multiply-accumulates really performed: identical
except that a transposed convolution does ``H_in·W_in·C_in·C_out·k²``. Padding, activations, additions and
resizes count nothing. ``params`` counts trainable weights (batch-norm statistics and spectral-norm vectors are
buffers, not parameters).
"""

from __future__ import annotations

import dataclasses
import math

from tfgancomp.backend import keras
from tfgancomp.layers import SPADE, InstanceNorm, MobileSPADE, SeparableConv
from tfgancomp.models.base import ZooModel
from tfgancomp.models.registry import architecture, build_model
from tfgancomp.validation import check_positive_int


@dataclasses.dataclass(frozen=True)
class ProfileSpec:
    """An architecture to profile without building it by hand (what ``tfgancomp profile`` takes).

    Args:
        arch: Architecture name (``resnet``, ``mobile_resnet``, ``sub_mobile_resnet``, ``unet``, ``spade``,
            ``mobile_spade``, ``sub_mobile_spade``, ``patchgan``, ``multiscale``).
        height: Input height.
        width: Input width.
        ngf: Base width (generators) or ``ndf`` (discriminators); the architecture's default when ``None``.
        n_blocks: Residual blocks (ResNet family), downsamplings (U-Net) or layers (discriminators).
        config: Channel configuration string (sub-mobile generators; required there).
        label_nc: Label classes (SPADE family; also sizes the multiscale discriminator's input).
        instance: Instance-edge channel after the labels (SPADE family / multiscale).
        input_nc: Input channels (ResNet family, discriminators).
        output_nc: Output channels (generators).
    """

    arch: str
    height: int
    width: int
    ngf: int | None = None
    n_blocks: int | None = None
    config: str | None = None
    label_nc: int | None = None
    instance: bool = False
    input_nc: int | None = None
    output_nc: int | None = None

    #: Which constructor argument each option feeds, per architecture.
    _OPTIONS = {
        "resnet": {"ngf": "ngf", "n_blocks": "n_blocks", "input_nc": "input_nc", "output_nc": "output_nc"},
        "mobile_resnet": {"ngf": "ngf", "n_blocks": "n_blocks", "input_nc": "input_nc", "output_nc": "output_nc"},
        "sub_mobile_resnet": {
            "config": "config", "n_blocks": "n_blocks", "input_nc": "input_nc", "output_nc": "output_nc",
        },
        "unet": {"ngf": "ngf", "n_blocks": "num_downs", "input_nc": "input_nc", "output_nc": "output_nc"},
        "spade": {"ngf": "ngf", "label_nc": "label_nc", "instance": "instance", "output_nc": "output_nc"},
        "mobile_spade": {"ngf": "ngf", "label_nc": "label_nc", "instance": "instance", "output_nc": "output_nc"},
        "sub_mobile_spade": {
            "config": "config", "label_nc": "label_nc", "instance": "instance", "output_nc": "output_nc",
        },
        "patchgan": {"ngf": "ndf", "n_blocks": "n_layers", "input_nc": "input_nc"},
        "multiscale": {"ngf": "ndf", "n_blocks": "n_layers", "input_nc": "input_nc", "label_nc": None,
                       "instance": None},
    }  # fmt: skip

    def model_kwargs(self) -> dict:
        """Constructor arguments of the architecture; rejects options that do not apply to it."""
        architecture(self.arch)
        check_positive_int("height", self.height)
        check_positive_int("width", self.width)
        options = self._OPTIONS[self.arch]
        kwargs = {"height": self.height, "width": self.width}
        for field in ("ngf", "n_blocks", "config", "label_nc", "input_nc", "output_nc", "instance"):
            value = getattr(self, field)
            if value is None or (field == "instance" and value is False):
                continue
            if field not in options:
                flag = "--" + field.replace("_", "-")
                raise ValueError(
                    f"option {field}={value!r} ({flag}) does not apply to architecture {self.arch!r}; "
                    f"it takes {', '.join(sorted(options))}"
                )
            if options[field] is not None:
                kwargs[options[field]] = value
        if self.arch.startswith("sub_mobile") and self.config is None:
            raise ValueError(f"architecture {self.arch!r} needs a channel configuration (config / --config)")
        if self.arch in ("spade", "mobile_spade", "sub_mobile_spade"):
            kwargs.setdefault("instance", False)
        if self.arch == "multiscale" and self.input_nc is None and self.label_nc is not None:
            kwargs["input_nc"] = self.label_nc + (1 if self.instance else 0) + 3
        return kwargs

    def build(self):
        """Build the model at the spec's fixed resolution."""
        return build_model(self.arch, **self.model_kwargs())


@dataclasses.dataclass(frozen=True)
class LayerProfile:
    """MACs and parameters of one layer call."""

    name: str
    kind: str
    macs: int
    macs_exact: int
    params: int
    norm_macs: int = 0


@dataclasses.dataclass(frozen=True)
class Profile:
    """Result of :func:`profile`.

    Attributes:
        macs: MACs in the convention of the published tables (module docstring).
        macs_exact: Multiply-accumulates really performed.
        params: Trainable parameters.
        height: Input height profiled.
        width: Input width profiled.
        model: Model name.
        norm_macs: The part of ``macs`` due to normalizations and SPADE modulation (one MAC per element).
        layers: Per-layer breakdown (layers with neither MACs nor parameters are left out).
    """

    macs: int
    macs_exact: int
    params: int
    height: int
    width: int
    model: str
    norm_macs: int = 0
    layers: tuple[LayerProfile, ...] = ()

    @property
    def conv_macs(self) -> int:
        """MACs of convolutions and dense layers alone (published convention), without normalizations."""
        return self.macs - self.norm_macs

    def to_dict(self, per_layer: bool = False) -> dict:
        out = {
            "model": self.model,
            "height": self.height,
            "width": self.width,
            "macs": self.macs,
            "macs_exact": self.macs_exact,
            "params": self.params,
            "norm_macs": self.norm_macs,
            "gmacs": round(self.macs / 1e9, 3),
            "mparams": round(self.params / 1e6, 3),
        }
        if per_layer:
            out["layers"] = [dataclasses.asdict(layer) for layer in self.layers]
        return out


def _dims(shape) -> list:
    return list(shape.as_list() if hasattr(shape, "as_list") else shape)


def _elements(shape) -> int:
    dims = _dims(shape)[1:]
    if any(d is None for d in dims):
        raise ValueError(f"cannot count MACs on a dynamic shape {tuple(_dims(shape))}; give a fixed height/width")
    return math.prod(dims)


def _conv_macs(layer, in_shape, out_shape) -> tuple[int, int]:
    kh, kw = layer.kernel_size
    if isinstance(layer, keras.layers.Conv2DTranspose):
        _, hi, wi, cin = _dims(in_shape)
        sh, sw = layer.strides
        cout = layer.filters
        published = hi * sh * wi * sw * cout * cin * kh * kw
        return published, hi * wi * cin * cout * kh * kw, 0
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        cin = _dims(in_shape)[-1]
        macs = _elements(out_shape) * kh * kw
        return macs, macs, 0
    cin = _dims(in_shape)[-1]
    groups = getattr(layer, "groups", 1)
    macs = _elements(out_shape) * (cin // groups) * kh * kw
    return macs, macs, 0


def _separable_macs(layer: SeparableConv, in_shape) -> tuple[int, int]:
    """(convolution MACs, normalization MACs) of a separable block."""
    _, ho, wo, cout = layer.compute_output_shape(tuple(_dims(in_shape)))
    cin = _dims(in_shape)[-1]
    norm = ho * wo * cin if layer.norm == "instance" else 0
    return ho * wo * cin * layer.kernel_size**2 + ho * wo * cin * cout, norm


def _spade_macs(layer: SPADE, in_shapes) -> tuple[int, int]:
    """(convolution MACs, normalization + modulation MACs) of a SPADE layer."""
    x_shape, seg_shape = (_dims(s) for s in in_shapes)
    _, h, w, c = x_shape
    label_nc, nh, k2 = seg_shape[-1], layer.nhidden, layer.kernel_size**2
    shared = h * w * nh * label_nc * k2
    if isinstance(layer, MobileSPADE):
        sep_norm = h * w * nh if layer.separable_norm == "instance" else 0
        gamma_conv, gamma_norm = h * w * nh * k2 + h * w * nh * c, sep_norm
    else:
        gamma_conv, gamma_norm = h * w * c * nh * k2, 0
    # parameter-free norm + x·(1+γ)+β: one MAC per element each
    return shared + 2 * gamma_conv, 2 * gamma_norm + 2 * h * w * c


_NORMS = (
    InstanceNorm,
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
)
_NO_MACS = (
    keras.layers.InputLayer,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.Add,
    keras.layers.Concatenate,
    keras.layers.Dropout,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.UpSampling2D,
)


def _layer_macs(layer, in_shapes, out_shapes) -> tuple[int, int, int]:
    """(published MACs, exact MACs, normalization part) of one layer call."""
    if isinstance(layer, keras.layers.SpectralNormalization):
        layer = layer.layer
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
        return _conv_macs(layer, in_shapes, out_shapes)
    if isinstance(layer, keras.layers.Dense):
        macs = _elements(in_shapes) * layer.units
        return macs, macs, 0
    if isinstance(layer, SeparableConv):
        conv, norm = _separable_macs(layer, in_shapes)
    elif isinstance(layer, SPADE):
        conv, norm = _spade_macs(layer, in_shapes)
    elif isinstance(layer, _NORMS):
        conv, norm = 0, _elements(out_shapes)
    elif layer.weights and not isinstance(layer, _NO_MACS):
        raise ValueError(
            f"cannot profile layer {layer.name!r} of type {type(layer).__name__}: it has weights but no MACs rule"
        )
    else:
        conv, norm = 0, 0
    return conv + norm, conv + norm, norm


def _model_layers(model) -> list[LayerProfile]:
    rows = []
    for layer in model.layers:
        for index, node in enumerate(layer._inbound_nodes):
            if f"{layer.name}_ib-{index}" not in model._network_nodes:  # the key tf_keras uses
                continue
            if isinstance(layer, keras.Model):
                sub = _model_layers(layer)
                macs, exact, norm = (sum(getattr(r, f) for r in sub) for f in ("macs", "macs_exact", "norm_macs"))
            else:
                macs, exact, norm = _layer_macs(layer, node.input_shapes, node.output_shapes)
            params = sum(math.prod(w.shape) for w in layer.weights if w.trainable) if index == 0 else 0
            if macs or params:
                rows.append(
                    LayerProfile(layer.name, type(layer).__name__, int(macs), int(exact), int(params), int(norm))
                )
    return rows


def _fixed(model, height, width):
    """``model`` with a fixed batch-1 input of ``height``×``width`` (rebuilt if its input size is dynamic)."""
    shape = _dims(model.inputs[0].shape)
    if len(model.inputs) != 1 or len(shape) != 4:
        raise ValueError(f"profile needs a model with one NHWC image input, got inputs {model.inputs}")
    h = height if height is not None else shape[1]
    w = width if width is not None else shape[2]
    if h is None or w is None:
        raise ValueError(f"model {model.name!r} has a dynamic input size {shape[1:3]}; give height and width")
    if (h, w) == tuple(shape[1:3]):
        return model, h, w
    if isinstance(model, ZooModel):
        return type(model).from_config({**model.get_config(), "height": h, "width": w}), h, w
    tensor = keras.Input(batch_shape=(1, h, w, shape[3]))
    return keras.models.clone_model(model, input_tensors=tensor), h, w


def profile(model_or_spec, height: int | None = None, width: int | None = None) -> Profile:
    """Count MACs (published convention and exact) and parameters of a model or an architecture spec.

    Args:
        model_or_spec: A Functional Keras model, a :class:`ProfileSpec`, or a dict of ``ProfileSpec`` fields
            (e.g. ``{"arch": "resnet", "ngf": 64, "height": 256, "width": 256}``).
        height: Input height; needed when the model's input size is dynamic, or to profile at another size.
        width: Input width; same.

    Returns:
        A :class:`Profile`.

    Raises:
        ValueError: for an unknown architecture, bad options, sizes the network cannot take, or a layer
            with weights that has no MACs rule.
    """
    if isinstance(model_or_spec, dict):
        fields = {f.name for f in dataclasses.fields(ProfileSpec)}
        unknown = sorted(set(model_or_spec) - fields)
        if unknown:
            raise ValueError(f"unknown profile spec keys {unknown}; expected some of {sorted(fields)}")
        model_or_spec = ProfileSpec(**model_or_spec)
    if isinstance(model_or_spec, ProfileSpec):
        spec = model_or_spec
        if height is not None or width is not None:
            spec = dataclasses.replace(spec, height=height or spec.height, width=width or spec.width)
        model, h, w = spec.build(), spec.height, spec.width
    elif isinstance(model_or_spec, keras.Model):
        model, h, w = _fixed(model_or_spec, height, width)
    else:
        raise ValueError(f"profile takes a Keras model, a ProfileSpec or a dict, got {type(model_or_spec).__name__}")
    rows = _model_layers(model)
    params = sum(math.prod(v.shape) for v in model.weights if v.trainable)
    return Profile(
        macs=sum(r.macs for r in rows),
        macs_exact=sum(r.macs_exact for r in rows),
        params=int(params),
        height=int(h),
        width=int(w),
        model=model.name,
        norm_macs=sum(r.norm_macs for r in rows),
        layers=tuple(rows),
    )
