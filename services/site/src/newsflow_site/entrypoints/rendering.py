"""Templates to responses: HTML with an ETag (a repeated GET of an unchanged page is a 304),
a short shared-cache lifetime, and headers that keep the page safe."""

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..settings import Settings

PAGE_CACHE = "public, max-age=5, stale-while-revalidate=30"
ERROR_CACHE = "public, max-age=30"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _when(value: datetime) -> str:
    return f"{value:%-d %B %Y, %H:%M} {value.tzname() or 'UTC'}"


class Renderer:
    def __init__(self, settings: Settings) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True), auto_reload=False
        )
        self.env.filters["when"] = _when
        self.globals = {"site_name": settings.site_name, "beacon_url": settings.beacon_url}
        beacon = urlsplit(settings.beacon_url)
        self.headers = {
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' https: http: data:; style-src 'self'; "
                f"script-src 'self'; connect-src {beacon.scheme}://{beacon.netloc}; "
                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
        }

    def html(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**self.globals, **context)

    def response(
        self, request: Request, template: str, *, status: int = 200, cache: str = PAGE_CACHE, **context: Any
    ) -> Response:
        body = self.html(template, **context).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {**self.headers, "ETag": etag, "Cache-Control": cache}
        if status == 200 and etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=headers)
