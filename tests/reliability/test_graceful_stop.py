"""SIGTERM in the middle of the work: enrichment and publication are each stopped (SIGTERM)
and restarted three times while articles flow. Each stop ends within the configured bound,
and since a stop finishes the records in hand and commits their offsets, nothing is lost and,
unlike after a SIGKILL, nothing is handled twice: every accepted version is enriched once and
published once."""

import asyncio
import json
import os
import random
import signal
import time
from collections import Counter

import pytest
from newsflow_contracts.topics import ARTICLE_ENRICHED, ARTICLE_INGESTED, ARTICLE_PUBLISHED

from tests.support.accounting import (
    dead_letter_offsets,
    dead_letters_since,
    stored_version_history,
    wait_for_read_model,
)
from tests.support.newsroom import Ledger, publish_run
from tests.support.processes import Services
from tests.support.stack import end_offsets, records_since, unique

ARTICLES = 300
STOPS_EACH = 3
SHUTDOWN_TIMEOUT_S = 10

pytestmark = pytest.mark.timeout(600)


async def stop_and_restart(
    services: Services, victims: list[str], rng: random.Random, took: list[tuple[str, float]]
) -> None:
    for name in victims:
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        started = time.monotonic()
        await asyncio.to_thread(services.kill, name, signal.SIGTERM)
        took.append((name, time.monotonic() - started))
        await asyncio.to_thread(services.start, name)


def versions_on(records: list, ids: set[str]) -> Counter[tuple[str, int]]:
    seen: Counter[tuple[str, int]] = Counter()
    for record in records:
        key = record.key.decode() if record.key else ""
        if key in ids and record.value is not None:
            seen[(key, json.loads(record.value)["version"])] += 1
    return seen


async def test_sigterm_mid_run_loses_nothing_and_doubles_nothing() -> None:
    seed = int(os.environ.get("NEWSFLOW_CHAOS_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"\nseed {seed} (set NEWSFLOW_CHAOS_SEED to replay the same schedule)")
    services = Services.isolated()
    services.env["NEWSFLOW_SHUTDOWN_TIMEOUT_S"] = str(SHUTDOWN_TIMEOUT_S)
    await services.groups_at_end()
    dead_before = await dead_letter_offsets([ARTICLE_INGESTED.dlq.name, ARTICLE_ENRICHED.dlq.name])
    enriched_before = await end_offsets(ARTICLE_ENRICHED.name)
    published_before = await end_offsets(ARTICLE_PUBLISHED.name)
    ledger, took = Ledger(), []
    victims = ["enrichment"] * STOPS_EACH + ["publication"] * STOPS_EACH
    rng.shuffle(victims)
    try:
        for name in ("ingest", "enrichment", "publication"):
            services.start(name)
        key = services.create_key(unique("stop-cms"))
        await asyncio.gather(
            publish_run(
                services.url("ingest"),
                key,
                unique("stop"),
                articles=ARTICLES,
                ledger=ledger,
                rng=rng,
                workers=6,
                pause_s=0.02,
            ),
            stop_and_restart(services, victims, rng, took),
        )
        database = services.env["NEWSFLOW_PUBLICATION_DB"]
        stored = await wait_for_read_model(database, ledger.latest, timeout_s=180)
        await asyncio.sleep(2)  # let anything that would be handled twice arrive
    finally:
        services.stop_all()

    print("\n".join(f"SIGTERM {name}: stopped in {s:.2f}s" for name, s in took))
    assert len(took) == 2 * STOPS_EACH
    assert all(s < SHUTDOWN_TIMEOUT_S for _, s in took), took
    assert {a: v for a, v in ledger.latest.items() if stored.get(a) != v} == {}
    history = await stored_version_history(database, set(ledger.accepted))
    assert {a: sorted(vs) for a, vs in history.items()} == {
        a: sorted(vs) for a, vs in ledger.accepted.items()
    }

    ids = set(ledger.accepted)
    for topic, start in (("enriched", enriched_before), ("published", published_before)):
        records = await records_since(start, until=lambda _: False, timeout_s=8)
        seen = versions_on(records, ids)
        assert set(seen) == ledger.pairs, f"{topic}: missing {sorted(ledger.pairs - set(seen))[:5]}"
        doubled = {pair: n for pair, n in seen.items() if n > 1}
        assert doubled == {}, f"{topic}: handled twice after a graceful stop: {list(doubled.items())[:5]}"
    assert await dead_letters_since(dead_before) == []
