"""Enrichers are pure functions with a name and a version; the pipeline runs each one,
times it, isolates its failure and records what it produced."""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from newsflow_contracts.events import ArticleContent, EnricherRun, Enrichment

Derived = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Enricher:
    name: str
    version: str
    run: Callable[[ArticleContent, Derived], Derived]
    """Takes the content and what earlier enrichers derived; returns new Enrichment fields."""


def pipeline_version(enrichers: Sequence[Enricher]) -> str:
    return "+".join(f"{e.name}@{e.version}" for e in enrichers)


def enrich(content: ArticleContent, enrichers: Sequence[Enricher]) -> Enrichment:
    derived: dict[str, Any] = {}
    runs: list[EnricherRun] = []
    for enricher in enrichers:
        started = time.perf_counter()
        try:
            produced = dict(enricher.run(content, derived))
        except Exception as error:  # an enricher's bug must not stop the article
            runs.append(
                EnricherRun(
                    enricher=enricher.name,
                    version=enricher.version,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    error=f"{type(error).__name__}: {error}",
                )
            )
            continue
        derived.update(produced)
        runs.append(
            EnricherRun(
                enricher=enricher.name,
                version=enricher.version,
                fields=sorted(produced),
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        )
    return Enrichment(**derived, runs=runs)
