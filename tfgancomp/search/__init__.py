"""Channel search: spaces as data, MACs and latency of configurations, oracles, supernets, extraction."""

from tfgancomp.search.latency import LatencyTable, LatencyTableError, find_table, shipped_tables
from tfgancomp.search.space import SPACES, SearchSpace, get_space, resnet_macs, spade_macs
from tfgancomp.search.supernet import SuperMobileResNetGenerator, SuperMobileSPADEGenerator, extract_subnet

__all__ = [
    "SPACES",
    "LatencyTable",
    "LatencyTableError",
    "SearchSpace",
    "SuperMobileResNetGenerator",
    "SuperMobileSPADEGenerator",
    "extract_subnet",
    "find_table",
    "get_space",
    "resnet_macs",
    "shipped_tables",
    "spade_macs",
]
