"""Editors' say over an article's lists: pinned articles first, in the editor's order, then
the machine's list without the excluded ones. Pins win: an article both pinned and excluded
is shown. Pure."""

from collections.abc import Sequence

from newsflow_contracts.events import ListCuration


def curate(
    ranked: Sequence[str], curation: ListCuration | None, *, listed: set[str], own_id: str, limit: int
) -> list[str]:
    """`ranked` is the machine's order; `listed` the article ids that may be shown (published
    now), which a pin must be among too."""
    if curation is None:
        return [a for a in ranked if a != own_id][:limit]
    pinned = [a for a in dict.fromkeys(curation.pinned) if a in listed and a != own_id]
    left_out = set(curation.excluded) | set(pinned) | {own_id}
    return (pinned + [a for a in ranked if a not in left_out])[:limit]
