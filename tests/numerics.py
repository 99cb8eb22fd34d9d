"""Tolerances for float32 equality checks that hold on any CPU, derived from the computation itself.

Two float32 implementations of the same arithmetic (Keras and TFLite, a supernet and its extracted subnet, eager
and graph mode) round differently: vector width, FMA contraction, summation order and oneDNN's kernel choice all
depend on the CPU. A bound set just above what one machine printed fails on the next (1.05e-4 vs 1e-4 and 4.3e-5
vs 1e-5 on an AMD EPYC). So the bound of every such check here is derived per case:

* the **reference** is the same model evaluated in float64 (:func:`float64_twin`: same architecture and weights,
  every layer computing in float64), so its own rounding is ~1e-16 and negligible;
* Keras' float32 error against it, ``e = max |keras32 - ref64|``, measures how much float32 rounding this model and
  this input amplify (deep stacks of instance norms on nearly constant maps amplify a lot, saturated outputs not
  at all). Any other float32 implementation performs the same operations with rounding of the same size but in a
  different order, so its error is of the same order: we allow :data:`FACTOR` × e, because summation order alone can
  change the error of a long reduction by a few times (sequential vs pairwise sums; the TFLite MEAN was 3× Keras'
  before the W-then-H split of InstanceNorm);
* a **floor** of :data:`FLOOR_ULPS` float32 unit roundoffs of the output's magnitude keeps the bound meaningful where
  Keras happens to be (nearly) exact on this machine.

A real defect — a one-channel slicing mistake, a dropped bias, a wrong padding mode — changes the output by an amount
that does not shrink with the unit roundoff (1e-2 to 1 on these models); ``tests/test_numerics.py`` shows each
check rejecting such defects. Outputs must not be saturated (tanh at ±1 hides any difference):
:func:`unsaturate` scales a generator's last convolution so its pre-tanh values stay in tanh's sensitive range.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tfgancomp.backend import custom_objects, keras
from tfgancomp.models.base import ZooModel

#: float32 unit roundoff (machine epsilon).
EPS32 = float(np.finfo(np.float32).eps)
#: Another float32 implementation may be this many times further from float64 than Keras float32 is.
FACTOR = 8.0
#: Least bound, in float32 unit roundoffs of the output's largest magnitude.
FLOOR_ULPS = 64.0


def _as_float64(config):
    if isinstance(config, dict):
        return {k: "float64" if k == "dtype" and v == "float32" else _as_float64(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_as_float64(v) for v in config]
    return config


def float64_twin(model):
    """The same model (same architecture and weights) with every layer computing in float64.

    Zoo models are rebuilt from their constructor arguments under ``floatx="float64"``; other Functional models
    from their config with every layer's ``dtype`` set to float64.
    """
    keras.backend.set_floatx("float64")
    try:
        if isinstance(model, ZooModel):
            twin = type(model).from_config(model.get_config())
        else:
            twin = keras.Model.from_config(_as_float64(model.get_config()), custom_objects=custom_objects())
    finally:
        keras.backend.set_floatx("float32")
    twin.set_weights([np.asarray(w, np.float64) for w in model.get_weights()])
    return twin


def unsaturate(model, inputs, peak: float = 2.0) -> None:
    """Scale the generator's last convolution so that its pre-tanh output peaks at ``peak`` on ``inputs``.

    Random weights drive SPADE generators' outputs to ±1 everywhere, where tanh hides every difference; a conv is
    linear in its kernel and bias, so scaling both by one factor scales the pre-activation exactly.
    """
    head = model.layers[-2]
    pre = keras.Model(model.inputs, head.output)(inputs, training=False).numpy()
    scale = peak / float(np.max(np.abs(pre)))
    head.set_weights([w * scale for w in head.get_weights()])


@dataclasses.dataclass(frozen=True)
class Float32Budget:
    """A float64 reference output and the bound any float32 implementation of the model must stay within."""

    reference: np.ndarray
    keras_error: float
    bound: float

    def error(self, actual) -> float:
        return float(np.max(np.abs(np.asarray(actual, np.float64) - self.reference)))

    def check(self, actual, what: str = "output") -> float:
        """Assert ``actual`` is within the bound of the float64 reference; returns its error."""
        error = self.error(actual)
        assert error <= self.bound, (
            f"{what}: max |Δ| to float64 {error:.3g} > bound {self.bound:.3g} "
            f"({FACTOR:g} × Keras float32's own {self.keras_error:.3g}, floor {FLOOR_ULPS:g} ulps)"
        )
        return error


def float32_budget(model, inputs, reference_model=None, training=False) -> Float32Budget:
    """The budget of ``model`` (a zoo model) on ``inputs``; ``reference_model`` overrides its float64 twin's source.

    Args:
        model: The float32 Keras model whose own rounding sets the scale of the bound.
        inputs: One input batch (float32).
        reference_model: The model to evaluate in float64 (default ``model``).
        training: Passed to both calls.
    """
    twin = float64_twin(reference_model or model)
    reference = twin(np.asarray(inputs, np.float64), training=training).numpy()
    keras_error = float(np.max(np.abs(model(inputs, training=training).numpy() - reference)))
    floor = FLOOR_ULPS * EPS32 * max(float(np.max(np.abs(reference))), EPS32)
    return Float32Budget(reference, keras_error, FACTOR * max(keras_error, floor))


def dot_error_bound(n_terms: int, abs_terms) -> np.ndarray:
    """Worst-case float32 error of sums of ``n_terms`` products, whatever the summation order (Higham's γ_n).

    ``abs_terms`` is Σ|a_i·b_i| per output (computed in float64, e.g. the same convolution of ``|x|`` with
    ``|K|``); the rounding of a float32 dot product in any order and with or without FMA is at most
    γ_n·Σ|a_i·b_i| with γ_n = n·u / (1 − n·u), u = eps / 2. It holds on every CPU by construction.
    """
    u = EPS32 / 2
    gamma = (n_terms + 1) * u / (1 - (n_terms + 1) * u)  # one more rounding for the bias addition
    return gamma * np.asarray(abs_terms, np.float64)


def check_against_reordering(result: dict) -> None:
    """A distributed run's losses and outputs vs one device's, bounded by the same training with batches reordered.

    ``result`` holds per-epoch losses ``single`` / ``mirrored`` / ``reordered`` and ``output_diff`` (mirrored vs
    single), ``reorder_diff`` (reordered vs single) and the output ``scale``: reordering the examples of a batch
    changes nothing but float32 round-off, which training amplifies (Adam turns round-off gradients into steps of
    ±lr), so the distributed run may differ by :data:`FACTOR` times as much (floor :data:`FLOOR_ULPS` ulps).
    """
    print({k: result[k] for k in ("output_diff", "reorder_diff")})
    for name, values in result["single"].items():
        single, reordered = np.array(values), np.array(result["reordered"][name])
        allowed = FACTOR * np.maximum(np.abs(reordered - single), FLOOR_ULPS * EPS32 * np.abs(single))
        assert np.all(np.abs(np.array(result["mirrored"][name]) - single) <= allowed), (name, values, result)
    assert result["output_diff"] <= FACTOR * max(result["reorder_diff"], FLOOR_ULPS * EPS32 * result["scale"])
