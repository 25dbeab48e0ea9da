"""The zero-trust ingestion gateway: sealed envelopes from devices, through one gate, into the log.

* :mod:`.envelope` -- the wire envelope (Ed25519 over the body's exact bytes), readings -> events;
* :mod:`.gate` -- the one code path every adapter uses (reason codes, dedupe, late table, accounting);
* :mod:`.mqtt` -- gateway worker (QoS 1, persistent session, ack after commit, shared subscriptions)
  and the device client (end-to-end acknowledgement, resend);
* :mod:`.http` -- ``POST /v1/ingest`` (JSON, NDJSON); :mod:`.replay` -- history files;
* :mod:`.monitors` -- data-quality alerts; :mod:`.sink` -- canonical events through the gate.
"""

from .envelope import seal
from .gate import EXPLAIN, REASONS, Gate, GateConfig, Outcome

__all__ = ["EXPLAIN", "REASONS", "Gate", "GateConfig", "Outcome", "seal"]
