"""The supply network model: sites, products, lanes, BOMs, demand, assets, devices and policies.

    >>> from supplynet.model import load_network, example_path
    >>> net = load_network(example_path("tiny"))
    >>> net.site("DC-1").kind
    'dc'

``load_network`` reads YAML and reports every problem with file, line and field;
``Network.model_validate(dict)`` validates plain data (no line numbers then);
``supplynet.model.willems.load_willems`` imports a Willems (2008) chain (``read_stages`` is the one
parser of its CSV format, which the GSM and the simulator read too).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from supplynet.errors import DataError
from supplynet.model._costs import COMPONENTS, CostModel
from supplynet.model._load import load_network, parse_network, validate_data
from supplynet.model._network import Network, UnknownIdError
from supplynet.model._schema import (
    DEFAULT_MEASURES,
    MEASURES,
    POLICY_PARAMS,
    Asset,
    Binding,
    Bom,
    Component,
    Costs,
    Demand,
    Device,
    Lane,
    LeadTime,
    Location,
    Penalty,
    PolicySpec,
    Product,
    Site,
    TransportRate,
)

__all__ = [
    "COMPONENTS",
    "DEFAULT_MEASURES",
    "EXAMPLES",
    "MEASURES",
    "POLICY_PARAMS",
    "Asset",
    "Binding",
    "Bom",
    "Component",
    "CostModel",
    "Costs",
    "Demand",
    "Device",
    "Lane",
    "LeadTime",
    "Location",
    "Network",
    "Penalty",
    "PolicySpec",
    "Product",
    "Site",
    "TransportRate",
    "UnknownIdError",
    "example_path",
    "load_network",
    "parse_network",
    "validate_data",
]

#: names accepted by :func:`example_path`
EXAMPLES: tuple[str, ...] = ("realistic", "tiny")


def example_path(name: str) -> Path:
    """Path of a packaged example network: ``"realistic"`` or ``"tiny"``."""
    if name not in EXAMPLES:
        raise DataError(f"unknown example network {name!r}; choose one of: {', '.join(EXAMPLES)}")
    return Path(str(resources.files("supplynet") / "examples" / f"{name}.yaml"))
