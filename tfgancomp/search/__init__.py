"""Channel search: search spaces as data, MACs of candidate configurations, oracles, supernets, extraction."""

from tfgancomp.search.space import SPACES, SearchSpace, get_space, resnet_macs, spade_macs
from tfgancomp.search.supernet import SuperMobileResNetGenerator, SuperMobileSPADEGenerator, extract_subnet

__all__ = [
    "SPACES",
    "SearchSpace",
    "SuperMobileResNetGenerator",
    "SuperMobileSPADEGenerator",
    "extract_subnet",
    "get_space",
    "resnet_macs",
    "spade_macs",
]
