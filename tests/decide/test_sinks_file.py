"""The sinks file: what it accepts, and every mistake named with file, line and field in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from supplynet.decide.sinks import load_sinks, parse_sinks
from supplynet.errors import ConfigError

GOOD = """\
sinks:
  - name: erp
    kind: webhook
    url: http://127.0.0.1:8080/hook
    secret_env: ERP_SECRET
    actions: [order, transfer]
    max_attempts: 3
  - name: plant
    kind: mqtt
    topic: supplynet/commands/{site}
    actions: [work_order, alert]
  - name: archive
    kind: file
    folder: out/actions
    rotate: none
    actions: [order, transfer, work_order, reroute, expedite, alert]
"""


def test_a_good_file(tmp_path: Path) -> None:
    p = tmp_path / "sinks.yaml"
    p.write_text(GOOD)
    cfg = load_sinks(p)
    assert [s.name for s in cfg.sinks] == ["erp", "plant", "archive"]
    erp, plant, archive = cfg.sinks
    assert (erp.kind, erp.url, erp.secret_env, erp.max_attempts, erp.actions) == (
        "webhook", "http://127.0.0.1:8080/hook", "ERP_SECRET", 3, ("order", "transfer"))
    assert (plant.topic, plant.qos, plant.secret_env, plant.max_attempts) == ("supplynet/commands/{site}", 1, None, 8)
    assert (archive.folder, archive.rotate) == (Path("out/actions"), "none")
    assert cfg.names_for("order") == ["erp", "archive"]
    assert cfg.names_for("work_order") == ["plant", "archive"]
    assert cfg.names_for("expedite") == ["archive"]
    assert erp.line == 2 and cfg.get("plant") is plant and cfg.get("nope") is None


@pytest.mark.parametrize(("edit", "where"), [
    (("url: http://127.0.0.1:8080/hook", "url: ftp://x"), "sinks.yaml:4 sinks[0].url: expected an http"),
    (("kind: mqtt", "kind: kafka"), "sinks.yaml:9 sinks[1].kind: expected one of webhook, mqtt, file"),
    (("[work_order, alert]", "[work_order, teleport]"), "sinks.yaml:11 sinks[1].actions[1]: unknown action 'teleport'"),
    (("secret_env: ERP_SECRET", "secret_env: 'not a var'"), "sinks.yaml:5 sinks[0].secret_env:"),
    (("max_attempts: 3", "max_attempts: 0"), "sinks.yaml:7 sinks[0].max_attempts: expected a whole number >= 1"),
    (("{site}", "{plant}"), "sinks.yaml:10 sinks[1].topic: unknown placeholder {plant}"),
    (("rotate: none", "rotate: hourly"), "sinks.yaml:15 sinks[2].rotate: expected daily or none"),
    (("name: plant", "name: erp"), "sinks.yaml:8 sinks[1].name: duplicate sink name 'erp'"),
    (("    folder: out/actions\n", ""), "sinks.yaml:12 sinks[2].folder: a file sink needs folder"),
    (("    rotate: none", "    rotat: none"), "sinks.yaml:15 sinks[2].rotat: unknown key for a file sink"),
    (("  - name: plant", "  - name: plant\n    name: again"), "sinks.yaml:9 sinks[1].name: duplicate key 'name'"),
    (("sinks:", "sink:"), "sinks.yaml:1 sink: unknown key"),
])
def test_mistakes_name_file_line_and_field(tmp_path: Path, edit: tuple[str, str], where: str) -> None:
    p = tmp_path / "sinks.yaml"
    assert edit[0] in GOOD
    p.write_text(GOOD.replace(edit[0], edit[1], 1))
    with pytest.raises(ConfigError) as exc:
        load_sinks(p)
    msg = str(exc.value)
    assert msg.startswith(f"{tmp_path}/{where}"), msg
    assert "\n" not in msg


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sinks file not found"):
        load_sinks(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="x.yaml:2: YAML syntax error"):
        parse_sinks("sinks: [\n", "x.yaml")
    with pytest.raises(ConfigError, match="x.yaml:1 sinks: expected a non-empty list"):
        parse_sinks("sinks: []\n", "x.yaml")
    with pytest.raises(ConfigError, match="more problems"):
        parse_sinks("sinks:\n  - {name: a, kind: file, actions: [x]}\n  - {name: b, kind: web}\n  - 3\n", "x.yaml")


def test_the_packaged_example_loads() -> None:
    from importlib import resources

    cfg = load_sinks(str(resources.files("supplynet") / "examples" / "sinks.yaml"))
    assert [(s.name, s.kind) for s in cfg.sinks] == [("erp", "webhook"), ("plant-commands", "mqtt"),
                                                     ("erp-folder", "file")]
    assert cfg.names_for("work_order") == ["plant-commands", "erp-folder"]


def test_mqtt_login_needs_username_and_password_env_together() -> None:
    cfg = parse_sinks("sinks:\n  - {name: p, kind: mqtt, topic: t, username: u, password_env: PW, actions: [alert]}\n")
    assert (cfg.sinks[0].username, cfg.sinks[0].password_env) == ("u", "PW")
    with pytest.raises(ConfigError, match=r"<sinks>:2 sinks\[0\].password_env: give username and password_env"):
        parse_sinks("sinks:\n  - {name: p, kind: mqtt, topic: t, username: u, actions: [alert]}\n")
