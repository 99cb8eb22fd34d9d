from __future__ import annotations

import numpy as np
import pytest

from tfgancomp.backend import keras, tf
from tfgancomp.distill import DISTILL_DEFAULTS, Distiller, distill_loss, init_from_teacher, tap_model
from tfgancomp.distill.distiller import NORM_EPSILON
from tfgancomp.models import (
    MobileResNetGenerator,
    MobileSPADEGenerator,
    MultiscaleDiscriminator,
    PatchGANDiscriminator,
    ResNetGenerator,
    SPADEGenerator,
    SubMobileResNetGenerator,
    SubMobileSPADEGenerator,
)


def _compiled(distiller, lr=2e-4):
    distiller.compile(keras.optimizers.Adam(lr, beta_1=0.5), keras.optimizers.Adam(lr, beta_1=0.5))
    distiller.build_optimizers()
    return distiller


def _smooth_images(n, size=32, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(-1, 1, (n, size // 4, size // 4, 3)).astype("float32")
    return tf.image.resize(coarse, (size, size)).numpy()


def test_distillation_alone_drives_mapped_student_features_to_the_teachers_and_never_touches_the_teacher(tmp_path):
    """Acceptance: λ_gan = λ_recon = 0; the summed tap MSE falls ≥ 10× (measured ≈ 20× here)."""
    keras.utils.set_random_seed(0)
    teacher = ResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="generator")
    student = MobileResNetGenerator(ngf=8, n_blocks=3, height=32, width=32, name="student")
    distiller = _compiled(Distiller(student, teacher, None, lambda_gan=0, lambda_recon=0, lambda_distill=1), 1e-2)
    x = _smooth_images(8)
    teacher_before = [w.copy() for w in teacher.get_weights()]
    student_before = [w.copy() for w in student.get_weights()]
    before = float(np.mean(distiller.feature_error(x)))
    history = distiller.fit(tf.data.Dataset.from_tensor_slices((x, x)).batch(4), epochs=200, verbose=0).history
    after = float(np.mean(distiller.feature_error(x)))
    print(f"distillation MSE {before:.3f} -> {after:.3f} ({before / after:.1f}x)")
    assert before / after >= 10.0
    assert history["g_recon"][-1] == 0 and history["g_gan"][-1] == 0 and history["d_loss"][-1] == 0
    assert all(np.array_equal(a, b) for a, b in zip(teacher_before, teacher.get_weights(), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(student_before, student.get_weights(), strict=True))
    # the teacher is neither trainable through the task nor part of its checkpoint
    teacher_ids = {id(v) for v in teacher.variables}
    assert not teacher_ids & {id(v) for v in distiller.generator_variables()}
    path = tf.train.Checkpoint(**distiller.checkpoint_state()).save(str(tmp_path / "ckpt"))
    saved = dict(tf.train.list_variables(path))
    roots = {k.split("/")[0] for k in saved} - {"save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"}
    assert roots == {"student", "mappings", "g_optimizer", "d_optimizer"}
    weights = sum(int(np.prod(shape)) for k, shape in saved.items() if k.split("/")[0] in ("student", "mappings"))
    mapping_params = sum(int(np.prod(v.shape)) for m in distiller.mappings for v in m.weights)
    assert weights == student.count_params() + mapping_params


def test_paired_mode_trains_student_mappings_and_discriminator_on_the_full_objective():
    keras.utils.set_random_seed(1)
    teacher = ResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="generator")
    student = SubMobileResNetGenerator("4_4_4_2_3_4_4_4", n_blocks=3, height=32, width=32, name="student")
    disc = PatchGANDiscriminator(6, 4, height=32, width=32)
    d_before = [w.copy() for w in disc.get_weights()]
    distiller = _compiled(Distiller(student, teacher, disc, **_weights("pix2pix")))
    a, b = _smooth_images(4), _smooth_images(4, seed=1)
    expected_recon = 100.0 * np.mean(np.abs(student(a).numpy() - b))  # L1 to the truth, before the one step
    history = distiller.fit(tf.data.Dataset.from_tensor_slices((a, b)).batch(4), epochs=1, verbose=0).history
    np.testing.assert_allclose(history["g_recon"][0], expected_recon, rtol=1e-4)
    for name in ("g_gan", "g_recon", "g_distill", "d_loss"):
        assert history[name][0] > 0, name
    assert history["g_feat"][0] == 0 and history["g_vgg"][0] == 0
    assert not all(np.array_equal(x, y) for x, y in zip(d_before, disc.get_weights(), strict=True))
    assert len(distiller.mappings) == 4
    assert [m.kernel.shape[-2:] for m in distiller.mappings] == [(16, 16), (16, 16), (16, 16), (16, 16)]


def _weights(task):
    d = DISTILL_DEFAULTS[task]
    return {k: d[k] for k in ("mode", "gan_mode", "lambda_gan", "lambda_recon", "lambda_distill", "lambda_feat")}


def test_unpaired_mode_reconstructs_the_teachers_output_and_judges_images_alone():
    keras.utils.set_random_seed(2)
    teacher = ResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="generator")
    student = MobileResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="student")
    disc = PatchGANDiscriminator(3, 4, height=32, width=32)  # images alone: 3 channels
    distiller = _compiled(Distiller(student, teacher, disc, **{**_weights("cyclegan"), "lambda_gan": 0.0}))
    a, unrelated_b = _smooth_images(4), _smooth_images(4, seed=5)
    expected = 10.0 * np.mean(np.abs(student(a).numpy() - teacher(a).numpy()))
    history = distiller.fit(tf.data.Dataset.from_tensor_slices((a, unrelated_b)).batch(4), epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["g_recon"][0], expected, rtol=1e-4)  # to the teacher, not to b
    d_before = [w.copy() for w in disc.get_weights()]
    distiller.lambda_gan = 1.0  # switched on after compile: the next step trains and counts the GAN terms
    history = distiller.fit(tf.data.Dataset.from_tensor_slices((a, unrelated_b)).batch(4), epochs=1, verbose=0)
    h = {k: v[0] for k, v in history.history.items()}
    assert h["g_gan"] > 0 and h["d_loss"] > 0
    assert not all(np.array_equal(x, y) for x, y in zip(d_before, disc.get_weights(), strict=True))
    assert h["g_loss"] == pytest.approx(h["g_gan"] + h["g_recon"] + h["g_distill"], rel=1e-4)


def test_gaugan_mode_with_multiscale_discriminator_feature_matching_and_perceptual_loss():
    keras.utils.set_random_seed(3)
    kw = dict(label_nc=4, instance=True, height=64, width=64)
    teacher = SPADEGenerator(ngf=2, nhidden=8, name="generator", **kw)
    student = SubMobileSPADEGenerator("2_2_1_2_2_1_2_1", name="student", **kw)
    disc = MultiscaleDiscriminator(5 + 3, 4, n_layers=3, height=64, width=64)

    def perceptual(images, targets):  # stands in for VGGPerceptual: per-example loss
        return tf.reduce_mean(tf.abs(tf.nn.avg_pool2d(images - targets, 4, 4, "VALID")), axis=[1, 2, 3])

    distiller = _compiled(Distiller(student, teacher, disc, perceptual=perceptual, **_weights("gaugan")))
    assert distiller.teacher_taps == ["generator_head_0_out", "generator_G_middle_1_out", "generator_up_1_out"]
    rng = np.random.default_rng(0)
    labels = np.eye(5, dtype="float32")[rng.integers(0, 4, (2, 64, 64))]
    images = _smooth_images(2, 64)
    history = distiller.fit(tf.data.Dataset.from_tensor_slices((labels, images)).batch(2), epochs=1, verbose=0)
    for name in ("g_gan", "g_feat", "g_vgg", "g_distill", "d_loss"):
        assert np.isfinite(history.history[name][0]) and history.history[name][0] != 0, name
    assert history.history["g_recon"][0] == 0


def _relative_mse64(students, teachers):
    """float64 reference of ``distill_norm="teacher"``: per example, Σ_taps MSE(s, t) / (mean(t²) + ε)."""
    total = 0.0
    for s, t in zip(students, teachers, strict=True):
        s, t = np.asarray(s, "float64"), np.asarray(t, "float64")
        axes = tuple(range(1, s.ndim))
        total = total + np.mean((s - t) ** 2, axis=axes) / (np.mean(t**2, axis=axes) + NORM_EPSILON)
    return total


def _relative_mse_rtol(*taps) -> float:
    """float32 error of the normalized loss: each per-example mean of n squares carries at most (n + 3) roundings
    (squares, differences, the sum), numerator and denominator each, plus the division and the sum over taps."""
    n = max(int(np.prod(t.shape[1:])) for t in taps)
    return (2 * (n + 3) + 1 + len(taps)) * 2.0**-24


def test_teacher_normalized_distillation_is_each_taps_mse_relative_to_the_teachers_scale_per_example():
    """distill_norm="teacher": a tap of activations ~30 weighs as much as one of ~0.1; scaled per example."""
    rng = np.random.default_rng(0)
    scales = [np.array([0.1, 1.0]), np.array([30.0, 300.0])]  # per tap, per example: far from 1, unequal
    teachers = [(rng.normal(size=(2, 8, 8, 16)) * c[:, None, None, None]).astype("float32") for c in scales]
    students = [(t * rng.uniform(0.5, 1.5, t.shape)).astype("float32") for t in teachers]
    identity = [lambda x: x] * 2
    got = distill_loss([tf.constant(s) for s in students], [tf.constant(t) for t in teachers], identity, "teacher")
    want = _relative_mse64(students, teachers)
    rtol = _relative_mse_rtol(*teachers)
    np.testing.assert_allclose(got.numpy(), want, rtol=rtol)
    # scaling a tap (student and teacher alike) leaves it unchanged; the plain MSE grows with the square
    scaled = distill_loss([tf.constant(s * 7) for s in students], [tf.constant(t * 7) for t in teachers], identity,
                          "teacher")  # fmt: skip
    np.testing.assert_allclose(scaled.numpy(), want, rtol=rtol)
    plain = distill_loss([tf.constant(s) for s in students], [tf.constant(t) for t in teachers], identity).numpy()
    assert np.all(np.abs(plain / want - 1) > 100 * rtol)
    # the check would catch a batch-wide normalization (one mean square for both examples)
    batch_wide = sum(np.mean((s.astype("float64") - t) ** 2, axis=(1, 2, 3)) / np.mean(t.astype("float64") ** 2)
                     for s, t in zip(students, teachers, strict=True))  # fmt: skip
    assert np.all(np.abs(batch_wide / want - 1) > 100 * rtol)
    # a dead (all-zero) teacher tap stays finite
    zero = distill_loss([tf.ones([1, 4, 4, 2])], [tf.zeros([1, 4, 4, 2])], [lambda x: x], "teacher").numpy()
    np.testing.assert_allclose(zero, 1 / NORM_EPSILON, rtol=1e-6)


def test_distiller_with_teacher_normalization_minimises_the_normalized_error_of_its_taps():
    keras.utils.set_random_seed(4)
    teacher = ResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="generator")
    student = MobileResNetGenerator(ngf=8, n_blocks=3, height=32, width=32, name="student")
    distiller = Distiller(student, teacher, None, lambda_gan=0, lambda_recon=0, lambda_distill=1,
                          distill_norm="teacher")  # fmt: skip
    x = _smooth_images(4)
    _, *t = distiller.teacher_tapped(x, training=False)
    _, s = distiller._student_forward(x, training=False)
    mapped = [m(f).numpy() for m, f in zip(distiller.mappings, s, strict=True)]
    np.testing.assert_allclose(distiller.feature_error(x).numpy(), _relative_mse64(mapped, [v.numpy() for v in t]),
                               rtol=_relative_mse_rtol(*t))  # fmt: skip
    before = float(np.mean(distiller.feature_error(x)))
    _compiled(distiller, 1e-2).fit(tf.data.Dataset.from_tensor_slices((x, x)).batch(4), epochs=60, verbose=0)
    assert float(np.mean(distiller.feature_error(x))) < before / 4  # 9-11x measured (seeds 4-6): a wide margin
    with pytest.raises(ValueError, match="distill_norm must be one of 'none', 'teacher'; got 'rms'"):
        Distiller(student, teacher, None, lambda_gan=0, lambda_recon=0, distill_norm="rms")


def test_taps_are_overridable_by_name_and_bad_names_or_counts_are_clear_errors():
    teacher = ResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="generator")
    student = MobileResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="student")
    d = Distiller(student, teacher, None, ["student_block2_out"], ["generator_block1_out"], lambda_gan=0)
    assert len(d.mappings) == 1 and d.mappings[0].kernel.shape == (1, 1, 16, 16)
    with pytest.raises(ValueError, match="no layer named 'student_block7_out'.*student_block1_out"):
        Distiller(student, teacher, None, ["student_block7_out"], ["generator_block1_out"], lambda_gan=0)
    with pytest.raises(ValueError, match="1 student taps .* but 4 teacher taps"):
        Distiller(student, teacher, None, ["student_block2_out"], lambda_gan=0)
    with pytest.raises(ValueError, match="need a discriminator"):
        Distiller(student, teacher, None)
    with pytest.raises(ValueError, match="mode"):
        Distiller(student, teacher, None, lambda_gan=0, mode="semi")
    with pytest.raises(ValueError, match="lambda_distill must be >= 0"):
        Distiller(student, teacher, None, lambda_gan=0, lambda_distill=-1)
    with pytest.raises(ValueError, match="spatial size"):
        Distiller(student, teacher, None, ["student_stem_act"], ["generator_down2_act"], lambda_gan=0)
    spade = MobileSPADEGenerator(label_nc=2, instance=False, ngf=2, height=32, width=32)
    with pytest.raises(ValueError, match="differ in channels"):
        Distiller(spade, teacher, None, lambda_gan=0)
    outputs = tap_model(student, ["student_down2_act"]).outputs
    assert len(outputs) == 2 and outputs[1].shape[-1] == 16


def test_init_from_teacher_copies_the_first_channels_where_shapes_allow():
    keras.utils.set_random_seed(4)
    teacher = ResNetGenerator(ngf=8, n_blocks=3, height=32, width=32, name="generator")
    student = MobileResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="student")
    copied = init_from_teacher(student, teacher)
    assert "student_stem_conv" in copied and "student_head_conv" in copied
    assert not any("block" in name for name in copied)  # separable vs plain convs: left alone
    k_t, b_t = teacher.get_layer("generator_down1_conv").get_weights()
    k_s, b_s = student.get_layer("student_down1_conv").get_weights()
    np.testing.assert_array_equal(k_s, k_t[:, :, :4, :8])
    np.testing.assert_array_equal(b_s, b_t[:8])
    up_t = teacher.get_layer("generator_up1_conv").get_weights()[0]  # transposed: (k, k, out, in)
    np.testing.assert_array_equal(student.get_layer("student_up1_conv").get_weights()[0], up_t[:, :, :8, :16])
    wider = MobileResNetGenerator(ngf=16, n_blocks=3, height=32, width=32, name="wide")
    assert init_from_teacher(wider, teacher) == []  # every weight is wider than the teacher's
