"""Ingest's duplicate finding: is a new article a copy of one ingest already has?

An article is judged once, at its first version, against the first versions of the articles
found original before it, from any source; its later versions carry the same finding (a
duplicate's corrections are still the duplicate; an original's are just versions). Only
originals are remembered, so a duplicate always names a first article, never another copy.

Order in `accept_submission`: find (this claims the exact fingerprint), store the version,
remember, publish. The claim is an atomic insert, so of two submissions of one body the
second finds the first. If the first is not stored yet, it is given `claim_patience_s` to
be; a claim whose article never was (a crash between claiming and storing) names no article,
and similarity decides instead. Remembering
after storing means a crash in between leaves an original unremembered: a later copy of it
would be missed, but nothing is ever judged a copy of an article that was not stored. Two
near-duplicate articles submitted at the same instant can both come out original.
"""

import asyncio
from dataclasses import dataclass, field
from functools import lru_cache

from newsflow_contracts.events import ArticleContent, ArticleIngested, Duplicate

from .adapters.fingerprints import FingerprintStore
from .adapters.heads import HeadStore
from .domain.dedup import (
    DEFAULT_MIN_WORDS,
    DEFAULT_NEAR_THRESHOLD,
    DEFAULT_SCHEME,
    MinHashScheme,
    band_keys,
    fingerprint,
    judge,
)

# a first version is fingerprinted to be judged, then again to be remembered (~7 ms each)
_fingerprint = lru_cache(maxsize=32)(fingerprint)


@dataclass(frozen=True, slots=True)
class DedupPolicy:
    threshold: float = DEFAULT_NEAR_THRESHOLD
    """Estimated Jaccard similarity of word shingles from which a body is a near duplicate."""
    min_words: int = DEFAULT_MIN_WORDS
    """Shorter bodies are neither judged nor remembered."""
    scheme: MinHashScheme = field(default=DEFAULT_SCHEME)
    claim_patience_s: float = 1.0
    """How long an exact claim's article may take to be stored before the claim is ignored."""


async def find_duplicate(
    content: ArticleContent,
    article_id: str,
    *,
    store: FingerprintStore,
    heads: HeadStore,
    policy: DedupPolicy,
) -> Duplicate | None:
    fp = _fingerprint(content.body_html, policy.scheme)
    if fp.words < policy.min_words:
        return None
    first = await store.claim_exact(fp.exact, article_id)
    if first != article_id and (stored := await _first_version(first, heads, policy)) is not None:
        # a copy of a duplicate is as similar to the original as that duplicate was
        return stored.duplicate or Duplicate(of_article_id=first, kind="exact", similarity=1.0)
    keys = band_keys(fp.signature, policy.scheme)
    candidates = await store.candidates(keys) - {article_id}
    signatures = await store.signatures(candidates) if candidates else {}
    return judge(fp.signature, exact_of=None, candidates=signatures, threshold=policy.threshold)


async def _first_version(article_id: str, heads: HeadStore, policy: DedupPolicy) -> ArticleIngested | None:
    """The claimant's first version, waiting a little for one that is being stored now."""
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + policy.claim_patience_s, 0.005
    while True:
        stored = await heads.event_of(article_id, 1)
        if stored is not None and isinstance(stored[0], ArticleIngested):
            return stored[0]
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)


async def remember(
    content: ArticleContent, article_id: str, *, store: FingerprintStore, policy: DedupPolicy
) -> None:
    fp = _fingerprint(content.body_html, policy.scheme)
    if fp.words >= policy.min_words:
        await store.remember(article_id, fp.signature, band_keys(fp.signature, policy.scheme))


@dataclass(frozen=True, slots=True)
class Deduplicator:
    """What `accept_submission` needs: the store and the policy, bound together."""

    store: FingerprintStore
    policy: DedupPolicy = field(default_factory=DedupPolicy)

    async def judge(self, event: ArticleIngested, *, heads: HeadStore) -> ArticleIngested:
        """The event with its finding: decided at the first version, carried by later ones."""
        if event.version > 1:
            found = await self.recorded(event.article_id, heads=heads)
        else:
            found = await find_duplicate(
                event.content, event.article_id, store=self.store, heads=heads, policy=self.policy
            )
        return event.model_copy(update={"duplicate": found})

    async def recorded(self, article_id: str, *, heads: HeadStore) -> Duplicate | None:
        """The finding stored with the article's first version."""
        stored = await heads.event_of(article_id, 1)
        return stored[0].duplicate if stored and isinstance(stored[0], ArticleIngested) else None

    async def remember(self, event: ArticleIngested) -> None:
        if event.version == 1 and event.duplicate is None:
            await remember(event.content, event.article_id, store=self.store, policy=self.policy)
