"""Metrics: the MACs / parameter profiler (quality metrics come with later stages)."""

from tfgancomp.metrics.profiler import LayerProfile, Profile, ProfileSpec, profile

__all__ = ["LayerProfile", "Profile", "ProfileSpec", "profile"]
