"""Aligned text columns, the way every `newsflow` listing prints."""

from collections.abc import Iterable, Sequence

Cell = str | int | None


def cell(value: Cell) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else value


def table(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """Text left-aligned, numbers right-aligned, two spaces between columns; None is `-`."""
    raw = [list(row) for row in rows]
    numeric = [bool(raw) and all(isinstance(r[i], int | None) for r in raw) for i in range(len(headers))]
    text = [[cell(v) for v in row] for row in raw]
    widths = [max([len(h), *(len(r[i]) for r in text)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if number else v.ljust(w) for v, w, number in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in text)])


def retention(ms: int) -> str:
    """7 days as `7d`, -1 as `forever`."""
    if ms < 0:
        return "forever"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
