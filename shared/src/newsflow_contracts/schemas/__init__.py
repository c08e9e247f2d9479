"""Event JSON Schemas as committed artefacts: export, history, and the compatibility gate.

`python -m newsflow_contracts.schemas` (`make schemas`) regenerates them; `--check` only
reports what is stale. See shared/schemas/README.md.
"""

from .export import event_schema, render, schema_id, with_id, without_id
from .history import EVENTS_DIR, HistoryError, Plan, Status, committed_event_types, load, plan, revisions

__all__ = [
    "EVENTS_DIR",
    "HistoryError",
    "Plan",
    "Status",
    "committed_event_types",
    "event_schema",
    "load",
    "plan",
    "render",
    "revisions",
    "schema_id",
    "with_id",
    "without_id",
]
