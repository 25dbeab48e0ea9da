"""supplynet.testing.require: a missing service, browser or data set skips a test here and fails it
in CI (SUPPLYNET_REQUIRE_SERVICES / SUPPLYNET_REQUIRE_DATA), with a one-line reason either way."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import supplynet
from supplynet.errors import SupplynetError
from supplynet.testing import require
from supplynet.testing.services import ServiceMissing

VARS = ("SUPPLYNET_REQUIRE_SERVICES", "SUPPLYNET_REQUIRE_DATA")

NEEDS = textwrap.dedent('''
    from supplynet.testing.require import require_data, require_or_skip

    def test_needs_a_broker():
        require_or_skip("no broker on this machine", "service")

    def test_needs_a_browser():
        require_or_skip("no chromium", "browser")

    def test_needs_a_data_set():
        require_data("no-such-data-set")

    def test_needs_nothing():
        pass
''')


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_needs.py").write_text(NEEDS)
    base = {k: v for k, v in os.environ.items() if k not in VARS}
    src = str(Path(supplynet.__file__).resolve().parents[1])
    base["PYTHONPATH"] = os.pathsep.join([src, base.get("PYTHONPATH", "")])
    base["SUPPLYNET_DATA_DIR"] = str(tmp_path / "data")
    base["COLUMNS"] = "400"  # the short summary lines whole
    base["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # hypothesis, schemathesis, playwright: not needed, slow to load
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:cacheprovider",
                           "test_needs.py"], cwd=tmp_path, env={**base, **env}, capture_output=True, text=True,
                          timeout=120, check=False)


def test_locally_missing_things_are_skipped_with_their_reason(tmp_path):
    r = _pytest(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed, 3 skipped" in r.stdout
    assert "no broker on this machine" in r.stdout and "no chromium" in r.stdout
    assert f"{tmp_path / 'data' / 'no-such-data-set'} not found (set SUPPLYNET_DATA_DIR" in r.stdout


def test_in_ci_each_kind_fails_under_its_own_variable_with_one_line(tmp_path):
    r = _pytest(tmp_path, SUPPLYNET_REQUIRE_SERVICES="1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "2 failed, 1 passed, 1 skipped" in r.stdout  # the data set is SUPPLYNET_REQUIRE_DATA's
    assert ("FAILED test_needs.py::test_needs_a_broker - Failed: service missing and SUPPLYNET_REQUIRE_SERVICES "
            "is set: no broker on this machine") in r.stdout
    assert "FAILED test_needs.py::test_needs_a_browser - Failed: browser missing" in r.stdout
    assert "Traceback" not in r.stdout and "def test_needs_a_broker" not in r.stdout  # the reason, no code dump

    r = _pytest(tmp_path, SUPPLYNET_REQUIRE_DATA="1", SUPPLYNET_REQUIRE_SERVICES="0")
    assert "1 failed, 1 passed, 2 skipped" in r.stdout, r.stdout
    assert "Failed: data missing and SUPPLYNET_REQUIRE_DATA is set: " in r.stdout


def test_required_reads_the_variable_and_names_unknown_kinds(monkeypatch):
    for var in VARS:
        monkeypatch.delenv(var, raising=False)
    assert not any(require.required(k) for k in require.KINDS)
    monkeypatch.setenv("SUPPLYNET_REQUIRE_DATA", "1")
    assert [k for k in require.KINDS if require.required(k)] == ["data"]
    monkeypatch.setenv("SUPPLYNET_REQUIRE_SERVICES", "0")
    assert not require.required("service")
    monkeypatch.setenv("SUPPLYNET_REQUIRE_SERVICES", "yes")
    assert require.required("service") and require.required("browser") and require.required("dependency")
    with pytest.raises(ValueError, match="kind must be one of"):
        require.required("broker")


def _outcome(ensure) -> tuple[str, str]:
    """How ``require_service(ensure)`` ends the calling test (caught here, so neither ends this one)."""
    try:
        require.require_service(ensure)
    except pytest.skip.Exception as exc:
        return "skipped", exc.msg
    except pytest.fail.Exception as exc:
        return "failed", exc.msg
    return "ran", ""


def test_require_service_skips_a_missing_service_but_fails_one_that_will_not_start(monkeypatch):
    def missing() -> None:
        raise ServiceMissing("Mosquitto is not running on 127.0.0.1:1883 and is not installed")

    def broken() -> None:
        raise SupplynetError("Mosquitto was started but 127.0.0.1:1883 is still closed")

    monkeypatch.delenv("SUPPLYNET_REQUIRE_SERVICES", raising=False)
    assert _outcome(missing) == ("skipped", "Mosquitto is not running on 127.0.0.1:1883 and is not installed")
    monkeypatch.setenv("SUPPLYNET_REQUIRE_SERVICES", "1")
    assert _outcome(missing) == ("failed", "service missing and SUPPLYNET_REQUIRE_SERVICES is set: Mosquitto is "
                                           "not running on 127.0.0.1:1883 and is not installed")
    monkeypatch.delenv("SUPPLYNET_REQUIRE_SERVICES")
    with pytest.raises(SupplynetError, match="still closed"):
        require.require_service(broken)


def test_data_dir_is_the_variable_or_the_folder_beside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("SUPPLYNET_DATA_DIR", str(tmp_path))
    (tmp_path / "cmapss").mkdir()
    assert require.data_dir() == tmp_path and require.require_data("cmapss") == tmp_path / "cmapss"
    monkeypatch.delenv("SUPPLYNET_DATA_DIR")
    checkout = Path(supplynet.__file__).resolve().parents[2]
    assert require.data_dir() == checkout.parent / "shared" / "data"
