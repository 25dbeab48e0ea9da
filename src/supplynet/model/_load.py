"""Load a network from YAML, reporting every problem with its file, line and field.

``network.yaml:41 sites[3].location.lat: must be between -90 and 90, got 95`` : each pydantic
error is translated into one such line (no pydantic jargon), cross-reference problems get the
line of the field they name, and all problems of a file are raised together in one
:class:`~supplynet.errors.ModelValidationError`.
"""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from supplynet.errors import DataError, ModelIssue, ModelValidationError
from supplynet.model._network import Network
from supplynet.model._refs import NetworkReferenceError, closest, reference_issues
from supplynet.model._schema import FieldError, fmt_num
from supplynet.model._yaml import Lines, Path, compose, format_path

__all__ = ["load_network", "parse_network", "validate_data"]


def load_network(path: str | FsPath, *, parser: str = "auto") -> Network:
    """Read and validate the network YAML file at ``path``.

    Raises :class:`DataError` when the file cannot be read and
    :class:`ModelValidationError` (listing every issue with file, line and field) when it is wrong.
    """
    path = FsPath(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: network file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read network file: {exc}") from exc
    return parse_network(text, filename=str(path), parser=parser)


def parse_network(text: str, filename: str = "<string>", *, parser: str = "auto") -> Network:
    """Validate network YAML given as text; ``filename`` is used in the error messages."""
    data, lines, issues = compose(text, filename, parser=parser)
    if data is None and issues:
        raise ModelValidationError(issues)
    return validate_data(data, filename, lines, issues)


def validate_data(data: Any, filename: str = "<data>", lines: Lines | None = None,
                  issues: list[ModelIssue] | None = None) -> Network:
    """Validate plain data (as loaded from YAML or JSON) into a Network, raising ModelValidationError.

    ``lines`` maps data paths to line numbers; without it issues carry no line.
    """
    lines = lines or {}
    issues = list(issues or [])
    if not isinstance(data, dict):
        got = "nothing" if data is None else _describe(data)
        issues.append(ModelIssue(filename, lines.get(()), "", f"expected a network mapping at the top level, got {got}"))
        raise ModelValidationError(issues)
    found: list[tuple[Path, str]] = []
    try:
        network = Network.model_validate(data)
    except ValidationError as exc:
        found = [_translate(err) for err in exc.errors(include_url=False)]
        found += [(r.path, r.text(lines)) for r in reference_issues(data)]
    except NetworkReferenceError as exc:
        found = [(r.path, r.text(lines)) for r in exc.found]
    else:
        if not issues:
            return network
    seen: set[tuple[Path, str]] = set()
    for path, message in found:
        if (path, message) not in seen:
            seen.add((path, message))
            issues.append(ModelIssue(filename, _line(lines, path), format_path(path), message))
    issues.sort(key=lambda i: (i.line is None, i.line or 0))
    raise ModelValidationError(issues)


def _line(lines: Lines, path: Path) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


# ---- pydantic error -> message --------------------------------------------------------------

def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # the start of it: a whole file read as one string is no message
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return fmt_num(value) if isinstance(value, float) else str(value)


def _num(value: Any) -> str:
    return fmt_num(value) if isinstance(value, float) else str(value)


def _model_at(path: Path) -> type[BaseModel] | None:
    """The pydantic model class that validates the mapping at ``path`` (for unknown-key hints)."""
    cls: Any = Network
    for part in path:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part) if isinstance(cls, type) and issubclass(cls, BaseModel) else None
        if field is None:
            return None
        cls = _unwrap_model(field.annotation)
        if cls is None:
            return None
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _unwrap_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    origin = typing.get_origin(tp)
    if origin in (list, typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(tp):
            found = _unwrap_model(arg)
            if found is not None:
                return found
    return None


_EXPECTED = {
    "float_type": "a number", "float_parsing": "a number", "int_type": "a whole number",
    "int_parsing": "a whole number", "int_from_float": "a whole number", "string_type": "a string",
    "bool_type": "true or false", "bool_parsing": "true or false", "list_type": "a list",
    "tuple_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
    "model_attributes_type": "a mapping", "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)", "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "a date (YYYY-MM-DD)",
}


def _translate(err: dict[str, Any]) -> tuple[Path, str]:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    path: Path = tuple(p for p in err["loc"] if p != "[key]")
    if kind == "missing":
        return path, "required field missing"
    if kind == "extra_forbidden":
        return path, _unknown_field(path)
    if kind in _EXPECTED:
        hint = " (quote it to make it a string)" if kind == "string_type" and isinstance(value, int | float) else ""
        return path, f"expected {_EXPECTED[kind]}, got {_describe(value)}{hint}"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        close = closest(value, options) if isinstance(value, str) else None
        hint = f" (did you mean '{close}'?)" if close else ""
        return path, f"must be one of {ctx.get('expected')}, got {_describe(value)}{hint}"
    bounds = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
              "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}
    if kind in bounds:
        op, key = bounds[kind]
        return path, f"must be {op} {_num(ctx.get(key))}, got {_describe(value)}"
    if kind == "too_short":
        n = ctx.get("min_length")
        return path, f"needs at least {n} item{'s' if n != 1 else ''}, got {ctx.get('actual_length')}"
    if kind == "string_too_short":
        return path, "must not be empty"
    if kind == "string_pattern_mismatch":
        if path and path[-1] == "currency":
            return path, f"must be a 3-letter ISO 4217 code in capitals (like USD, EUR, GBP), got {_describe(value)}"
        return path, f"must match {ctx.get('pattern')}, got {_describe(value)}"
    if kind in ("value_error", "assertion_error"):
        exc = ctx.get("error")
        if isinstance(exc, FieldError):
            return (*path, *exc.field.split(".")), str(exc)
        return path, str(exc) if exc is not None else err["msg"]
    return path, err["msg"]


def _unknown_field(path: Path) -> str:
    key = str(path[-1])
    model = _model_at(path[:-1])
    message = f"unknown field '{key}'"
    if model is None:
        return message
    names = list(model.model_fields)
    close = closest(key, names)
    if close:
        return f"{message} (did you mean '{close}'?)"
    return f"{message}; expected one of: {', '.join(names)}"

