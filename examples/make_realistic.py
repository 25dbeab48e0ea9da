"""Generate examples/realistic.yaml: a grocery and home-care network in England and Wales.

Run from the repo root: ``.venv/bin/python examples/make_realistic.py`` (writes
examples/realistic.yaml and its packaged copy src/supplynet/examples/realistic.yaml).
Seeded, so the output is the same on every run; commit it.

4 suppliers (Norwich, Crewe, Felixstowe port, Grimsby), 2 plants (a bakery and ready-meal
kitchen in Leicester, a home-care bottling plant in Warrington), 3 DCs (Daventry, Doncaster,
Avonmouth), 20 stores in real towns served from their nearest DC, 50 skus (10 components,
13 made at the plants, 27 bought in; chilled and frozen ones perishable), lead times from road
distance, trucks with GPS trackers, reefers with GPS and temperature loggers, machines with
machine and vibration sensors, stores with POS terminals and shelf sensors.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

SEED = 20240101
ROOT = Path(__file__).resolve().parent.parent
OUTPUTS = [ROOT / "examples" / "realistic.yaml", ROOT / "src" / "supplynet" / "examples" / "realistic.yaml"]

# id: (name, city, lat, lon)
SUPPLIERS = {
    "SUP-NOR": ("Anglia Mills & Farms", "Norwich", 52.6309, 1.2974),
    "SUP-CRW": ("Cheshire Dairies", "Crewe", 53.0979, -2.4416),
    "SUP-FXT": ("Felixstowe Import Hub", "Felixstowe", 51.9630, 1.3511),
    "SUP-GRM": ("Humber Foods", "Grimsby", 53.5675, -0.0802),
}
PLANTS = {
    "PLT-LEI": ("Midlands Kitchen (bakery and ready meals)", "Leicester", 52.6369, -1.1398),
    "PLT-WAR": ("Mersey Home Care (bottling)", "Warrington", 53.3900, -2.5970),
}
DCS = {
    "DC-DAV": ("Daventry DC (DIRFT)", "Daventry", 52.2890, -1.1990),
    "DC-DON": ("Doncaster DC (iPort)", "Doncaster", 53.4750, -1.0900),
    "DC-AVO": ("Avonmouth DC", "Bristol", 51.5050, -2.6980),
}
# id: (town, lat, lon, size factor, format)
STORES = {
    "ST-LON": ("London", 51.5074, -0.1278, 1.8, "superstore"),
    "ST-BHM": ("Birmingham", 52.4862, -1.8904, 1.5, "superstore"),
    "ST-MAN": ("Manchester", 53.4808, -2.2426, 1.5, "superstore"),
    "ST-LDS": ("Leeds", 53.8008, -1.5491, 1.3, "superstore"),
    "ST-SHF": ("Sheffield", 53.3811, -1.4701, 1.1, "superstore"),
    "ST-NOT": ("Nottingham", 52.9548, -1.1581, 1.0, "superstore"),
    "ST-BRS": ("Bristol", 51.4545, -2.5879, 1.2, "superstore"),
    "ST-CDF": ("Cardiff", 51.4816, -3.1791, 1.0, "superstore"),
    "ST-LIV": ("Liverpool", 53.4084, -2.9916, 1.2, "superstore"),
    "ST-NCL": ("Newcastle upon Tyne", 54.9783, -1.6178, 1.1, "superstore"),
    "ST-YRK": ("York", 53.9600, -1.0873, 0.5, "local"),
    "ST-OXF": ("Oxford", 51.7520, -1.2577, 0.6, "local"),
    "ST-CAM": ("Cambridge", 52.2053, 0.1218, 0.6, "local"),
    "ST-COV": ("Coventry", 52.4068, -1.5197, 0.9, "superstore"),
    "ST-RDG": ("Reading", 51.4543, -0.9781, 0.9, "superstore"),
    "ST-SOU": ("Southampton", 50.9097, -1.4044, 1.0, "superstore"),
    "ST-EXE": ("Exeter", 50.7184, -3.5339, 0.5, "local"),
    "ST-HUL": ("Hull", 53.7676, -0.3274, 0.8, "superstore"),
    "ST-STK": ("Stoke-on-Trent", 53.0027, -2.1794, 0.6, "local"),
    "ST-MKY": ("Milton Keynes", 52.0406, -0.7594, 1.0, "local"),
}

# sku: (name, category, source, unit_cost, price, shelf_life_days, storage, pack_size, moq,
#       base demand per day at a size-1 superstore or None when stores do not sell it)
PRODUCTS = {
    # components, bought by the plants
    "FLOUR-25KG": ("Bread flour, 25 kg sack", "component", "SUP-NOR", 9.50, 12.00, None, "ambient", 1, 40, None),
    "SUGAR-25KG": ("Granulated sugar, 25 kg sack", "component", "SUP-NOR", 14.00, 17.50, None, "ambient", 1, 20, None),
    "BUTTER-10KG": ("Butter block, 10 kg", "component", "SUP-CRW", 52.00, 60.00, 60, "chilled", 1, 10, None),
    "CHEESE-20KG": ("Mature cheddar block, 20 kg", "component", "SUP-CRW", 98.00, 115.00, 90, "chilled", 1, 5, None),
    "MINCE-10KG": ("Beef mince, 10 kg", "component", "SUP-GRM", 58.00, 66.00, 8, "chilled", 1, 10, None),
    "CHICKEN-10KG": ("Diced chicken breast, 10 kg", "component", "SUP-GRM", 61.00, 70.00, 7, "chilled", 1, 10, None),
    "MEAL-TRAY": ("Ovenable meal tray with film", "component", "SUP-FXT", 0.06, 0.08, None, "ambient", 500, 5000, None),
    "SURFACTANT-IBC": ("Surfactant blend, 1000 l IBC", "component", "SUP-FXT", 820.00, 900.00, None, "ambient", 1, 2, None),
    "FRAGRANCE-25L": ("Fragrance concentrate, 25 l drum", "component", "SUP-FXT", 210.00, 240.00, None, "ambient", 1, 4, None),
    "BOTTLE-HDPE": ("HDPE bottle with cap", "component", "SUP-FXT", 0.09, 0.11, None, "ambient", 400, 8000, None),
    # made at PLT-LEI
    "BREAD-WHITE-800G": ("White loaf 800 g", "bakery", "PLT-LEI", 0.42, 1.10, 4, "ambient", 12, 0, 95),
    "BREAD-BROWN-800G": ("Wholemeal loaf 800 g", "bakery", "PLT-LEI", 0.46, 1.25, 4, "ambient", 12, 0, 55),
    "ROLLS-6PK": ("Soft white rolls, 6 pack", "bakery", "PLT-LEI", 0.38, 0.95, 3, "ambient", 10, 0, 40),
    "CROISSANT-4PK": ("All-butter croissants, 4 pack", "bakery", "PLT-LEI", 0.70, 1.80, 3, "ambient", 8, 0, 25),
    "LASAGNE-400G": ("Beef lasagne 400 g", "ready meal", "PLT-LEI", 1.35, 3.50, 6, "chilled", 6, 0, 22),
    "COTTAGE-PIE-400G": ("Cottage pie 400 g", "ready meal", "PLT-LEI", 1.20, 3.25, 6, "chilled", 6, 0, 16),
    "CHICKEN-CURRY-400G": ("Chicken tikka masala 400 g", "ready meal", "PLT-LEI", 1.40, 3.75, 6, "chilled", 6, 0, 20),
    "MAC-CHEESE-400G": ("Macaroni cheese 400 g", "ready meal", "PLT-LEI", 0.95, 2.75, 6, "chilled", 6, 0, 14),
    # made at PLT-WAR
    "LAUNDRY-LIQ-1L": ("Laundry liquid 1 l", "home care", "PLT-WAR", 1.10, 4.50, None, "ambient", 12, 0, 12),
    "WASHUP-LIQ-500ML": ("Washing-up liquid 500 ml", "home care", "PLT-WAR", 0.35, 1.20, None, "ambient", 12, 0, 18),
    "BLEACH-750ML": ("Thick bleach 750 ml", "home care", "PLT-WAR", 0.25, 0.90, None, "ambient", 12, 0, 10),
    "SOFTENER-1L": ("Fabric conditioner 1 l", "home care", "PLT-WAR", 0.80, 3.00, None, "ambient", 12, 0, 8),
    "SPRAY-500ML": ("Multi-surface spray 500 ml", "home care", "PLT-WAR", 0.45, 1.75, None, "ambient", 12, 0, 9),
    # bought in, to the DCs
    "APPLES-1KG": ("Gala apples 1 kg", "produce", "SUP-NOR", 0.90, 1.90, 14, "chilled", 10, 0, 30),
    "POTATOES-2KG": ("White potatoes 2 kg", "produce", "SUP-NOR", 0.70, 1.45, 21, "ambient", 8, 0, 35),
    "CARROTS-1KG": ("Carrots 1 kg", "produce", "SUP-NOR", 0.35, 0.75, 14, "chilled", 10, 0, 28),
    "ONIONS-1KG": ("Brown onions 1 kg", "produce", "SUP-NOR", 0.40, 0.89, 28, "ambient", 10, 0, 24),
    "STRAWBERRIES-400G": ("Strawberries 400 g", "produce", "SUP-NOR", 1.20, 2.50, 4, "chilled", 8, 0, 18),
    "MILK-2L": ("Semi-skimmed milk 2 l", "dairy", "SUP-CRW", 0.85, 1.45, 10, "chilled", 6, 0, 120),
    "CHEDDAR-400G": ("Mature cheddar 400 g", "dairy", "SUP-CRW", 1.90, 3.60, 60, "chilled", 10, 0, 26),
    "YOGHURT-500G": ("Greek-style yoghurt 500 g", "dairy", "SUP-CRW", 0.65, 1.40, 18, "chilled", 8, 0, 22),
    "BUTTER-250G": ("Salted butter 250 g", "dairy", "SUP-CRW", 1.10, 2.10, 60, "chilled", 20, 0, 30),
    "EGGS-6": ("Free-range eggs, 6", "dairy", "SUP-CRW", 0.95, 1.95, 28, "ambient", 12, 0, 34),
    "CREAM-300ML": ("Double cream 300 ml", "dairy", "SUP-CRW", 0.70, 1.35, 10, "chilled", 12, 0, 11),
    "FISH-FINGERS-10": ("Cod fish fingers, 10", "frozen", "SUP-GRM", 1.05, 2.40, 365, "frozen", 12, 0, 14),
    "PRAWNS-250G": ("Cooked king prawns 250 g", "frozen", "SUP-GRM", 1.80, 3.75, 270, "frozen", 10, 0, 8),
    "COD-400G": ("Skinless cod fillets 400 g", "frozen", "SUP-GRM", 2.40, 4.50, 365, "frozen", 8, 0, 7),
    "PEAS-1KG": ("Garden peas 1 kg", "frozen", "SUP-GRM", 0.70, 1.40, 540, "frozen", 10, 0, 16),
    "BANANAS-5PK": ("Bananas, 5 pack", "produce", "SUP-FXT", 0.45, 0.95, 6, "ambient", 10, 0, 38),
    "PASTA-500G": ("Fusilli 500 g", "ambient", "SUP-FXT", 0.32, 0.75, None, "ambient", 20, 0, 40),
    "RICE-1KG": ("Long-grain rice 1 kg", "ambient", "SUP-FXT", 0.60, 1.35, None, "ambient", 12, 0, 22),
    "TOMATOES-400G": ("Chopped tomatoes 400 g", "ambient", "SUP-FXT", 0.22, 0.55, None, "ambient", 24, 0, 45),
    "COFFEE-200G": ("Instant coffee 200 g", "ambient", "SUP-FXT", 2.60, 5.50, None, "ambient", 6, 0, 9),
    "TEA-80": ("Tea bags, 80", "ambient", "SUP-FXT", 1.05, 2.50, None, "ambient", 12, 0, 15),
    "OLIVE-OIL-500ML": ("Olive oil 500 ml", "ambient", "SUP-FXT", 3.10, 5.75, None, "ambient", 6, 0, 7),
    "CEREAL-500G": ("Corn flakes 500 g", "ambient", "SUP-FXT", 0.85, 2.00, None, "ambient", 10, 0, 19),
    "BISCUITS-300G": ("Digestive biscuits 300 g", "ambient", "SUP-FXT", 0.45, 1.10, None, "ambient", 20, 0, 21),
    "CRISPS-6PK": ("Ready salted crisps, 6 pack", "ambient", "SUP-FXT", 0.85, 1.90, None, "ambient", 12, 0, 26),
    "CHICKPEAS-400G": ("Chickpeas in water 400 g", "ambient", "SUP-FXT", 0.28, 0.65, None, "ambient", 24, 0, 12),
    "KITCHEN-ROLL-4PK": ("Kitchen roll, 4 pack", "ambient", "SUP-FXT", 1.40, 3.00, None, "ambient", 6, 0, 16),
}
# local stores do not carry these
NOT_AT_LOCAL = {"FISH-FINGERS-10", "PRAWNS-250G", "COD-400G", "PEAS-1KG", "OLIVE-OIL-500ML", "CHICKPEAS-400G",
                "CROISSANT-4PK", "MAC-CHEESE-400G", "SOFTENER-1L", "SPRAY-500ML", "RICE-1KG", "COFFEE-200G"}

# plant, output: (components {sku: qty per unit}, machines, rate_per_day, lead_time_days)
BOMS = {
    ("PLT-LEI", "BREAD-WHITE-800G"): ({"FLOUR-25KG": 0.02, "SUGAR-25KG": 0.0004, "BUTTER-10KG": 0.001},
                                      ["MIXER-LEI-1", "OVEN-LEI-1"], 4000, 0.5),
    ("PLT-LEI", "BREAD-BROWN-800G"): ({"FLOUR-25KG": 0.021, "SUGAR-25KG": 0.0006, "BUTTER-10KG": 0.001},
                                      ["MIXER-LEI-1", "OVEN-LEI-1"], 2500, 0.5),
    ("PLT-LEI", "ROLLS-6PK"): ({"FLOUR-25KG": 0.016, "BUTTER-10KG": 0.0015}, ["MIXER-LEI-1", "OVEN-LEI-1"], 2000, 0.5),
    ("PLT-LEI", "CROISSANT-4PK"): ({"FLOUR-25KG": 0.008, "BUTTER-10KG": 0.01, "SUGAR-25KG": 0.0008},
                                   ["MIXER-LEI-1", "OVEN-LEI-1"], 1200, 0.5),
    ("PLT-LEI", "LASAGNE-400G"): ({"MINCE-10KG": 0.012, "CHEESE-20KG": 0.002, "FLOUR-25KG": 0.002, "MEAL-TRAY": 1},
                                  ["MEALLINE-LEI-1", "OVEN-LEI-1"], 1200, 1.0),
    ("PLT-LEI", "COTTAGE-PIE-400G"): ({"MINCE-10KG": 0.015, "BUTTER-10KG": 0.002, "MEAL-TRAY": 1},
                                      ["MEALLINE-LEI-1", "OVEN-LEI-1"], 900, 1.0),
    ("PLT-LEI", "CHICKEN-CURRY-400G"): ({"CHICKEN-10KG": 0.015, "MEAL-TRAY": 1}, ["MEALLINE-LEI-1"], 1100, 1.0),
    ("PLT-LEI", "MAC-CHEESE-400G"): ({"CHEESE-20KG": 0.005, "FLOUR-25KG": 0.004, "BUTTER-10KG": 0.002,
                                      "MEAL-TRAY": 1}, ["MEALLINE-LEI-1", "OVEN-LEI-1"], 800, 1.0),
    ("PLT-WAR", "LAUNDRY-LIQ-1L"): ({"SURFACTANT-IBC": 0.0003, "FRAGRANCE-25L": 0.0002, "BOTTLE-HDPE": 1},
                                    ["FILLER-WAR-1", "CAPPER-WAR-1", "LABELLER-WAR-1"], 3000, 0.5),
    ("PLT-WAR", "WASHUP-LIQ-500ML"): ({"SURFACTANT-IBC": 0.00015, "FRAGRANCE-25L": 0.0001, "BOTTLE-HDPE": 1},
                                      ["FILLER-WAR-1", "CAPPER-WAR-1", "LABELLER-WAR-1"], 4000, 0.5),
    ("PLT-WAR", "BLEACH-750ML"): ({"SURFACTANT-IBC": 0.00005, "BOTTLE-HDPE": 1},
                                  ["FILLER-WAR-1", "CAPPER-WAR-1", "LABELLER-WAR-1"], 3000, 0.5),
    ("PLT-WAR", "SOFTENER-1L"): ({"SURFACTANT-IBC": 0.0002, "FRAGRANCE-25L": 0.0004, "BOTTLE-HDPE": 1},
                                 ["FILLER-WAR-1", "CAPPER-WAR-1", "LABELLER-WAR-1"], 2000, 0.5),
    ("PLT-WAR", "SPRAY-500ML"): ({"SURFACTANT-IBC": 0.0001, "FRAGRANCE-25L": 0.0001, "BOTTLE-HDPE": 1},
                                 ["FILLER-WAR-1", "CAPPER-WAR-1", "LABELLER-WAR-1"], 2000, 0.5),
}
# id: (plant, name, failure_cost, preventive_cost, maintenance_lead_time_days)
MACHINES = {
    "MIXER-LEI-1": ("PLT-LEI", "Spiral dough mixer", 14000, 1800, 1.0),
    "OVEN-LEI-1": ("PLT-LEI", "Tunnel oven", 42000, 5200, 2.0),
    "MEALLINE-LEI-1": ("PLT-LEI", "Ready-meal assembly and sealing line", 35000, 4100, 2.0),
    "FILLER-WAR-1": ("PLT-WAR", "Rotary bottle filler", 28000, 3500, 1.5),
    "CAPPER-WAR-1": ("PLT-WAR", "Capping machine", 9000, 1200, 1.0),
    "LABELLER-WAR-1": ("PLT-WAR", "Wrap-around labeller", 7000, 900, 1.0),
}
# days from order to dispatch, by origin (or by the kind prefix of its id)
HANDLING_DAYS = {"SUP-FXT": 3.0, "SUP": 2.0, "PLT": 1.0, "DC": 0.5}
# lanes that run by rail instead of road
RAIL = {("SUP-FXT", "DC-DAV"), ("SUP-FXT", "PLT-WAR")}
# a few lanes with their road route (lat, lon) through motorway junctions
ROUTES = {
    ("DC-DAV", "ST-LON"): [(52.2890, -1.1990), (52.0406, -0.7594), (51.8787, -0.4200), (51.6560, -0.3903),
                           (51.5074, -0.1278)],
    ("DC-DON", "ST-NCL"): [(53.4750, -1.0900), (53.7960, -1.2840), (54.2766, -1.5410), (54.5236, -1.5500),
                           (54.9783, -1.6178)],
    ("DC-AVO", "ST-EXE"): [(51.5050, -2.6980), (51.3470, -2.9770), (51.0150, -3.1000), (50.9030, -3.3900),
                           (50.7184, -3.5339)],
}


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km (haversine)."""
    (la1, lo1), (la2, lo2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


_SAFE = re.compile(r"[A-Za-z][A-Za-z0-9 _./()&'-]*")


def _fmt(value: object) -> str:
    if isinstance(value, str):
        plain = _SAFE.fullmatch(value) and value.lower() not in ("true", "false", "null", "yes", "no", "on", "off")
        return value if plain else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def flow(entry: dict) -> str:
    return "  - " + _fmt({k: v for k, v in entry.items() if v is not None})


def main() -> str:
    rng = np.random.default_rng(SEED)
    where = {**{k: (v[2], v[3]) for d in (SUPPLIERS, PLANTS, DCS) for k, v in d.items()},
             **{k: (v[1], v[2]) for k, v in STORES.items()}}
    out = [
        "# supplynet realistic example: a grocery and home-care network in England and Wales.",
        "# GENERATED by examples/make_realistic.py (seeded): edit the script and re-run it, not this file.",
        "# Coordinates are the real towns; lead times are order handling plus road distance (1.25 x great circle).",
        "name: uk-grocery",
        "description: 4 suppliers, 2 plants with machines, 3 DCs and 20 stores selling 40 of 50 skus.",
        "start: 2024-01-01",
        "",
        "sites:",
    ]
    for sid, (name, city, lat, lon) in SUPPLIERS.items():
        out.append(flow({"id": sid, "name": name, "kind": "supplier", "city": city,
                         "location": {"lat": lat, "lon": lon}}))
    for sid, (name, city, lat, lon) in PLANTS.items():
        out.append(flow({"id": sid, "name": name, "kind": "plant", "city": city, "location": {"lat": lat, "lon": lon},
                         "capacity_per_day": 20000.0, "storage_capacity": 60000.0}))
    for sid, (name, city, lat, lon) in DCS.items():
        out.append(flow({"id": sid, "name": name, "kind": "dc", "city": city, "location": {"lat": lat, "lon": lon},
                         "capacity_per_day": 60000.0, "storage_capacity": 400000.0}))
    nearest = {}
    for sid, (town, lat, lon, size, fmt) in STORES.items():
        nearest[sid] = min(DCS, key=lambda d: km(where[d], (lat, lon)))
        label = "Superstore" if fmt == "superstore" else "Local"
        out.append(flow({"id": sid, "name": f"{town} {label}", "kind": "store", "city": town,
                         "location": {"lat": lat, "lon": lon}, "storage_capacity": round(9000.0 * size),
                         "backorders": False}))

    out += ["", "products:"]
    for sku, (name, cat, _src, cost, price, life, storage, pack, moq, _d) in PRODUCTS.items():
        out.append(flow({"sku": sku, "name": name, "category": cat, "unit_cost": cost, "price": price,
                         "holding_cost_rate": 0.3 if storage != "ambient" else 0.22, "pack_size": pack,
                         "moq": float(moq) if moq else None, "shelf_life_days": float(life) if life else None,
                         "storage": storage if storage != "ambient" else None}))

    # ---- lanes --------------------------------------------------------------------------------
    lanes: list[dict] = []
    lane_of: dict[tuple[str, str], str] = {}

    def add_lane(origin: str, dest: str, skus: list[str] | None) -> None:
        dist = 1.25 * km(where[origin], where[dest])
        rail = (origin, dest) in RAIL
        handling = HANDLING_DAYS.get(origin, HANDLING_DAYS[origin.split("-")[0]])  # order processing
        if rail:
            mean = handling + 0.5 + dist / 400.0
            lead = {"dist": "normal", "mean_days": round(mean, 2), "std_days": round(0.3 * mean, 2)}
            per_unit, fixed = 0.01 + 0.00025 * dist, 600.0 + 0.9 * dist
        else:
            mean = handling + dist / 600.0
            lead = {"dist": "gamma", "mean_days": round(mean, 2), "std_days": round(0.2 * mean, 2)}
            per_unit, fixed = 0.02 + 0.0004 * dist, 150.0 + 1.2 * dist
        if origin.startswith("SUP") and dest.startswith("PLT"):
            per_unit *= 8  # bulk sacks, IBCs and drums
        lane_id = f"L-{origin.split('-')[1]}-{dest.split('-')[1]}"
        lane_of[(origin, dest)] = lane_id
        lanes.append({"id": lane_id, "origin": origin, "destination": dest, "mode": "rail" if rail else "truck",
                      "lead_time": lead, "cost_per_unit": round(per_unit, 3),
                      "fixed_cost_per_shipment": round(fixed, 0), "distance_km": round(dist, 1),
                      "capacity_per_day": 30000.0 if dest.startswith("ST") else None, "skus": skus,
                      "route": ROUTES.get((origin, dest))})

    for sup in SUPPLIERS:
        for plant in PLANTS:
            needed = sorted({c for (p, _), (comps, *_r) in BOMS.items() if p == plant for c in comps
                             if PRODUCTS[c][2] == sup})
            if needed:
                add_lane(sup, plant, needed)
    for plant in PLANTS:
        made = [out_sku for (p, out_sku) in BOMS if p == plant]
        for dc in DCS:
            add_lane(plant, dc, made)
    for sup in SUPPLIERS:
        direct = [s for s, v in PRODUCTS.items() if v[2] == sup and v[1] != "component"]
        for dc in DCS:
            add_lane(sup, dc, direct)
    for store, dc in nearest.items():
        add_lane(dc, store, None)
    out += ["", "lanes:"] + [flow(lane) for lane in lanes]

    out += ["", "boms:"]
    for (plant, sku), (comps, machines, rate, lead) in BOMS.items():
        out.append(flow({"plant": plant, "output_sku": sku,
                         "components": [{"sku": c, "quantity": q} for c, q in comps.items()],
                         "rate_per_day": float(rate), "lead_time_days": lead, "machines": machines}))

    # ---- demand: every store x every sku it sells ---------------------------------------------
    out += ["", "demand:"]
    sold = [s for s, v in PRODUCTS.items() if v[9] is not None]
    for store, (_town, _lat, _lon, size, fmt) in STORES.items():
        for sku in sold:
            if fmt == "local" and sku in NOT_AT_LOCAL:
                continue
            base, cat = PRODUCTS[sku][9], PRODUCTS[sku][1]
            mean = base * size * float(rng.lognormal(0.0, 0.2))
            cv = {"bakery": 0.3, "ready meal": 0.35, "produce": 0.35, "dairy": 0.25}.get(cat, 0.45)
            out.append(flow({"site": store, "sku": sku, "mean_per_day": round(mean, 1),
                             "cv": round(cv * float(rng.uniform(0.85, 1.15)), 2)}))

    # ---- assets and devices --------------------------------------------------------------------
    assets: list[dict] = []
    devices: list[dict] = []
    for mid, (plant, name, fail, prev, mlt) in MACHINES.items():
        assets.append({"id": mid, "kind": "machine", "site": plant, "name": name, "failure_cost": float(fail),
                       "preventive_cost": float(prev), "maintenance_lead_time_days": mlt})
        devices.append({"id": f"MS-{mid}", "kind": "machine_sensor", "measures": ["machine"],
                        "bound_to": {"asset": mid}, "report_interval_s": 60.0})
        devices.append({"id": f"VS-{mid}", "kind": "vibration_sensor", "measures": ["vibration"],
                        "bound_to": {"asset": mid}, "report_interval_s": 600.0})
    reefer_lanes = [(o, d) for (o, d) in lane_of if o in ("SUP-CRW", "SUP-GRM", "PLT-LEI")
                    or (o == "SUP-NOR" and d.startswith("DC"))]
    truck_lanes = [(o, d) for (o, d) in lane_of if (o, d) not in reefer_lanes and (o, d) not in RAIL]
    for o, d in truck_lanes:
        lane_id = lane_of[(o, d)]
        tid = "TRK-" + lane_id[2:]
        assets.append({"id": tid, "kind": "truck", "site": o, "name": f"Truck on {lane_id}", "lane": lane_id})
        devices.append({"id": f"GPS-{tid}", "kind": "gps_tracker", "measures": ["position"],
                        "bound_to": {"asset": tid}, "report_interval_s": 30.0})
    for o, d in reefer_lanes:
        lane_id = lane_of[(o, d)]
        rid = "RFR-" + lane_id[2:]
        frozen = o == "SUP-GRM" and d.startswith("DC")
        assets.append({"id": rid, "kind": "reefer", "site": o, "name": f"Reefer on {lane_id}", "lane": lane_id,
                       "temperature_limit_c": -18.0 if frozen else 5.0})
        devices.append({"id": f"GPS-{rid}", "kind": "gps_tracker", "measures": ["position"],
                        "bound_to": {"asset": rid}, "report_interval_s": 30.0})
        devices.append({"id": f"TL-{rid}", "kind": "temperature_logger", "measures": ["temperature", "humidity", "door"],
                        "bound_to": {"asset": rid}, "report_interval_s": 120.0})
    for store in STORES:
        devices.append({"id": f"POS-{store}", "kind": "pos_terminal", "measures": ["sale"],
                        "bound_to": {"site": store}, "report_interval_s": 300.0, "scheme": "hmac-sha256"})
        devices.append({"id": f"SHELF-{store}", "kind": "shelf_sensor", "measures": ["stock_count"],
                        "bound_to": {"site": store}, "report_interval_s": 900.0})
    for dc in DCS:
        devices.append({"id": f"RFID-{dc}", "kind": "rfid_reader", "measures": ["stock_count"],
                        "bound_to": {"site": dc}, "report_interval_s": 300.0})
    out += ["", "assets:"] + [flow(a) for a in assets]
    out += ["", "# devices sign with Ed25519 unless they say otherwise; the POS terminals (many small sale messages)",
            "# use scheme: hmac-sha256 (a symmetric secret, kept sealed under the vault key)",
            "devices:"] + [flow(d) for d in devices]

    # ---- policies --------------------------------------------------------------------------------
    pol: list[dict] = []
    for plant in PLANTS:
        pol.append({"site": plant, "sku": "*", "type": "RQ", "service_level": 0.98})
    perishable_sold = [s for s in sold if PRODUCTS[s][5] is not None and PRODUCTS[s][5] <= 21]
    for dc in DCS:
        pol.append({"site": dc, "sku": "*", "type": "sS", "service_level": 0.98})
        for sku in perishable_sold:
            pol.append({"site": dc, "sku": sku, "type": "RS", "params": {"R": 1.0}, "service_level": 0.97})
    pol.append({"site": "DC-DAV", "sku": "PASTA-500G", "type": "sS", "params": {"s": 1800.0, "S": 5400.0}})
    pol.append({"site": "DC-DON", "sku": "TOMATOES-400G", "type": "RQ", "params": {"r": 1500.0, "Q": 2400.0}})
    for store, (_t, _la, _lo, _size, fmt) in STORES.items():
        pol.append({"site": store, "sku": "*", "type": "base_stock" if fmt == "superstore" else "RS",
                    "params": {"R": 2.0} if fmt == "local" else None, "service_level": 0.95})
        for sku in ("BREAD-WHITE-800G", "BREAD-BROWN-800G"):
            pol.append({"site": store, "sku": sku, "type": "newsvendor"})
    out += ["", "policies:"] + [flow(p) for p in pol]
    out += COSTS
    return "\n".join(out) + "\n"


#: the one cost model (supplynet.model.CostModel): unit costs and prices stay on the products, transport on the lanes
COSTS = [
    "",
    "# One cost model prices every KPI, decision option and report, in its currency (supplynet.model.CostModel).",
    "# Unit cost, price (so the margin) and holding rate sit on the products, transport costs on the lanes.",
    "costs:",
    "  currency: GBP",
    "  holding_rate: 0.25        # a year, of unit cost, for products that give none",
    "  ordering_cost: 0.5        # one order line (a sku at a site; orders go by EDI, a line costs cents)",
    "  expedite_premium: 0.6     # an expedited load costs 1.6x its lane's transport",
    "  penalties:                # a lost sale costs its margin unless said here",
    "    - {sku: MILK-2L, lost_sale: 0.9}            # a shopper without milk often leaves the basket",
    "    - {sku: BREAD-WHITE-800G, lost_sale: 0.85}",
    "  downtime_cost_per_hour:   # crew and overheads idle while a line is down (lost output: priced as lost sales)",
    "    OVEN-LEI-1: 220",
    "    MEALLINE-LEI-1: 180",
    "    FILLER-WAR-1: 150",
    "  spoilage:                 # write-off value per unit (default: its unit cost); chilled goods add disposal",
    "    MILK-2L: 0.95",
    "    STRAWBERRIES-400G: 1.3",
]


if __name__ == "__main__":
    text = main()
    for path in OUTPUTS:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
