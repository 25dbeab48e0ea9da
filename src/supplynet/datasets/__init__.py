"""Datasets: loaders of the public data sets into the canonical shapes the models read.

- :mod:`~supplynet.datasets.cmapss`: NASA C-MAPSS turbofan run-to-failure units (Saxena et al.,
  PHM08), and a generated wear fleet of the same shape;
- :mod:`~supplynet.datasets.femto`: FEMTO / PRONOSTIA bearing runs (Nectoux et al., PHM 2012);
- :mod:`~supplynet.datasets.scms`: the USAID SCMS Delivery History (shipments, messy cells reported);
- :mod:`~supplynet.datasets.walmart`: Walmart store-sales weekly series in Nixtla long format.

A loader reads files and returns frames or arrays; it fits no model (``sense`` does that), so it
imports only the foundation (errors) and is imported by sense, the commands, the fleet and the
benches. Every public name is here (imported on first use)::

    >>> from supplynet import datasets
    >>> datasets.load_cmapss is datasets.cmapss.load_cmapss
    True
"""

from __future__ import annotations

from .._lazy import lazy_exports

#: the public names of each public module (its ``__all__``)
_BY_MODULE: dict[str, tuple[str, ...]] = {
    "cmapss": ("CMAPSS_COLUMNS", "SENSOR_COLUMNS", "SETTING_COLUMNS", "CmapssSubset", "generate_wear_fleet",
        "load_cmapss", "read_table", "truncate_units", "write_cmapss_folder"),
    "femto": ("FEMTO_FS_HZ", "PRONOSTIA_BEARING", "FemtoRun", "load_femto_run"),
    "scms": ("CellIssue", "DataQualityReport", "load_scms"),
    "walmart": ("EXOG_COLUMNS", "HOLIDAY_WEIGHT", "find_walmart_dir", "load_walmart"),
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _BY_MODULE)
