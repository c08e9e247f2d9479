"""`newsflow-publication related`: the indexer's own process imports none of the read API,
is ready only once the indexer has caught up, and hands the index one copy of each word."""

import json
import subprocess
import sys

import pytest
from newsflow_publication.entrypoints import related_indexer
from newsflow_publication.entrypoints.related_indexer import Indexing, RelatedIndexer, terms_of
from newsflow_publication.settings import Settings


def test_the_related_process_imports_none_of_the_read_api() -> None:
    code = (
        "import sys, newsflow_publication.related_app as r; r.create_app(); "
        "print(sorted(m for m in sys.modules if m.startswith('newsflow_publication')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    for module in (
        "newsflow_publication.app",
        ".entrypoints.http",
        ".entrypoints.pages",
        ".adapters.articles",
    ):
        assert module not in loaded


async def test_ready_once_the_indexer_has_caught_up() -> None:
    indexing = Indexing()
    with pytest.raises(RuntimeError, match="not started"):
        await indexing.check()
    indexing.indexer = RelatedIndexer(Settings(), store=None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="catching up"):
        await indexing.check()
    indexing.indexer.caught_up = True
    assert await indexing.check() == "0 articles, 0 lists waiting"


def test_the_signature_terms_are_shared_between_articles() -> None:
    def article(article_id: str) -> bytes:
        terms = [{"term": "ferr" + "y", "weight": 1.0}, {"term": "harbour", "weight": 0.5}]
        return json.dumps(
            {
                "article_id": article_id,
                "enrichment": {"signature": {"scheme": related_indexer.SCHEME, "terms": terms}},
            }
        ).encode()

    (_, one), (_, other) = terms_of(article("a")), terms_of(article("b"))
    assert one == {"ferry": 1.0, "harbour": 0.5}
    assert [a is b for a, b in zip(one, other, strict=True)] == [True, True]
