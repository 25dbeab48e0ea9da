"""The one exception tree of supplynet.

Every error the platform raises on purpose derives from :class:`SupplynetError`. Adapters map
client-library errors into this tree with ``raise ... from exc``; the API maps it to HTTP problem
details and the CLI to one clear line on stderr (exit code 2), never a traceback::

    SupplynetError
    ├── ParameterError  (V)         a function, constructor or command got an invalid argument
    │                               (out of range, wrong shape) or was called out of order
    ├── ConfigError     (V)         bad settings or environment
    ├── ModelError                  the network file is wrong (file, line, field)
    │   └── ModelValidationError    carries a list of ModelIssue (one per problem found)
    ├── EventError      (V)         an event or envelope does not fit the canonical schema
    │   └── UnitError               a value's unit is unknown or cannot be converted
    ├── StoreError                  the store failed (database down, migration missing)
    │   └── StoreUnavailable        cannot connect to the database
    ├── IngestError                 a message was refused by the gate (carries a reason code)
    ├── SecurityError               authentication or authorisation failed
    ├── DataError       (V)         input data (a file, a frame, readings) is missing, malformed or too short
    ├── SimulationError (V)         a scenario or simulation request is invalid
    └── DecisionError   (V)         an action was refused (guardrail, missing approval)

The classes marked (V) are also :class:`ValueError`: they say "this value is wrong", so code and
tests that catch ``ValueError`` (pydantic validators among them) keep working, and a subclass needs
no second base. The store, gate and security errors are not: a refused signature or a database that
is down is not a bad value, and a broad ``except ValueError`` must never swallow one. Nor is
``ModelError``: the network's own validation raises it from inside pydantic, which would otherwise
catch it as a ``ValueError`` and lose the line numbers it carries.

>>> issubclass(ParameterError, ValueError), issubclass(SecurityError, ValueError)
(True, False)
>>> str(IngestError("bad_signature", "key unknown"))
'bad_signature: key unknown'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "DataError",
    "DecisionError",
    "EventError",
    "IngestError",
    "ModelError",
    "ModelIssue",
    "ModelValidationError",
    "ParameterError",
    "SecurityError",
    "SimulationError",
    "StoreError",
    "StoreUnavailable",
    "SupplynetError",
    "UnitError",
]


class SupplynetError(Exception):
    """Base of every error supplynet raises on purpose."""

    #: short machine-readable code, used in API problem details and metrics
    code: str = "error"


class ParameterError(SupplynetError, ValueError):
    """An argument is invalid (the message names it and the value given) or a call is out of order."""

    code = "parameter"


class ConfigError(SupplynetError, ValueError):
    code = "config"


class ModelError(SupplynetError):
    code = "model"


@dataclass(frozen=True)
class ModelIssue:
    """One problem in a network file: where it is and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where} {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ModelValidationError(ModelError):
    """The network file has one or more problems; ``issues`` lists each of them."""

    code = "model_invalid"

    def __init__(self, issues: list[ModelIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class EventError(SupplynetError, ValueError):
    code = "event"


class UnitError(EventError):
    code = "unit"


class StoreError(SupplynetError):
    code = "store"


class StoreUnavailable(StoreError):
    code = "store_unavailable"


class IngestError(SupplynetError):
    """A message was refused; ``reason`` is one of the gate's reason codes."""

    code = "ingest"

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class SecurityError(SupplynetError):
    code = "security"


class DataError(SupplynetError, ValueError):
    code = "data"


class SimulationError(SupplynetError, ValueError):
    code = "simulation"


class DecisionError(SupplynetError, ValueError):
    code = "decision"
