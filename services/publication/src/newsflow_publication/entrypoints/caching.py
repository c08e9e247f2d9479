"""Conditional GET for every read: ETag and Last-Modified out, 304 when the client has it."""

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request, Response
from pydantic import BaseModel


def etag_of(*parts: object) -> str:
    return '"' + hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32] + '"'


def _not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag in tags or "*" in tags
    since = request.headers.get("if-modified-since")
    if since and last_modified is not None:
        try:
            return last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def conditional(
    request: Request,
    body: BaseModel | bytes,
    *,
    etag: str,
    last_modified: datetime | None,
    cache_control: str,
    media_type: str = "application/json",
) -> Response:
    """The body with its validators, or 304 when the client's copy is current."""
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified.astimezone(UTC), usegmt=True)
    if _not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=headers)
    if isinstance(body, BaseModel):
        body = rendered(etag, body)
    return Response(body, media_type=media_type, headers=headers)


_RENDERED: dict[object, bytes] = {}
RENDERED_MAX = 1_000
"""Bodies kept at most, the oldest rendered going first (an article's is about 10 KB)."""


def rendered(key: object, body: BaseModel) -> bytes:
    """The JSON of `body`, rendered once for every request of the content `key` names (its
    ETag, or what the ETag is made of)."""
    found = _RENDERED.get(key)
    if found is None:
        if len(_RENDERED) >= RENDERED_MAX:
            del _RENDERED[next(iter(_RENDERED))]
        found = _RENDERED[key] = body.model_dump_json(by_alias=True, exclude_none=True).encode()
    return found
