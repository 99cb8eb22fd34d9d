"""Image quality: PSNR and SSIM (to ground truth or to a teacher), FID and KID from Inception-v3 pool features.

Images are float tensors in [-1, 1] (the generators' range). The Inception weights are never downloaded: pass
the path of a local Keras weights file (``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`` or any
file ``InceptionV3(include_top=False, pooling="avg")`` can load). The Fréchet and KID math works on any
features, so it can be checked on features of known statistics.
"""

from __future__ import annotations

import os

import numpy as np

from tfgancomp.backend import keras, tf


def _unit(images):
    return (tf.clip_by_value(tf.cast(images, tf.float32), -1.0, 1.0) + 1.0) / 2.0


def psnr(images, targets):
    """Per-image PSNR in dB of images against targets, both in [-1, 1] (computed on the [0, 1] scale)."""
    return tf.image.psnr(_unit(images), _unit(targets), max_val=1.0)


def ssim(images, targets):
    """Per-image SSIM (11×11 Gaussian window, on the [0, 1] scale) of images against targets in [-1, 1]."""
    a, b = _unit(images), _unit(targets)
    size = min(11, int(a.shape[1]), int(a.shape[2]))
    return tf.image.ssim(a, b, max_val=1.0, filter_size=size)


def paired_scores(generate, dataset, reference=None) -> dict:
    """Mean PSNR / SSIM of ``generate(inputs)`` against the targets of ``dataset`` (``(input, target)`` batches).

    Args:
        generate: Callable from an input batch to an output batch (a generator or a TFLite runner).
        dataset: Iterable of ``(inputs, targets)`` batches in [-1, 1].
        reference: Optional second callable (e.g. the teacher); adds ``psnr_to_reference`` / ``ssim_to_reference``.

    Returns:
        ``{"psnr": dB, "ssim": ..., "images": n}`` (+ the reference scores).
    """
    sums = {"psnr": 0.0, "ssim": 0.0, "psnr_to_reference": 0.0, "ssim_to_reference": 0.0}
    count = 0
    for inputs, targets in dataset:
        outputs = generate(inputs)
        sums["psnr"] += float(tf.reduce_sum(psnr(outputs, targets)))
        sums["ssim"] += float(tf.reduce_sum(ssim(outputs, targets)))
        if reference is not None:
            ref = reference(inputs)
            sums["psnr_to_reference"] += float(tf.reduce_sum(psnr(outputs, ref)))
            sums["ssim_to_reference"] += float(tf.reduce_sum(ssim(outputs, ref)))
        count += int(inputs.shape[0])
    if count == 0:
        raise ValueError("paired_scores: the dataset yielded no images")
    keys = list(sums) if reference is not None else ["psnr", "ssim"]
    return {**{k: sums[k] / count for k in keys}, "images": count}


# ------------------------------------------------------------------------------------------------ FID / KID


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of an ``(n, d)`` feature array, in float64."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be an (n >= 2, d) array, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance ``|μ1-μ2|² + tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^½)`` between two Gaussians.

    ``tr((Σ1 Σ2)^½)`` is computed as ``tr((Σ1^½ Σ2 Σ1^½)^½)``, whose argument is symmetric positive
    semi-definite, so only symmetric eigendecompositions are needed (no complex round-off to discard).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"statistics disagree: means {mu1.shape}, {mu2.shape}; covariances {sigma1.shape}, "
                         f"{sigma2.shape}")  # fmt: skip
    root1 = _sqrtm_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    trace_sqrt = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None))))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def fid_from_features(features1, features2) -> float:
    """FID between two feature sets (each ``(n, d)``)."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def kid_from_features(features1, features2, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0):
    """Kernel Inception Distance: unbiased MMD² with the kernel ``(x·y / d + 1)³``, averaged over subsets.

    Returns:
        ``(mean, std)`` over ``num_subsets`` random subsets of ``min(subset_size, n1, n2)`` features each.
    """
    f1, f2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"features must be (n, d) arrays of one width, got {f1.shape} and {f2.shape}")
    m = min(subset_size, len(f1), len(f2))
    if m < 2:
        raise ValueError(f"KID needs at least 2 features per set, got {len(f1)} and {len(f2)}")
    d = f1.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        off = m * (m - 1)
        values.append((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off - 2 * kxy.sum() / (m * m))
    return float(np.mean(values)), float(np.std(values))


class InceptionFeatures:
    """2048-d pool features of Inception-v3, with weights read from a local file (never downloaded).

    Args:
        weights_path: A Keras weights file for ``InceptionV3(include_top=False, pooling="avg")``.
        batch_size: Images per forward pass.

    Raises:
        ValueError: When the file is missing or does not fit Inception-v3.
    """

    def __init__(self, weights_path: str, batch_size: int = 32):
        if not os.path.isfile(weights_path):
            raise ValueError(f"Inception-v3 weights file {weights_path} does not exist (weights are never downloaded)")
        self.model = keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg")
        try:
            self.model.load_weights(weights_path)
        except (ValueError, OSError) as err:
            raise ValueError(f"{weights_path}: not Inception-v3 (no top) weights: {err}") from err
        self.batch_size = batch_size

    def __call__(self, images) -> np.ndarray:
        """Features of images in [-1, 1] (any size: resized bilinearly to 299×299, Inception's own scaling)."""
        out = []
        images = tf.convert_to_tensor(images, tf.float32)
        for start in range(0, int(images.shape[0]), self.batch_size):
            batch = tf.image.resize(images[start : start + self.batch_size], (299, 299))
            out.append(self.model(tf.clip_by_value(batch, -1.0, 1.0), training=False).numpy())
        return np.concatenate(out).astype(np.float64)


def distribution_scores(extract, real_batches, fake_batches, kid_subset_size: int = 1000) -> dict:
    """FID and KID between the images of two iterables of batches, using the feature ``extract`` callable."""
    real = np.concatenate([extract(b) for b in real_batches])
    fake = np.concatenate([extract(b) for b in fake_batches])
    kid, kid_std = kid_from_features(real, fake, subset_size=kid_subset_size)
    return {"fid": fid_from_features(real, fake), "kid": kid, "kid_std": kid_std, "images": len(fake)}
