"""Channel search: search spaces as data, MACs of candidate configurations, oracles."""

from tfgancomp.search.space import SPACES, SearchSpace, get_space, resnet_macs

__all__ = ["SPACES", "SearchSpace", "get_space", "resnet_macs"]
