"""Names (article ids, terms) as small integers, to index arrays with. Pure."""

from collections.abc import KeysView


class Slots:
    """Each name held gets a slot; a released slot goes to the next new name, so that
    arrays indexed by slot stay as long as the most names ever held at once."""

    def __init__(self) -> None:
        self._slot_of: dict[str, int] = {}
        self._names: list[str | None] = []
        self._free: list[int] = []

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, name: str) -> bool:
        return name in self._slot_of

    @property
    def capacity(self) -> int:
        """One more than the highest slot ever given."""
        return len(self._names)

    def names(self) -> KeysView[str]:
        """The names held, in the order they were (last) taken."""
        return self._slot_of.keys()

    def get(self, name: str) -> int | None:
        return self._slot_of.get(name)

    def name(self, slot: int) -> str:
        name = self._names[slot]
        if name is None:
            raise KeyError(slot)
        return name

    def take(self, name: str) -> int:
        """The name's slot, a new one if it holds none."""
        slot = self._slot_of.get(name)
        if slot is not None:
            return slot
        if self._free:
            slot = self._free.pop()
            self._names[slot] = name
        else:
            slot = len(self._names)
            self._names.append(name)
        self._slot_of[name] = slot
        return slot

    def release(self, name: str) -> int:
        """Free the name's slot for another name; returns it."""
        slot = self._slot_of.pop(name)
        self._names[slot] = None
        self._free.append(slot)
        return slot
