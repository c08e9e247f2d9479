"""The reader site's pages: thin handlers over the read API and the templates."""

import asyncio
import re
import time

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.exceptions import HTTPException

from ..adapters.read_api import ReadApi
from ..domain.pages import (
    SECTION_PATTERN,
    Front,
    NotFound,
    Page,
    Retracted,
    Unavailable,
    section_title,
    sections_of,
    share_links,
)
from .rendering import ERROR_CACHE, Renderer

LATEST = 20
POPULAR = 8
NAV_REFRESH_S = 60.0

router = APIRouter()


def _api(request: Request) -> ReadApi:
    return request.app.state.api  # type: ignore[no-any-return]


def _renderer(request: Request) -> Renderer:
    return request.app.state.renderer  # type: ignore[no-any-return]


async def _sections(request: Request) -> list[str]:
    """The sections of the newest articles, for the navigation; looked up once a minute."""
    state = request.app.state
    if time.monotonic() - state.nav_at > NAV_REFRESH_S:
        try:
            state.nav = sections_of(await _api(request).latest(None, limit=100))
            state.nav_at = time.monotonic()
        except Unavailable:
            pass
    return state.nav  # type: ignore[no-any-return]


async def _front(request: Request, section: str | None) -> Response:
    api = _api(request)
    latest, popular = await asyncio.gather(
        api.latest(section, limit=LATEST), api.popular(section, limit=POPULAR)
    )
    if section and not latest:
        raise NotFound(section)
    return _renderer(request).response(
        request,
        "front.html",
        front=Front(section, latest, popular),
        title=section_title(section),
        sections=await _sections(request),
    )


def _article(request: Request, page: Page, sections: list[str]) -> Response:
    canonical = str(request.url_for("article", article_id=page.article.article_id))
    return _renderer(request).response(
        request,
        "article.html",
        page=page,
        title=page.article.headline,
        lang=page.article.language,
        canonical=canonical,
        share=share_links(canonical, page.article.headline),
        sections=sections,
    )


@router.get("/", name="home")
async def home(request: Request) -> Response:
    return await _front(request, None)


@router.get("/sections/{section}", name="section")
async def section_front(section: str, request: Request) -> Response:
    if not re.fullmatch(SECTION_PATTERN, section):
        raise NotFound(section)
    return await _front(request, section)


@router.get("/articles/{article_id}", name="article")
async def article(article_id: str, request: Request) -> Response:
    page, sections = await asyncio.gather(_api(request).page(article_id), _sections(request))
    return _article(request, page, sections)


@router.get("/news/{slug}", name="article_by_slug")
async def article_by_slug(slug: str, request: Request) -> Response:
    api = _api(request)
    page = await api.page(await api.article_id_of(slug))
    return _article(request, page, await _sections(request))


def _error(request: Request, status: int, heading: str, message: str, cache: str) -> Response:
    response = _renderer(request).response(
        request,
        "error.html",
        status=status,
        cache=cache,
        title=heading,
        heading=heading,
        message=message,
        sections=request.app.state.nav,
    )
    if status == 503:
        response.headers["Retry-After"] = "10"
    return response


async def _not_found(request: Request, error: Exception) -> Response:
    return _error(
        request,
        404,
        "Page not found",
        "We could not find that page. It may have moved, or the address may be mistyped.",
        ERROR_CACHE,
    )


async def _retracted(request: Request, error: Exception) -> Response:
    return _error(
        request,
        410,
        "This article has been withdrawn",
        "The newsroom has withdrawn this article, so we no longer show it. "
        "We are sorry for any inconvenience; you may find our latest reporting on the front page.",
        ERROR_CACHE,
    )


async def _unavailable(request: Request, error: Exception) -> Response:
    return _error(
        request,
        503,
        "The news is taking a moment",
        "We could not fetch this page just now. Please try again in a few seconds.",
        "no-store",
    )


async def _http_error(request: Request, error: Exception) -> Response:
    if isinstance(error, HTTPException) and error.status_code == 404:
        return await _not_found(request, error)
    assert isinstance(error, HTTPException)
    return Response(str(error.detail), status_code=error.status_code, headers=error.headers)


def install(app: FastAPI, renderer: Renderer) -> None:
    app.state.renderer = renderer
    app.state.nav, app.state.nav_at = [], float("-inf")
    app.include_router(router)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Retracted, _retracted)
    app.add_exception_handler(Unavailable, _unavailable)
    app.add_exception_handler(HTTPException, _http_error)
