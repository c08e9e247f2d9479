"""`python -m newsflow_contracts.schemas [--check] [--dir DIR]`: regenerate the committed
event schemas (`make schemas`), or with `--check` write nothing and exit 1 when stale."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..compatibility import Direction
from ..events import EVENTS, Event
from .history import EVENTS_DIR, HistoryError, Plan, Status, committed_event_types, next_event_type, plan


def main(argv: Sequence[str] | None = None, events: Sequence[type[Event]] = EVENTS) -> int:
    parser = argparse.ArgumentParser(prog="python -m newsflow_contracts.schemas", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a schema is stale")
    parser.add_argument("--dir", type=Path, default=EVENTS_DIR, help=f"schema root (default {EVENTS_DIR})")
    args = parser.parse_args(argv)
    root: Path = args.dir
    failed = False
    try:
        plans = [plan(event, root) for event in events]
    except HistoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for p in plans:
        if p.status is Status.INCOMPATIBLE_CHANGE:
            print(incompatible_message(p), file=sys.stderr)
            failed = True
        elif p.stale and args.check:
            print(f"stale: {p.event_type}: {p.status}, {_shown(p.path)} is due; run `make schemas`")
            failed = True
        elif p.stale:
            p.write()
            print(f"wrote {_shown(p.path)} ({p.status})")
    for orphan in sorted(committed_event_types(root) - {event.event_type for event in events}):
        print(
            f"error: {_shown(root / orphan)} has schemas but no event in EVENTS has that type",
            file=sys.stderr,
        )
        failed = True
    if not failed:
        print(f"event schemas: {len(plans)} up to date in {_shown(root)}")
    return 1 if failed else 0


def incompatible_message(p: Plan) -> str:
    current = p.path.with_name(f"{int(p.path.stem) - 1}.json")
    lines = [
        f"error: {p.event_type}: the model's schema is not {p.compatibility}-compatible with "
        f"{_shown(current)};",
        "nothing was written for it. Incompatibilities:",
    ]
    for direction in Direction:
        found = [i for i in p.incompatibilities if i.direction is direction]
        if found:
            lines.append(f"  {direction}, {direction.meaning}:")
            lines += [f"    {i.path}: {i.reason}" for i in found]
    lines += [
        "Make the change compatible (e.g. add the field as optional), or introduce a new event type",
        f"({next_event_type(p.event_type)}) with its own topic instead of changing {p.event_type}.",
    ]
    return "\n".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
