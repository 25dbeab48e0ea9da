"""Every CLI time and number option, given extreme or malformed values (NaN, inf, huge integers,
datetimes outside UTC, unicode): exit code 2, a clear message, never a traceback, never a run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.events import parse_time
from supplynet.security.devices import DeviceRegistry
from supplynet.store import open_store

runner = CliRunner()
DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TINY = Path(__file__).resolve().parents[2] / "examples" / "tiny.yaml"

#: numbers no option accepts: not finite, or beyond any range (|x| >= 2**64), or not numbers at all
BAD_NUMBERS = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e300", "-1e300", "1e309", "", " ", "1e", "0x10",
                     "12abc", "--", "½"]),
    st.integers(min_value=2**64, max_value=10**40).map(str),
    st.integers(min_value=-(10**40), max_value=-(2**64)).map(str),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not math.isfinite(x) or abs(x) > 1e200).map(repr),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12).filter(
        lambda s: not _is_number(s)),
)
#: times that do not exist in UTC, malformed ones, and unicode junk
BAD_TIMES = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00Z",
                     "2026-13-45T00:00:00Z", "2026-01-01T25:00:00Z", "nan", "inf", "1e300", "", "２０２６-01-01",
                     "2026-01-01T00:00:00+99:00", "9" * 60]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=40),
)


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _valid_time(s: str) -> bool:
    try:
        parse_time(s)
        return True
    except ValueError:
        return False


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("clifuzz")
    url = f"sqlite:///{root}/s.db"
    with open_store(url) as store:
        DeviceRegistry(store.devices, home=root).provision(
            "dev-1", measures=("temperature",), asset="R1")
    csv = root / "f.csv"
    csv.write_text("unique_id,ds,y\n" + "".join(f"a,2026-01-{d:02d},{d}\n" for d in range(1, 29)))
    return {"S": url, "HOME": str(root), "CSV": str(csv), "OUT": str(root / "out"), "TINY": str(TINY),
            "GPS": str(DATA / "gps-trajectories" / "liverpool_bus_route14_outbound.csv"),
            "SCMS": str(DATA / "scms-delivery"), "CMAPSS": str(DATA / "cmapss")}


#: (command line with V for the value, "number" or "time")
CASES = [
    ("events --store S --since V", "time"), ("events --store S --until V", "time"),
    ("events --store S --limit V", "number"), ("state --store S --as-of V", "time"),
    ("state --store S --limit V", "number"),
    ("tokens create --store S --role viewer --name a --expires V", "number"),
    ("quarantine prune --store S --older-than-days V", "number"), ("quarantine list --store S --limit V", "number"),
    ("quarantine show V --store S", "number"), ("quarantine show 1 --store S --raw-chars V", "number"), ("audit list --store S --limit V", "number"),
    ("serve --store S --port V", "number"), ("ingest mqtt --store S --port V", "number"),
    ("ingest mqtt --store S --rate V", "number"),
    ("devices add dev-2 --store S --measures temperature --asset R1 --interval V", "number"),
    ("devices rotate dev-1 --store S --overlap V", "number"),
    ("simulate --network TINY --replications V -o OUT", "number"),
    ("simulate --network TINY --horizon V -o OUT", "number"), ("simulate --network TINY --seed V -o OUT", "number"),
    ("simulate --network TINY --from-live --store S --at V -o OUT", "time"),
    ("forecast backtest --data CSV --horizon V", "number"), ("forecast backtest --data CSV -h 1 --n-windows V", "number"),
    ("forecast backtest --data CSV -h 1 --season-length V", "number"),
    ("forecast backtest --data CSV -h 1 --n-jobs V", "number"),
    ("eta backtest --data GPS --seed V", "number"), ("eta backtest --data GPS --cuts-per-trip V", "number"),
    ("eta backtest --data GPS --origin-radius-m V", "number"), ("eta backtest --data GPS --dest-radius-m V", "number"),
    ("eta leadtime --data SCMS --min-n V", "number"), ("eta leadtime --data SCMS --test-fraction V", "number"),
    ("eta leadtime --data SCMS --seed V", "number"), ("eta leadtime --data SCMS --top V", "number"),
    ("maintenance train --data CMAPSS --subset FD001 --out OUT --seed V", "number"),
    ("maintenance train --data CMAPSS --subset FD001 --out OUT --cap V", "number"),
    ("maintenance train --data CMAPSS --subset FD001 --out OUT --trees V", "number"),
    ("maintenance train --data CMAPSS --subset FD001 --out OUT --folds V", "number"),
    ("maintenance evaluate --model OUT --data CMAPSS --subset FD001 --level V", "number"),
    ("demo --no-serve --home HOME --days V", "number"), ("demo --no-serve --home HOME --seed V", "number"),
    ("demo --no-serve --home HOME --replications V", "number"),
]


@pytest.mark.parametrize("line,what", CASES, ids=[c[0].split(" --", 1)[0] + " " + c[0].rsplit(" ", 2)[-2]
                                                    if c[0].endswith("V") else c[0] for c in CASES])
def test_bad_values_exit_2_without_a_traceback(env, line, what):
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(value=BAD_TIMES if what == "time" else BAD_NUMBERS)
    def check(value: str) -> None:
        args = [value if a == "V" else env.get(a, a) for a in line.split(" ")]
        r = runner.invoke(app, args, env={"SUPPLYNET_HOME": env["HOME"]})
        out = r.output
        assert "Traceback" not in out, (args, out[-2000:])
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, repr(r.exception))
        if what == "time" and _valid_time(value):
            assert r.exit_code in (0, 2), (args, out[-500:])
        else:
            assert r.exit_code == 2, (args, r.exit_code, out[-500:])
            assert "error" in out.lower(), (args, out[-500:])

    check()
