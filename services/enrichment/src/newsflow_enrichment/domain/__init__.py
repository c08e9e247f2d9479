from .pipeline import Enricher
from .text import TEXT

DEFAULT_ENRICHERS: tuple[Enricher, ...] = (TEXT,)
