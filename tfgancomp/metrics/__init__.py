"""Metrics: the MACs / parameter profiler; PSNR, SSIM, FID and KID."""

from tfgancomp.metrics.profiler import LayerProfile, Profile, ProfileSpec, profile
from tfgancomp.metrics.quality import (
    InceptionFeatures,
    distribution_scores,
    feature_statistics,
    fid_from_features,
    frechet_distance,
    kid_from_features,
    paired_scores,
    psnr,
    ssim,
)

__all__ = [
    "InceptionFeatures",
    "LayerProfile",
    "Profile",
    "ProfileSpec",
    "distribution_scores",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "kid_from_features",
    "paired_scores",
    "profile",
    "psnr",
    "ssim",
]
