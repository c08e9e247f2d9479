"""The committed schemas: an append-only history per event type,
`<root>/<event_type>/<n>.json` with n = 1, 2, …; the highest is current.

A new revision is only ever added when it is compatible with the current one in the event's
mode, FULL unless the event says BACKWARD (see `newsflow_contracts.compatibility` and
`Event.compatibility`); anything else needs a new event type.
"""

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..compatibility import Incompatibility, incompatibilities
from ..events import Event
from .export import event_schema, render, with_id, without_id

# shared/src/newsflow_contracts/schemas/history.py -> shared/schemas/events
EVENTS_DIR = Path(__file__).resolve().parents[3] / "schemas" / "events"


class HistoryError(Exception):
    """The committed files do not form a history: stray names, or gaps in the numbering."""


def revisions(root: Path, event_type: str) -> list[Path]:
    """The committed revisions of `event_type`, oldest first ([] if none)."""
    directory = root / event_type
    if not directory.is_dir():
        return []
    numbered: dict[int, Path] = {}
    for path in directory.iterdir():
        match = re.fullmatch(r"([1-9][0-9]*)\.json", path.name)
        if not match:
            raise HistoryError(f"{path}: not a schema revision (expected <n>.json)")
        numbered[int(match[1])] = path
    if sorted(numbered) != list(range(1, len(numbered) + 1)):
        raise HistoryError(
            f"{directory}: revisions must be numbered 1..n without gaps, got {sorted(numbered)}"
        )
    return [numbered[n] for n in sorted(numbered)]


def load(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def committed_event_types(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()


def next_event_type(event_type: str) -> str:
    """`news.article.published.v1` -> `news.article.published.v2`."""
    match = re.fullmatch(r"(.*\.v)([0-9]+)", event_type)
    return f"{match[1]}{int(match[2]) + 1}" if match else f"{event_type}.v2"


class Status(StrEnum):
    CURRENT = "current"
    """The model's schema equals the latest committed revision."""
    NEW = "new"
    """No revision committed yet: revision 1 is due."""
    COMPATIBLE_CHANGE = "compatible change"
    """Differs from the latest revision, compatibly: revision n+1 is due."""
    INCOMPATIBLE_CHANGE = "incompatible change"
    """Differs and breaks a direction: needs a new event type, never a new revision."""


@dataclass(frozen=True)
class Plan:
    """What regeneration does for one event type."""

    event_type: str
    status: Status
    path: Path
    """The revision to write (NEW, COMPATIBLE_CHANGE), or the current one."""
    schema: dict[str, Any]
    """The model's schema, with the `$id` of `path`."""
    incompatibilities: list[Incompatibility] = field(default_factory=list)
    compatibility: str = "FULL"

    @property
    def stale(self) -> bool:
        return self.status is not Status.CURRENT

    def write(self) -> None:
        if self.status not in (Status.NEW, Status.COMPATIBLE_CHANGE):
            raise ValueError(f"{self.event_type}: nothing to write ({self.status})")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(render(self.schema), encoding="utf-8")


def plan(event: type[Event], root: Path = EVENTS_DIR) -> Plan:
    event_type = event.event_type
    generated = event_schema(event)
    history = revisions(root, event_type)
    if not history:
        path = root / event_type / "1.json"
        return Plan(event_type, Status.NEW, path, with_id(generated, event_type, 1))
    latest_path, n = history[-1], len(history)
    latest = load(latest_path)
    # Equal as JSON, not as text: a reformatted file is not a new revision.
    if without_id(latest) == generated:
        return Plan(event_type, Status.CURRENT, latest_path, with_id(generated, event_type, n))
    path = root / event_type / f"{n + 1}.json"
    issues = incompatibilities(event.compatibility, latest, generated)
    status = Status.INCOMPATIBLE_CHANGE if issues else Status.COMPATIBLE_CHANGE
    return Plan(event_type, status, path, with_id(generated, event_type, n + 1), issues, event.compatibility)
