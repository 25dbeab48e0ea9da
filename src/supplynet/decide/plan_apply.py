"""Apply an inventory plan to the network the loop runs: an audited change of its ``policies``.

The plan's rows (``site, sku, type`` and the levels of :data:`supplynet.decide.plan.POLICY_PARAMS`)
become exact ``policies`` entries of the network file (an entry for a SKU-site wins over its site's
``"*"`` entry, which stays); the rest of the file -- comments included -- is kept as it is. The new
file is validated as a network before it replaces the old one, and the store's hash-chained audit
log gets one ``plan.apply`` entry with the actor, the files, and the replaced and new policies.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from .plan import POLICY_PARAMS

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["apply_plan", "policies_from_plan"]


def policies_from_plan(frame: Any) -> list[dict[str, Any]]:
    """Network ``policies`` entries of a plan frame; a bad row is a :class:`DataError` naming it."""
    missing = [c for c in ("site", "sku", "type") if c not in frame.columns]
    if missing:
        raise DataError(f"plan: missing column(s) {missing} (a file of supplynet plan inventory has them)")
    out = []
    for n, row in enumerate(frame.to_dict("records"), start=1):
        kind = str(row["type"])
        if kind not in POLICY_PARAMS:
            raise DataError(f"plan row {n}: unknown type {kind!r}; use one of {', '.join(POLICY_PARAMS)}")
        params = {}
        for name, column in POLICY_PARAMS[kind].items():
            v = row.get(column)
            try:
                x = float(v)
            except (TypeError, ValueError):
                x = math.nan
            if not math.isfinite(x):
                raise DataError(f"plan row {n} ({row['site']}/{row['sku']}): {column} is missing or not a number "
                                f"(a {kind} policy needs it for {name})")
            params[name] = round(max(x, 0.0), 4)
        if "s" in params and params["s"] > params["S"]:
            raise DataError(f"plan row {n}: reorder_point {params['s']} above order_up_to {params['S']}")
        out.append({"site": str(row["site"]), "sku": str(row["sku"]), "type": kind, "params": params})
    keys = [(p["site"], p["sku"]) for p in out]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise DataError(f"plan: two rows for {dup[0]}/{dup[1]}")
    return out


def apply_plan(frame: Any, network_file: str | Path, out_file: str | Path, store: Store, *, actor: str,
               plan_file: str = "") -> dict[str, Any]:
    """Write the plan into the network file's policies (validated first) and audit the change."""
    from ruamel.yaml import YAML

    from ..model import load_network

    src, dst = Path(network_file), Path(out_file)
    net = load_network(src)  # the plan applies to a valid network
    new = policies_from_plan(frame)
    for p in new:
        net.site(p["site"])
        net.product(p["sku"])
    if not store.has_table("audit"):
        raise DataError("the store has no audit log (run supplynet with a current store)")
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # keep long flow lines as they are
    yaml.indent(mapping=2, sequence=4, offset=2)
    data = yaml.load(src.read_text(encoding="utf-8"))
    old = list(data.get("policies") or [])
    planned = {(p["site"], p["sku"]) for p in new}
    replaced = [dict(p) for p in old if (p.get("site"), p.get("sku", "*")) in planned]
    kept = [p for p in old if (p.get("site"), p.get("sku", "*")) not in planned]
    data["policies"] = kept + [_flow(p) for p in new]
    buf = io.StringIO()
    yaml.dump(data, buf)
    fd, tmp = tempfile.mkstemp(prefix=".plan-", suffix=".yaml", dir=str(dst.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(buf.getvalue())
        load_network(tmp)  # the new file must be a valid network before it replaces anything
        entry = store.audit.append(actor, "plan.apply", net.name, {
            "plan_file": plan_file, "network_file": str(dst), "policies": len(new),
            "replaced": [{k: _plain(v) for k, v in p.items()} for p in replaced], "new": new})
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"network": net.name, "policies_set": len(new), "replaced": len(replaced), "kept": len(kept),
            "out": str(dst), "audit_seq": entry.seq}


def _flow(entry: dict[str, Any]) -> Any:
    from ruamel.yaml.comments import CommentedMap

    m = CommentedMap(entry)
    m.fa.set_flow_style()  # one line per policy, as the examples write them
    return m


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v
