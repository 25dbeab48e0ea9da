"""The one place that says which currency a network's money is in.

The network's cost model (``costs: {currency: ...}``, when the network file has one) names it; else the
network's top-level ``currency``; else :data:`DEFAULT_CURRENCY`. The dashboard, the API and the CLI
label every cost with what this returns, so a price never appears without its unit.

>>> currency_of(None)
'USD'
>>> class Net: currency = "GBP"
>>> currency_of(Net())
'GBP'
>>> class Costs: currency = "EUR"
>>> class Net2: currency = "GBP"; costs = Costs()
>>> currency_of(Net2())
'EUR'
>>> money(14183.92, "GBP")
'14,184 GBP'
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_CURRENCY", "currency_of", "money"]

#: when neither the cost model nor the network names one (the network model's own default)
DEFAULT_CURRENCY = "USD"


def _code(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("currency")
    elif value is not None and not isinstance(value, str):
        value = getattr(value, "currency", None)
    if isinstance(value, str) and len(value) == 3 and value.isalpha() and value.isupper():
        return value
    return None


def currency_of(network: Any, default: str = DEFAULT_CURRENCY) -> str:
    """The ISO 4217 code of ``network``'s money: its cost model's currency, else its own, else ``default``."""
    if network is None:
        return default
    return _code(getattr(network, "costs", None)) or _code(getattr(network, "currency", None)) or default


def money(value: float | None, currency: str, digits: int = 0) -> str:
    """``value`` with thousands separators and its currency code (``"–"`` when unknown)."""
    if value is None or value != value:  # None or NaN
        return "–"
    return f"{value:,.{digits}f} {currency}"
