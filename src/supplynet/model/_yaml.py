"""YAML to plain Python data plus a line number for every path in it.

Two parsers compose the same node tree (scalar, sequence and mapping nodes that carry their
start line): ruamel.yaml, the reference, and PyYAML's libyaml binding when it is installed,
which is about 20x faster on large files. One constructor turns either tree into plain dicts,
lists and scalars, resolving plain scalars by the YAML 1.2 core schema (so ``no`` stays a
string and ``010`` is ten), rejecting duplicate keys and supporting ``<<`` merge keys, so both
parsers give identical data and identical errors. Syntax errors are always reported from
ruamel.yaml's parser, so their text does not depend on which parser is installed.
"""

from __future__ import annotations

import re
from typing import Any

from supplynet.errors import ModelIssue

__all__ = ["Lines", "Path", "compose", "format_path"]

Path = tuple[str | int, ...]
Lines = dict[Path, int]

_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})


def _plain(value: str) -> Any:
    """Resolve a plain (unquoted) scalar by the YAML 1.2 core schema."""
    if value in _NULLS:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    if _OCT.fullmatch(value):
        return int(value[2:], 8)
    if _HEX.fullmatch(value):
        return int(value[2:], 16)
    if _INF.fullmatch(value):
        return float("-inf") if value.startswith("-") else float("inf")
    if _NAN.fullmatch(value):
        return float("nan")
    return value


def format_path(path: Path) -> str:
    """``('sites', 3, 'location', 'lat')`` -> ``sites[3].location.lat``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Builder:
    def __init__(self, filename: str):
        self.filename = filename
        self.lines: Lines = {}
        self.issues: list[ModelIssue] = []
        self._active: set[int] = set()

    def issue(self, line: int, path: Path, message: str) -> None:
        self.issues.append(ModelIssue(self.filename, line, format_path(path), message))

    def build(self, node: Any, path: Path) -> Any:
        kind = node.id
        if kind == "scalar":
            return _plain(node.value) if not node.style else node.value
        if id(node) in self._active:  # a recursive alias: &a [*a]
            self.issue(node.start_mark.line + 1, path, "recursive alias is not supported")
            return None
        self._active.add(id(node))
        try:
            if kind == "sequence":
                out_list = []
                for i, item in enumerate(node.value):
                    self.lines[(*path, i)] = item.start_mark.line + 1
                    out_list.append(self.build(item, (*path, i)))
                return out_list
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: Any, path: Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        merged: list[dict[Any, Any]] = []
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.id != "scalar":
                self.issue(line, path, "a mapping key must be a plain value, not a list or mapping")
                continue
            if not key_node.style and key_node.value == "<<":
                merged.extend(self._merge_sources(value_node, path))
                continue
            key = _plain(key_node.value) if not key_node.style else key_node.value
            try:
                hash(key)
            except TypeError:  # pragma: no cover - scalars are always hashable
                continue
            if key in first_line:
                self.issue(line, (*path, key), f"duplicate key '{key}' (first at line {first_line[key]})")
                continue
            first_line[key] = line
            self.lines[(*path, key)] = line
            out[key] = self.build(value_node, (*path, key))
        for source in merged:  # explicit keys win over merged ones
            for key, value in source.items():
                out.setdefault(key, value)
        return out

    def _merge_sources(self, node: Any, path: Path) -> list[dict[Any, Any]]:
        nodes = node.value if node.id == "sequence" else [node]
        out = []
        for item in nodes:
            value = self.build(item, path)
            if isinstance(value, dict):
                out.append(value)
            else:
                self.issue(item.start_mark.line + 1, path, "'<<' merges only mappings")
        return out


def _compose_ruamel(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).compose(text)


def _compose_libyaml(text: str) -> Any:
    import yaml

    return yaml.compose(text, Loader=yaml.CSafeLoader)


def _libyaml_available() -> bool:
    try:
        import yaml
    except ImportError:
        return False
    return bool(getattr(yaml, "__with_libyaml__", False))


def _syntax_issue(exc: Exception, filename: str) -> ModelIssue:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return ModelIssue(filename, line, "", message)


def compose(text: str, filename: str, parser: str = "auto", what: str = "a network mapping"
            ) -> tuple[Any, Lines, list[ModelIssue]]:
    """Parse ``text`` into plain data, a ``{path: line}`` index (1-based) and the issues found.

    ``parser`` is ``"auto"`` (libyaml when available, else ruamel), ``"ruamel"`` or ``"libyaml"``.
    Issues are syntax errors, an empty document (``what`` says what was expected) and duplicate keys;
    data is ``None`` when the text could not be parsed at all.
    """
    use_libyaml = parser == "libyaml" or (parser == "auto" and _libyaml_available())
    error: Exception | None = None
    node = None
    try:
        node = _compose_libyaml(text) if use_libyaml else _compose_ruamel(text)
    except Exception as exc:  # noqa: BLE001 - any parser error becomes one issue
        error = exc
    if error is not None and use_libyaml:  # report syntax errors from the reference parser
        try:
            _compose_ruamel(text)
        except Exception as exc:  # noqa: BLE001
            error = exc
    if error is not None:
        if not hasattr(error, "problem_mark"):
            raise error
        return None, {}, [_syntax_issue(error, filename)]
    if node is None:
        return None, {}, [ModelIssue(filename, None, "", f"file is empty (expected {what})")]
    builder = _Builder(filename)
    builder.lines[()] = node.start_mark.line + 1
    data = builder.build(node, ())
    return data, builder.lines, builder.issues
