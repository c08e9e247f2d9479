"""IPTC ninjs items (3.x, and the lower-case 2.x names) as drafts. Pure.

A document is one ninjs object, a list of them, or an object with an `items` or `ninjs`
list. Only text and composite items are articles; pictures, video, audio, events and
planning items, and withheld or cancelled items, are skipped with the reason."""

from typing import Any

from .feed_items import (
    Draft,
    FeedImage,
    ItemError,
    external_id_for,
    html_fragment,
    http_url,
    iso_time,
    language_tag,
    paragraphs,
    text,
)

ARTICLE_TYPES = {"text", "composite"}
PICTURE_TYPES = {"picture", "graphic"}
NOT_PUBLISHABLE = {"withheld", "canceled", "cancelled"}
MAX_RENDITION_WIDTH = 2048  # the largest rendition up to this width; hi-res originals are too big


class NotNinjs(ValueError):
    pass


def ninjs_items(document: Any) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in ("items", "ninjs"):
            if isinstance(document.get(key), list):
                return list(document[key])
        if text(document.get("uri")) or text(document.get("guid")):
            return [document]
    raise NotNinjs("not a ninjs item, list of items, or object with an items list")


def _get(item: dict[str, Any], name: str) -> Any:
    """ninjs 3.x camelCase names, falling back to the 2.x lower-case ones."""
    return item[name] if name in item else item.get(name.lower())


def draft_from_ninjs_item(item: Any, position: int) -> Draft:
    if not isinstance(item, dict):
        raise ItemError("not a JSON object")
    uri = text(item.get("uri")) or text(item.get("guid"))
    draft = Draft(ref=uri or f"item {position}")
    kind = text(item.get("type"))
    if kind and kind not in ARTICLE_TYPES:
        raise ItemError(f"a ninjs {kind} item is not an article")
    status = text(_get(item, "pubStatus"))
    if status in NOT_PUBLISHABLE:
        raise ItemError(f"pubStatus is {status}")
    draft.external_id = external_id_for(uri)
    draft.headline = _headline(item)
    draft.body_html = _body(item)
    draft.byline = text(item.get("by"))
    subjects = item.get("subjects", item.get("subject"))
    if isinstance(subjects, list):
        draft.subjects = [n for n in (text(s.get("name")) for s in subjects if isinstance(s, dict)) if n]
    draft.language = language_tag(item.get("language"))
    draft.first_created = iso_time(_get(item, "firstCreated"), "firstCreated")
    draft.updated = iso_time(_get(item, "versionCreated"), "versionCreated")
    draft.images = _pictures(item)
    return draft


def _values(item: dict[str, Any], name: str) -> list[dict[str, Any]]:
    found = item.get(name)
    if not isinstance(found, list):
        return []
    return [v for v in found if isinstance(v, dict) and text(v.get("value"))]


def _headline(item: dict[str, Any]) -> str | None:
    headlines = _values(item, "headlines")
    main = [h for h in headlines if h.get("role") == "main"] or headlines
    return text(main[0]["value"]) if main else text(item.get("headline"))


def _is_html(body: dict[str, Any]) -> bool:
    content_type = str(body.get("contentType", "")).lower()
    return "html" in content_type or str(body.get("role", "")).lower() in {"html", "html5", "xhtml"}


def _body(item: dict[str, Any]) -> str | None:
    bodies = _values(item, "bodies")
    markup = [b for b in bodies if _is_html(b)]
    if markup:
        return html_fragment(markup[0]["value"])
    if bodies:
        return paragraphs(bodies[0]["value"])
    if html := text(item.get("body_html")) or text(item.get("body_xhtml")):
        return html_fragment(html)
    plain = text(item.get("body_text"))
    return paragraphs(plain) if plain else None


def _pictures(item: dict[str, Any]) -> list[FeedImage]:
    associations = item.get("associations")
    if isinstance(associations, dict):  # ninjs 2.x: name -> object
        associations = list(associations.values())
    pictures: list[FeedImage] = []
    for association in associations if isinstance(associations, list) else []:
        if not isinstance(association, dict) or association.get("type") not in PICTURE_TYPES:
            continue
        url = _rendition_url(association)
        if url:
            described = _values(association, "descriptions") or _values(association, "headlines")
            caption = text(described[0]["value"]) if described else text(association.get("description_text"))
            credit = text(association.get("by")) or text(_get(association, "copyrightHolder"))
            pictures.append(FeedImage(url=url, caption=caption, credit=credit))
    return pictures


def _rendition_url(picture: dict[str, Any]) -> str | None:
    renditions = picture.get("renditions")
    if isinstance(renditions, dict):  # ninjs 2.x: name -> rendition
        renditions = list(renditions.values())
    usable = [
        (width if isinstance(width := r.get("width"), int) else 0, url)
        for r in (renditions if isinstance(renditions, list) else [])
        if isinstance(r, dict) and (url := http_url(r.get("href")))
    ]
    if not usable:
        return None
    fitting = [u for u in usable if u[0] <= MAX_RENDITION_WIDTH]
    widest_fitting = max(fitting, key=lambda u: u[0]) if fitting else None
    return (widest_fitting or min(usable, key=lambda u: u[0]))[1]
