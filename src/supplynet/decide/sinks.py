"""The sinks file: where executed actions and alerts go (ERP, WMS, CMMS, a phone, a folder).

::

    sinks:
      - name: erp                       # a word: letters, digits, '-', '_'
        kind: webhook                   # webhook | mqtt | file
        url: https://erp.example.com/supplynet
        secret_env: ERP_WEBHOOK_SECRET  # env var holding the HMAC secret; absent: a per-sink secret
                                        # sealed with the vault (supplynet outbox secret erp prints it)
        actions: [order, transfer]      # of: order, transfer, production_order, work_order, reroute, expedite, alert
        max_attempts: 8                 # tries before a dead letter (5xx, timeouts, refused)
        timeout_s: 10                   # per attempt
        backoff_s: 1                    # first retry after ~1 s, doubling, with jitter ...
        backoff_max_s: 300              # ... up to 5 minutes
      - name: plant-commands
        kind: mqtt
        topic: supplynet/commands/{site}   # fields: {site} {asset} {action} {action_id} {sink}
        broker: mqtt://127.0.0.1:1883      # default: SUPPLYNET_MQTT_HOST / SUPPLYNET_MQTT_PORT
        username: supplynet                # optional, with password_env: the env var holding the password
        password_env: MQTT_PASSWORD
        actions: [work_order]
      - name: archive
        kind: file
        folder: /var/lib/supplynet/actions
        rotate: daily                   # daily: actions-YYYY-MM-DD.jsonl (UTC); none: actions.jsonl
        actions: [order, transfer, production_order, work_order, reroute, expedite, alert]

A mistake is reported as ``sinks.yaml:7 sinks[0].url: ...`` (file, line, field), in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError, ModelIssue
from ..model._yaml import Lines, compose, format_path
from ..store.outbox import ACTIONS

__all__ = ["KINDS", "SinkSpec", "SinksConfig", "load_sinks", "parse_sinks"]

KINDS = ("webhook", "mqtt", "file")
_TARGET = {"webhook": "url", "mqtt": "topic", "file": "folder"}
_COMMON = {"name", "kind", "actions", "secret_env", "max_attempts", "timeout_s", "backoff_s", "backoff_max_s"}
_ALLOWED = {"webhook": _COMMON | {"url"}, "mqtt": _COMMON | {"topic", "broker", "qos", "username", "password_env"},
            "file": _COMMON | {"folder", "rotate"}}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TOPIC_FIELDS = ("site", "asset", "action", "action_id", "sink")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class SinkSpec:
    """One sink of the file (see the module docstring for the fields)."""

    name: str
    kind: str
    actions: tuple[str, ...]
    url: str | None = None
    topic: str | None = None
    folder: Path | None = None
    broker: str | None = None
    secret_env: str | None = None
    max_attempts: int = 8
    timeout_s: float = 10.0
    backoff_s: float = 1.0
    backoff_max_s: float = 300.0
    rotate: str = "daily"
    qos: int = 1
    username: str | None = None
    password_env: str | None = None
    line: int | None = None

    def takes(self, action: str) -> bool:
        return action in self.actions


@dataclass(frozen=True)
class SinksConfig:
    """The sinks of a file, in its order."""

    sinks: list[SinkSpec] = field(default_factory=list)
    source: str = "<sinks>"

    def names_for(self, action: str) -> list[str]:
        """Names of the sinks that take ``action``, in file order."""
        return [s.name for s in self.sinks if action in s.actions]

    def get(self, name: str) -> SinkSpec | None:
        return next((s for s in self.sinks if s.name == name), None)


def load_sinks(path: str | Path) -> SinksConfig:
    """Read and check a sinks file; :class:`ConfigError` naming ``file:line field`` when it is wrong."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: sinks file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the sinks file: {exc}") from exc
    return parse_sinks(text, str(p))


def parse_sinks(text: str, filename: str = "<sinks>") -> SinksConfig:
    """A sinks file given as text (``filename`` is used in messages)."""
    data, lines, issues = compose(text, filename, what="a mapping with a 'sinks:' list")
    if not issues:
        checker = _Checker(filename, lines)
        specs = checker.top(data)
        issues = checker.issues
    if issues:
        first = str(issues[0])
        more = f" (and {len(issues) - 1} more problem{'s' if len(issues) > 2 else ''})" if len(issues) > 1 else ""
        raise ConfigError(first.replace("\n", " ") + more)
    return SinksConfig(specs, filename)


class _Checker:
    def __init__(self, filename: str, lines: Lines):
        self.filename, self.lines = filename, lines
        self.issues: list[ModelIssue] = []

    def bad(self, path: tuple[str | int, ...], message: str) -> None:
        p = path
        while p and p not in self.lines:
            p = p[:-1]
        self.issues.append(ModelIssue(self.filename, self.lines.get(p), format_path(path), message))

    def top(self, data: Any) -> list[SinkSpec]:
        if not isinstance(data, dict):
            self.bad((), "expected a mapping with a 'sinks:' list at the top level")
            return []
        for key in data:
            if key != "sinks":
                self.bad((key,), "unknown key (the file has one key, 'sinks')")
        if "sinks" not in data:
            self.bad((), "expected a mapping with a 'sinks:' list at the top level")
            return []
        items = data["sinks"]
        if not isinstance(items, list) or not items:
            self.bad(("sinks",), "expected a non-empty list of sinks")
            return []
        out, seen = [], {}
        for i, item in enumerate(items):
            spec = self.sink(i, item)
            if spec is None:
                continue
            if spec.name in seen:
                self.bad(("sinks", i, "name"), f"duplicate sink name {spec.name!r} (first at sinks[{seen[spec.name]}])")
                continue
            seen[spec.name] = i
            out.append(spec)
        return out

    def sink(self, i: int, d: Any) -> SinkSpec | None:
        at = ("sinks", i)
        if not isinstance(d, dict):
            self.bad(at, "expected a mapping with name, kind and url|topic|folder")
            return None
        n0 = len(self.issues)
        name, kind = d.get("name"), d.get("kind")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            self.bad((*at, "name"), f"expected a sink name (letters, digits, '-', '_', '.'), got {name!r}")
        if kind not in KINDS:
            self.bad((*at, "kind"), f"expected one of {', '.join(KINDS)}, got {kind!r}")
            return None
        for key in d:
            if key not in _ALLOWED[kind]:
                self.bad((*at, key), f"unknown key for a {kind} sink (allowed: {', '.join(sorted(_ALLOWED[kind]))})")
        target = _TARGET[kind]
        value = d.get(target)
        if not isinstance(value, str) or not value.strip():
            self.bad((*at, target), f"a {kind} sink needs {target}: a non-empty string")
        elif kind == "webhook":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                self.bad((*at, "url"), f"expected an http:// or https:// URL, got {value!r}")
        elif kind == "mqtt":
            for ph in _PLACEHOLDER.findall(value):
                if ph not in TOPIC_FIELDS:
                    self.bad((*at, "topic"), f"unknown placeholder {{{ph}}} (use {', '.join(TOPIC_FIELDS)})")
            if "+" in value or "#" in value:
                self.bad((*at, "topic"), "a command topic cannot hold the wildcards + or #")
        actions = d.get("actions")
        if not isinstance(actions, list) or not actions:
            self.bad((*at, "actions"), f"expected a non-empty list of: {', '.join(ACTIONS)}")
            actions = []
        for j, a in enumerate(actions):
            if a not in ACTIONS:
                self.bad((*at, "actions", j), f"unknown action {a!r} (one of {', '.join(ACTIONS)})")
        for key in ("secret_env", "password_env"):
            env = d.get(key)
            if env is not None and (not isinstance(env, str) or not _ENV.fullmatch(env)):
                self.bad((*at, key), f"expected the name of an environment variable, got {env!r}")
        user = d.get("username")
        if user is not None and (not isinstance(user, str) or not user):
            self.bad((*at, "username"), f"expected a user name, got {user!r}")
        if (user is None) != (d.get("password_env") is None):
            self.bad((*at, "username" if user is None else "password_env"),
                     "give username and password_env together (the password comes from the environment)")
        env = d.get("secret_env")
        nums = {k: self.number(at, d, k, lo, integer)
                for k, lo, integer in (("max_attempts", 1, True), ("timeout_s", 0.001, False),
                                       ("backoff_s", 0.0, False), ("backoff_max_s", 0.0, False), ("qos", 0, True))}
        if nums["qos"] is not None and nums["qos"] > 1:
            self.bad((*at, "qos"), "commands go at QoS 1 (at least once) or 0, not 2")
        rotate = d.get("rotate", "daily")
        if rotate not in ("daily", "none"):
            self.bad((*at, "rotate"), f"expected daily or none, got {rotate!r}")
        broker = d.get("broker")
        if broker is not None and (not isinstance(broker, str) or urlsplit(broker).scheme not in ("mqtt", "tcp")
                                   or not urlsplit(broker).hostname):
            self.bad((*at, "broker"), f"expected mqtt://HOST:PORT, got {broker!r}")
        if len(self.issues) > n0:
            return None
        kw = {k: v for k, v in nums.items() if v is not None}
        return SinkSpec(name=name, kind=kind, actions=tuple(dict.fromkeys(actions)), url=d.get("url"),
                        topic=d.get("topic"), folder=Path(d["folder"]) if kind == "file" else None, broker=broker,
                        secret_env=env, rotate=rotate, username=user, password_env=d.get("password_env"),
                        line=self.lines.get(at), **kw)

    def number(self, at: tuple[str | int, ...], d: dict[str, Any], key: str, lo: float,
               integer: bool) -> float | int | None:
        if key not in d:
            return None
        v = d[key]
        ok = isinstance(v, int) if integer else isinstance(v, int | float)
        if isinstance(v, bool) or not ok or not v >= lo:
            what = "a whole number" if integer else "a number"
            self.bad((*at, key), f"expected {what} >= {lo:g}, got {v!r}")
            return None
        return v
