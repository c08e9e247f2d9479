"""GET /metrics: Prometheus text format of the process's default registry.

Unauthenticated, as Prometheus scrapers expect; the API binds to 127.0.0.1 by default, and
in a deployment the port is not exposed beyond the cluster."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
