from __future__ import annotations

import numpy as np
import pytest

from tfgancomp.backend import keras
from tfgancomp.metrics import (
    InceptionFeatures,
    feature_statistics,
    fid_from_features,
    frechet_distance,
    kid_from_features,
    paired_scores,
    psnr,
    ssim,
)


def test_psnr_and_ssim_on_known_images():
    a = np.zeros((1, 16, 16, 3), np.float32)
    b = a + 0.2  # 0.1 on the [0, 1] scale: MSE 0.01 -> 20 dB
    assert float(psnr(b, a)[0]) == pytest.approx(20.0, abs=1e-4)
    assert float(ssim(a, a)[0]) == pytest.approx(1.0, abs=1e-6)
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 0.5, a.shape), -1, 1).astype(np.float32)
    assert float(ssim(noisy, a)[0]) < 0.5


def test_paired_scores_averages_over_images_and_scores_a_reference():
    rng = np.random.default_rng(1)
    inputs = [rng.uniform(-0.5, 0.5, (2, 16, 16, 3)).astype(np.float32) for _ in range(2)]
    data = [(x, x + 0.2) for x in inputs]  # the targets: every pixel 0.2 off -> 20 dB for every image

    def reference(x):  # differs from the output image by image: per-image noise levels 0.05, 0.1, 0.15, 0.2
        scale = np.array([0.05, 0.1], np.float32)[:, None, None, None] * (1 + (x is inputs[1]) * 2)
        return x + scale * np.random.default_rng(2).normal(size=x.shape).astype(np.float32)

    scores = paired_scores(lambda x: x, data, reference=reference)
    assert scores["images"] == 4 and scores["psnr"] == pytest.approx(20.0, abs=1e-4)
    per_image = [(psnr(x, reference(x)).numpy(), ssim(x, reference(x)).numpy()) for x in inputs]
    assert scores["psnr_to_reference"] == pytest.approx(np.mean(np.concatenate([p for p, _ in per_image])))
    assert scores["ssim_to_reference"] == pytest.approx(np.mean(np.concatenate([s for _, s in per_image])))
    assert 0.1 < scores["ssim_to_reference"] < 0.99  # a real comparison, neither identical nor unrelated
    with pytest.raises(ValueError, match="no images"):
        paired_scores(lambda x: x, [])


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([4.0, 1.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_is_rotation_invariant_and_zero_for_equal_statistics():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    s1, s2 = np.diag([1.0, 2.0, 3.0, 4.0]), np.diag([2.0, 2.0, 1.0, 0.5])
    mu = rng.normal(size=4)
    direct = frechet_distance(mu, s1, 0 * mu, s2)
    rotated = frechet_distance(q @ mu, q @ s1 @ q.T, 0 * mu, q @ s2 @ q.T)
    assert rotated == pytest.approx(direct, rel=1e-9)
    assert frechet_distance(mu, q @ s1 @ q.T, mu, q @ s1 @ q.T) == pytest.approx(0.0, abs=1e-9)


def test_fid_from_sampled_features_approaches_the_population_value():
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, (20000, 3))
    b = rng.normal(0.5, 2.0, (20000, 3))
    expected = 3 * 0.25 + 3 * (1 + 4 - 2 * 2)
    assert fid_from_features(a, b) == pytest.approx(expected, rel=0.03)
    mu, cov = feature_statistics(a)
    assert np.allclose(mu, 0, atol=0.03) and np.allclose(cov, np.eye(3), atol=0.05)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, (600, 8)), rng.normal(0, 1, (600, 8))
    same, _ = kid_from_features(a, b, num_subsets=20, subset_size=300)
    shifted, _ = kid_from_features(a, b + 1.0, num_subsets=20, subset_size=300)
    assert abs(same) < 0.01 and shifted > 0.1
    # with one subset of everything, the estimate is the exact unbiased MMD² of the polynomial kernel
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(6, 2))
    k = lambda p, q: (p @ q.T / 2 + 1) ** 3  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y[:5], y[:5]), k(x, y[:5])
    manual = (kxx.sum() - np.trace(kxx)) / 20 + (kyy.sum() - np.trace(kyy)) / 20 - 2 * kxy.mean()
    value, _ = kid_from_features(x, y[:5], num_subsets=1, subset_size=5)
    assert value == pytest.approx(manual, rel=1e-12)


def test_feature_shape_errors():
    with pytest.raises(ValueError, match="n >= 2"):
        feature_statistics(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="one width"):
        kid_from_features(np.zeros((4, 3)), np.zeros((4, 2)))


def test_inception_features_come_from_a_local_file_only(tmp_path):
    with pytest.raises(ValueError, match="never downloaded"):
        InceptionFeatures(str(tmp_path / "missing.h5"))
    bad = tmp_path / "bad.h5"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save_weights(str(bad))
    with pytest.raises(ValueError, match="not Inception-v3"):
        InceptionFeatures(str(bad))
    path = tmp_path / "inception.h5"
    keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg").save_weights(str(path))
    extract = InceptionFeatures(str(path), batch_size=2)
    images = np.random.default_rng(0).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    features = extract(images)
    assert features.shape == (3, 2048) and np.isfinite(features).all()
