"""Publication's own metrics, beside the chassis' (`newsflow_chassis.metrics`)."""

from newsflow_chassis.metrics import SLOW
from prometheus_client import Counter, Histogram

ARTICLES_PUBLISHED = Counter(
    "newsflow_articles_published_total", "Article versions put live on the published topic."
)
END_TO_END = Histogram(
    "newsflow_end_to_end_seconds",
    "From ingest accepting a version (accepted_at, carried in the events) to its publication.",
    buckets=SLOW,
)
