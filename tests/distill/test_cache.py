"""TeacherCache: each served batch carries the frozen teacher's outputs for exactly the inputs it serves."""

from __future__ import annotations

import numpy as np
import pytest

from tests.numerics import EPS32, FACTOR, FLOOR_ULPS, float64_twin, unsaturate
from tfgancomp.backend import keras, tf
from tfgancomp.distill import Distiller, TeacherCache, default_taps, tap_model
from tfgancomp.models import MobileResNetGenerator, ResNetGenerator

SIZE = 32


def _images(n, seed):
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-1, 1, (n, SIZE // 4, SIZE // 4, 3)).astype("float32")
    return tf.image.resize(coarse, (SIZE, SIZE)).numpy()


@pytest.fixture(scope="module")
def teacher():
    keras.utils.set_random_seed(1)
    model = ResNetGenerator(ngf=4, n_blocks=2, height=SIZE, width=SIZE, name="generator")
    unsaturate(model, _images(4, 9))  # outputs in tanh's sensitive range: a wrong example or flip shows
    return model


def _tapped_bound(teacher, x):
    """Float64 reference of the teacher's output and taps on ``x``, and the float32 bound of each (tests/numerics)."""
    names = default_taps(teacher)
    ours = [o.numpy() for o in tap_model(teacher, names)(x, training=False)]
    refs = [o.numpy() for o in tap_model(float64_twin(teacher), names)(x.astype("float64"), training=False)]
    bounds = [FACTOR * max(float(np.max(np.abs(o - r))), FLOOR_ULPS * EPS32 * float(np.max(np.abs(r))))
              for o, r in zip(ours, refs, strict=True)]  # fmt: skip
    return refs, bounds


def test_served_batches_hold_the_teachers_outputs_for_the_served_inputs_flips_included(teacher):
    x, y = _images(6, 0), _images(6, 1)
    tapped = tap_model(teacher, default_taps(teacher))
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)  # 4 + 2: an incomplete last batch is kept
    cache = TeacherCache.compute(tapped, batches, flip=True, log=lambda *_: None)
    assert cache.count == 6 and cache.flips
    plain = mirrored = 0
    for _ in range(4):  # epochs: reshuffled, flipped anew
        for xb, yb, outs in cache.dataset(batch_size=2, seed=0):
            xb, yb = xb.numpy(), yb.numpy()
            refs, bounds = _tapped_bound(teacher, xb)
            assert len(outs) == len(refs) == 1 + len(default_taps(teacher))
            for got, ref, bound in zip(outs, refs, bounds, strict=True):
                assert float(np.max(np.abs(got.numpy() - ref))) <= bound
            for row, target in zip(xb, yb, strict=True):  # input and target mirrored together, or neither
                i = int(np.argmin([min(np.abs(row - a).max(), np.abs(row - a[:, ::-1]).max()) for a in x]))
                flipped = np.array_equal(row, x[i][:, ::-1])
                assert np.array_equal(row, x[i][:, ::-1] if flipped else x[i])
                assert np.array_equal(target, y[i][:, ::-1] if flipped else y[i])
                mirrored, plain = mirrored + flipped, plain + (not flipped)
    assert plain > 0 and mirrored > 0
    # the defect this guards against: mirroring the teacher's outputs instead of running it on the mirrored input
    refs, bounds = _tapped_bound(teacher, x[:, :, ::-1].copy())
    wrong = teacher(x, training=False).numpy()[:, :, ::-1]
    assert float(np.max(np.abs(wrong - refs[0]))) > 20 * bounds[0]


def test_a_distiller_step_on_a_cached_batch_equals_the_step_that_runs_the_teacher(teacher):
    x, y = _images(4, 2), _images(4, 3)
    tapped = tap_model(teacher, default_taps(teacher))
    cache = TeacherCache.compute(tapped, [(x, y)], flip=False, log=lambda *_: None)
    xb, yb, outs = next(iter(cache.dataset(batch_size=4, seed=0)))
    losses = {}
    for name, batch in (("teacher", (xb, yb)), ("cached", (xb, yb, outs)),
                        ("other_examples", (xb, yb, tuple(tf.roll(o, 1, 0) for o in outs)))):  # fmt: skip
        keras.utils.set_random_seed(5)
        student = MobileResNetGenerator(ngf=4, n_blocks=2, height=SIZE, width=SIZE, name="student")
        distiller = Distiller(student, teacher, None, lambda_gan=0.0, lambda_recon=10.0, lambda_distill=1.0)
        distiller.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        distiller.build_optimizers()
        logs = distiller.train_step(batch)
        losses[name] = {k: float(np.mean(v)) for k, v in logs.items() if k in ("g_distill", "g_recon", "g_loss")}
    # each loss is a per-example mean of n squared (absolute) differences, then a mean over the batch: float32 sums
    # in any order stay within γ_n of them, n the largest reduction (the output's or one tap's elements per example
    # plus the batch's terms)
    n = max(int(np.prod(o.shape[1:])) for o in outs) + int(outs[0].shape[0])
    gamma = (n + 1) * EPS32 / 2 / (1 - (n + 1) * EPS32 / 2)
    for key, value in losses["teacher"].items():
        assert abs(losses["cached"][key] - value) <= FACTOR * gamma * abs(value) + 1e-30, key
    # a cache serving another example's outputs is far outside that bound
    assert abs(losses["other_examples"]["g_distill"] - losses["teacher"]["g_distill"]) > 10 * FACTOR * gamma * abs(
        losses["teacher"]["g_distill"]
    )


def test_cache_refusals(teacher):
    x, y = _images(2, 4), _images(2, 5)
    tapped = tap_model(teacher, default_taps(teacher))
    with pytest.raises(ValueError, match=r"teacher cache would take .* GiB .* per example, both flips"):
        TeacherCache.compute(tapped, [(x, y)], flip=True, max_bytes=1000, log=lambda *_: None)
    unpaired = TeacherCache.compute(tapped, [(x, y)], flip=False, paired=False, log=lambda *_: None)
    with pytest.raises(ValueError, match="needs the partner stream"):
        unpaired.dataset(2)
    paired = TeacherCache.compute(tapped, [(x, y)], flip=False, log=lambda *_: None)
    with pytest.raises(ValueError, match="fewer than one batch of 4"):
        paired.dataset(4)
    with pytest.raises(ValueError, match="no training examples"):
        TeacherCache.compute(tapped, [], flip=False, log=lambda *_: None)


def test_flips_are_fair_coins_independent_of_the_order():
    """Each example is mirrored about half the time, whatever its index or place in the epoch's order."""
    n, epochs = 6, 200
    x = np.arange(n, dtype="float32").reshape(n, 1, 1, 1) * np.ones((1, 2, 2, 1), "float32")
    x[:, :, 1] += 100  # left and right columns differ: a mirrored input shows
    outputs = [x[:, :1, :1, :] * 1]
    cache = TeacherCache(x, x.copy(), outputs, [outputs[0] + 1000])  # the "teacher output" says which way it went
    mirrored = np.zeros(n)
    first_agrees = 0
    dataset = cache.dataset(batch_size=2, seed=0)  # one dataset, iterated once per epoch as fit() does
    for _ in range(epochs):
        for b, (xb, _, outs) in enumerate(dataset):
            index = xb.numpy()[:, 0, :, 0].min(axis=1).astype(int)
            flipped = outs[0].numpy()[:, 0, 0, 0] >= 1000
            assert np.array_equal(flipped, xb.numpy()[:, 0, 0, 0] >= 100)  # the output's flip is the input's
            mirrored[index] += flipped
            if b == 0:
                first_agrees += flipped[0] == (index[0] % 2 == 1)
    # binomial(200, 1/2): sd 7.1; 40 away is 5.7 sd
    assert np.all(np.abs(mirrored - epochs / 2) < 40), mirrored
    assert abs(first_agrees - epochs / 2) < 40, first_agrees


def test_an_unpaired_cache_serves_its_inputs_with_the_partner_streams_targets(teacher):
    x = _images(4, 6)
    tapped = tap_model(teacher, default_taps(teacher))
    cache = TeacherCache.compute(tapped, [(x, x)], flip=False, paired=False, log=lambda *_: None)
    partner = tf.data.Dataset.from_tensor_slices(np.full((4, SIZE, SIZE, 3), 0.5, "float32")).batch(2)
    served = list(cache.dataset(batch_size=2, seed=0, partner=partner))
    assert len(served) == 2
    for xb, yb, outs in served:
        assert np.all(yb.numpy() == 0.5)  # the targets are the partner's (domain B), not the cached inputs
        refs, bounds = _tapped_bound(teacher, xb.numpy())
        assert float(np.max(np.abs(outs[0].numpy() - refs[0]))) <= bounds[0]
    with pytest.raises(ValueError, match="takes no partner stream"):
        TeacherCache.compute(tapped, [(x, x)], flip=False, log=lambda *_: None).dataset(2, partner=partner)
