"""Nothing lost, nothing doubled: 1,000 articles while enrichment and publication are each
killed with SIGKILL three times at random moments."""

import asyncio
import os
import random
import time

import pytest
from newsflow_contracts.topics import (
    ARTICLE_ENRICHED,
    ARTICLE_INGESTED,
    ARTICLE_PUBLISHED,
)

from tests.support.accounting import (
    dead_letter_offsets,
    dead_letters_since,
    published_event_ids,
    stored_version_history,
    wait_for_read_model,
)
from tests.support.newsroom import Ledger, publish_run
from tests.support.processes import Services
from tests.support.stack import end_offsets, unique

ARTICLES = 1000
KILLS_EACH = 3

pytestmark = pytest.mark.timeout(600)


async def kill_and_restart(
    services: Services, victims: list[str], rng: random.Random, log: list[str]
) -> None:
    started = time.monotonic()
    for name in victims:
        await asyncio.sleep(rng.uniform(0.5, 3.0))
        await asyncio.to_thread(services.kill, name)
        log.append(f"{time.monotonic() - started:5.1f}s kill -9 {name}")
        await asyncio.to_thread(services.start, name)


async def test_a_thousand_articles_survive_sigkill_of_enrichment_and_publication() -> None:
    seed = int(os.environ.get("NEWSFLOW_CHAOS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"\nchaos seed {seed} (set NEWSFLOW_CHAOS_SEED to replay the same schedule)")
    services = Services.isolated()
    await services.groups_at_end()
    dead_letters_before = await dead_letter_offsets([ARTICLE_INGESTED.dlq.name, ARTICLE_ENRICHED.dlq.name])
    published_before = await end_offsets(ARTICLE_PUBLISHED.name)
    ledger, kills = Ledger(), []
    victims = ["enrichment"] * KILLS_EACH + ["publication"] * KILLS_EACH
    rng.shuffle(victims)
    try:
        for name in ("ingest", "enrichment", "publication"):
            services.start(name)
        key = services.create_key(unique("chaos-cms"))
        began = time.monotonic()
        await asyncio.gather(
            publish_run(
                services.url("ingest"), key, unique("chaos"), articles=ARTICLES, ledger=ledger, rng=rng
            ),
            kill_and_restart(services, victims, rng, kills),
        )
        submitted_s = time.monotonic() - began
        database = services.env["NEWSFLOW_PUBLICATION_DB"]
        stored = await wait_for_read_model(database, ledger.latest, timeout_s=240)
        drained_s = time.monotonic() - began
    finally:
        services.stop_all()

    print("\n".join(kills))
    print(
        f"{len(ledger.accepted)} articles, {len(ledger.pairs)} versions accepted in {submitted_s:.1f}s "
        f"({ledger.retries} retries); read model complete after {drained_s:.1f}s"
    )
    assert len(kills) == 2 * KILLS_EACH
    assert len(ledger.accepted) == ARTICLES
    missing = {a: v for a, v in ledger.latest.items() if stored.get(a) != v}
    assert not missing, (
        f"{len(missing)} articles not at their latest version, e.g. {list(missing.items())[:5]}"
    )

    history = await stored_version_history(database, set(ledger.accepted))
    assert {a: sorted(vs) for a, vs in history.items()} == {
        a: sorted(vs) for a, vs in ledger.accepted.items()
    }

    published = await published_event_ids(published_before, ledger.pairs, timeout_s=60)
    assert ledger.pairs <= set(published), (
        f"versions never published: {sorted(ledger.pairs - set(published))[:5]}"
    )
    doubled = {pair: ids for pair, ids in published.items() if len(ids) > 1}
    assert all(len(set(ids)) == 1 for ids in doubled.values()), "a redelivered version got a new ce_id"
    print(f"published: {sum(map(len, published.values()))} records, {len(doubled)} versions redelivered")

    assert await dead_letters_since(dead_letters_before) == []
