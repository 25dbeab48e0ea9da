"""The network's one cost model: every KPI, decision option and report is priced here, in one currency.

    >>> from supplynet.model import load_network, example_path
    >>> cm = load_network(example_path("tiny")).cost_model
    >>> cm.currency
    'GBP'
    >>> round(cm.lost_sale("STORE-1", "BREAD-800G", 10), 2)   # the margin, 1.10 - 0.45, per unit lost
    6.5
    >>> cm.format(1234.5)
    'GBP 1,234.50'

One function per component; each takes quantities and returns money:

================  ==============================================================================
holding           units x days x unit cost x holding rate / 365 (rate: the product's
                  ``holding_cost_rate``, else ``costs.holding_rate``, else 0.25 a year)
ordering          orders x ``costs.ordering_cost``
transport         units x the lane's ``cost_per_unit`` + shipments x its ``fixed_cost_per_shipment``
                  (a lane giving neither takes its mode's rates from ``costs.transport``)
lost_sale         units lost x the penalty of the (site, sku) (``costs.penalties``; default the
                  product's ``shortage_cost``, which defaults to its margin ``price - unit_cost``)
backorder         units backordered x the backorder penalty + unit-days waiting x the daily penalty
expedite          (1 + ``costs.expedite_premium``) x the lane's transport cost
downtime          hours x the asset's ``costs.downtime_cost_per_hour`` (default: its
                  ``preventive_cost`` spread over ``maintenance_lead_time_days``, at least a day: the
                  crew and parts of a day down; the output lost is priced as lost sales, not here)
spoilage          units written off x ``costs.spoilage`` per unit (default: the unit cost)
================  ==============================================================================

So a disruption is never free: units it keeps from customers cost their margin (lost sales) or a
backorder penalty, and hours it keeps machines down cost their downtime.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["COMPONENTS", "CostModel"]

#: the components of a total cost, in report order
COMPONENTS: tuple[str, ...] = ("holding", "ordering", "transport", "lost_sale", "backorder", "expedite",
                               "downtime", "spoilage")

_DAYS_PER_YEAR = 365.0


class CostModel:
    """Prices of a :class:`~supplynet.model.Network` (use ``network.cost_model``)."""

    def __init__(self, network: Any) -> None:
        self.network = network
        costs = network.costs
        self.costs = costs
        self.currency: str = network.currency
        self._products = {p.sku: p for p in network.products}
        self._penalty = {(p.site, p.sku): p for p in costs.penalties}
        self._assets = {a.id: a for a in network.assets}

    # ---- per-unit rates --------------------------------------------------------------------------
    def unit_cost(self, sku: str) -> float:
        return float(self.network.product(sku).unit_cost)

    def price(self, sku: str) -> float:
        return float(self.network.product(sku).price)

    def margin(self, sku: str) -> float:
        """``price - unit_cost``, never below zero."""
        return max(self.price(sku) - self.unit_cost(sku), 0.0)

    def holding_per_day(self, sku: str) -> float:
        """Cost of holding one unit of ``sku`` for one day."""
        return float(self.network.product(sku).holding_cost_per_day)

    def _pen(self, site: str | None, sku: str, field: str) -> float | None:
        for key in ((site, sku), (None, sku)):
            p = self._penalty.get(key)
            if p is not None and getattr(p, field) is not None:
                return float(getattr(p, field))
        return None

    def lost_sale_rate(self, site: str | None, sku: str) -> float:
        """Penalty per unit of demand lost at ``site`` (default: the product's shortage cost, its margin)."""
        rate = self._pen(site, sku, "lost_sale")
        if rate is not None:
            return rate
        p = self.network.product(sku)
        return float(p.shortage_cost if p.shortage_cost is not None else self.margin(sku))

    def backorder_rate(self, site: str | None, sku: str) -> float:
        """Penalty per unit backordered, once (default: as a lost sale)."""
        rate = self._pen(site, sku, "backorder")
        return self.lost_sale_rate(site, sku) if rate is None else rate

    def backorder_rate_per_day(self, site: str | None, sku: str) -> float:
        """Penalty per unit and day a backorder waits (default: a tenth of the holding cost per day)."""
        rate = self._pen(site, sku, "backorder_per_day")
        return 0.1 * self.holding_per_day(sku) if rate is None else rate

    def shortage_rate(self, site: str, sku: str) -> float:
        """Per unit short at ``site``: the lost-sale penalty on a lost-sales site, else the backorder one."""
        if self.network.site(site).backorders:
            return self.backorder_rate(site, sku)
        return self.lost_sale_rate(site, sku)

    def downtime_rate(self, asset: str) -> float:
        """Cost per hour ``asset`` is down."""
        given = self.costs.downtime_cost_per_hour.get(asset)
        if given is not None:
            return float(given)
        a = self.network.asset(asset)
        return float(a.preventive_cost) / (24.0 * max(float(a.maintenance_lead_time_days), 1.0))

    def site_downtime_rate(self, site: str) -> float:
        """Cost per hour all the machines at ``site`` are down (what an outage there costs besides lost sales)."""
        return sum(self.downtime_rate(a.id) for a in self.network.assets if a.site == site and a.kind == "machine")

    def spoilage_rate(self, sku: str) -> float:
        """Write-off value per unit of ``sku``."""
        given = self.costs.spoilage.get(sku)
        return self.unit_cost(sku) if given is None else float(given)

    # ---- one function per component -------------------------------------------------------------
    def holding(self, sku: str, units: float, days: float = 1.0) -> float:
        return self.holding_per_day(sku) * float(units) * float(days)

    def ordering(self, orders: float = 1.0) -> float:
        return float(self.costs.ordering_cost) * float(orders)

    def transport(self, lane: str | Any, units: float, shipments: float = 1.0) -> float:
        ln = self.network.lane(lane) if isinstance(lane, str) else lane
        return float(ln.cost_per_unit) * float(units) + float(ln.fixed_cost_per_shipment) * float(shipments)

    def lost_sale(self, site: str | None, sku: str, units: float) -> float:
        return self.lost_sale_rate(site, sku) * float(units)

    def backorder(self, site: str | None, sku: str, units: float, unit_days: float = 0.0) -> float:
        return self.backorder_rate(site, sku) * float(units) + self.backorder_rate_per_day(site, sku) * float(unit_days)

    def shortage(self, site: str, sku: str, units: float) -> float:
        """Units short at ``site``: priced as lost sales or backorders, as the site works."""
        return self.shortage_rate(site, sku) * float(units)

    def expedite(self, lane: str | Any, units: float, shipments: float = 1.0) -> float:
        return (1.0 + float(self.costs.expedite_premium)) * self.transport(lane, units, shipments)

    def downtime(self, asset: str, hours: float) -> float:
        return self.downtime_rate(asset) * float(hours)

    def spoilage(self, sku: str, units: float) -> float:
        return self.spoilage_rate(sku) * float(units)

    # ---- money as text ---------------------------------------------------------------------------
    def format(self, amount: float, *, decimals: int = 2) -> str:
        """``GBP 1,234.50``: an amount with the currency (never a bare number)."""
        if amount is None or not math.isfinite(float(amount)):
            return f"{self.currency} -"
        return f"{self.currency} {float(amount):,.{decimals}f}"

    def describe(self) -> dict[str, Any]:
        """The cost model's settings (for reports and the API)."""
        return {"currency": self.currency, "ordering_cost": float(self.costs.ordering_cost),
                "expedite_premium": float(self.costs.expedite_premium),
                "holding_rate": None if self.costs.holding_rate is None else float(self.costs.holding_rate),
                "penalties": len(self.costs.penalties), "components": list(COMPONENTS)}
