"""Unit parsing and conversion: the one place where units are known.

Canonical events carry SI units (metres, seconds, kelvin, kilograms, m/s, m/s², pascal) with the
unit in the field name (``temperature_k``, ``speed_m_s``). Devices and files may report other units;
:func:`to_si` converts a value for a quantity from the unit it was reported in.

>>> to_si("temperature", 21.5, "degC")
294.65
>>> to_si("speed", 36, "km/h")
10.0
>>> to_si("acceleration", 1, "g")
9.80665
"""

from __future__ import annotations

import math

from .errors import UnitError

__all__ = ["QUANTITIES", "SI_UNIT", "from_si", "normalize_unit", "to_si"]

ZERO_C_IN_K = 273.15

# quantity -> (SI unit, {unit alias: (factor, offset)}); SI value = value * factor + offset
_TABLE: dict[str, tuple[str, dict[str, tuple[float, float]]]] = {
    "temperature": ("K", {
        "k": (1.0, 0.0), "kelvin": (1.0, 0.0),
        "c": (1.0, ZERO_C_IN_K), "degc": (1.0, ZERO_C_IN_K), "°c": (1.0, ZERO_C_IN_K), "celsius": (1.0, ZERO_C_IN_K),
        "f": (5 / 9, ZERO_C_IN_K - 32 * 5 / 9), "degf": (5 / 9, ZERO_C_IN_K - 32 * 5 / 9),
        "°f": (5 / 9, ZERO_C_IN_K - 32 * 5 / 9), "fahrenheit": (5 / 9, ZERO_C_IN_K - 32 * 5 / 9),
    }),
    "length": ("m", {"m": (1.0, 0.0), "km": (1000.0, 0.0), "mi": (1609.344, 0.0), "ft": (0.3048, 0.0),
                     "cm": (0.01, 0.0), "mm": (0.001, 0.0), "nmi": (1852.0, 0.0)}),
    "speed": ("m/s", {"m/s": (1.0, 0.0), "km/h": (1 / 3.6, 0.0), "kmh": (1 / 3.6, 0.0), "kph": (1 / 3.6, 0.0),
                      "mph": (0.44704, 0.0), "kn": (0.514444, 0.0), "knot": (0.514444, 0.0)}),
    "acceleration": ("m/s2", {"m/s2": (1.0, 0.0), "m/s^2": (1.0, 0.0), "m/s²": (1.0, 0.0), "g": (9.80665, 0.0),
                              "mg": (0.00980665, 0.0)}),
    "time": ("s", {"s": (1.0, 0.0), "ms": (0.001, 0.0), "min": (60.0, 0.0), "h": (3600.0, 0.0), "d": (86400.0, 0.0)}),
    "mass": ("kg", {"kg": (1.0, 0.0), "g": (0.001, 0.0), "t": (1000.0, 0.0), "lb": (0.45359237, 0.0)}),
    "pressure": ("Pa", {"pa": (1.0, 0.0), "kpa": (1000.0, 0.0), "bar": (1e5, 0.0), "psi": (6894.757, 0.0),
                        "hpa": (100.0, 0.0)}),
    "ratio": ("1", {"1": (1.0, 0.0), "": (1.0, 0.0), "%": (0.01, 0.0), "percent": (0.01, 0.0), "fraction": (1.0, 0.0)}),
    "frequency": ("Hz", {"hz": (1.0, 0.0), "khz": (1000.0, 0.0), "rpm": (1 / 60, 0.0)}),
    "count": ("1", {"1": (1.0, 0.0), "": (1.0, 0.0), "unit": (1.0, 0.0), "units": (1.0, 0.0), "ea": (1.0, 0.0),
                    "each": (1.0, 0.0), "pcs": (1.0, 0.0), "dozen": (12.0, 0.0)}),
    "angle": ("deg", {"deg": (1.0, 0.0), "°": (1.0, 0.0), "rad": (180 / math.pi, 0.0)}),
}

#: quantity name -> canonical (SI) unit symbol
SI_UNIT: dict[str, str] = {q: si for q, (si, _) in _TABLE.items()}
QUANTITIES = frozenset(_TABLE)


def normalize_unit(unit: str | None) -> str:
    """Lower-case, strip spaces; ``None`` means the canonical unit."""
    return "" if unit is None else unit.strip().lower().replace(" ", "")


def _lookup(quantity: str, unit: str | None) -> tuple[float, float]:
    try:
        si, table = _TABLE[quantity]
    except KeyError:
        raise UnitError(f"unknown quantity {quantity!r}; known: {', '.join(sorted(_TABLE))}") from None
    key = normalize_unit(unit)
    if key == "" and unit is None:
        return 1.0, 0.0
    if key == normalize_unit(si):
        return 1.0, 0.0
    try:
        return table[key]
    except KeyError:
        raise UnitError(
            f"unit {unit!r} is not a unit of {quantity}; use one of: {', '.join(sorted(k for k in table if k))}"
        ) from None


def to_si(quantity: str, value: float, unit: str | None = None) -> float:
    """Convert ``value`` of ``quantity`` reported in ``unit`` to the SI unit (``None`` = already SI)."""
    factor, offset = _lookup(quantity, unit)
    return float(value) * factor + offset


def from_si(quantity: str, value: float, unit: str) -> float:
    """Convert an SI ``value`` of ``quantity`` to ``unit`` (for display)."""
    factor, offset = _lookup(quantity, unit)
    return (float(value) - offset) / factor
