"""Python's garbage collection during a replay: off, with a full collection every so many
records instead.

A replay batch keeps its decoded events, article states and documents alive until the batch
is written, about a thousand container objects a record. The automatic collector, which
runs every 700 net allocations, scanned them and promoted them from generation to
generation again and again: about half of the replay's own CPU time, on cores it shares with
FerretDB. Everything those objects hold is freed by reference counting when the batch is
done; only reference cycles need the collector, and a replay makes few (hundreds in a
thousand records), so they wait for the next collection. What was alive before the replay
is frozen meanwhile (`gc.freeze`), so a collection scans only the replay's objects."""

import gc


class ReplayGarbageCollection:
    """`with ReplayGarbageCollection() as collection:` around a replay, and
    `collection.applied(n)` after each batch. One replay a process: the settings are the
    process's."""

    def __init__(self, every: int = 50_000) -> None:
        self.every = every
        self.since = 0
        self.was_enabled = gc.isenabled()

    def __enter__(self) -> "ReplayGarbageCollection":
        self.was_enabled = gc.isenabled()
        gc.disable()
        gc.freeze()
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.unfreeze()
        if self.was_enabled:
            gc.enable()

    def applied(self, records: int) -> None:
        """Collect once `every` records have been applied since the last collection."""
        self.since += records
        if self.since >= self.every:
            gc.collect()
            self.since = 0
