"""Publish the bundled sample articles through the ingest API, as a newsroom CMS would.

    python samples/publish.py [--ingest URL] [--publication URL] [--site URL] [--articles FILE]

Uses the key in .run/sample-newsroom.key, creating one for the source 'sample-newsroom'
the first time, and again when ingest no longer knows the kept one (its database was reset);
the key file is readable by its owner only."""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
KEY_FILE = ROOT / ".run" / "sample-newsroom.key"
SOURCE = "sample-newsroom"


def sample_key(*, fresh: bool = False) -> str:
    if KEY_FILE.exists() and not fresh:
        return KEY_FILE.read_text().strip()
    created = subprocess.run(
        [str(ROOT / ".venv/bin/newsflow-ingest"), "keys", "create", "--source", SOURCE],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    key = next(line.split()[1] for line in created.splitlines() if line.startswith("key:"))
    KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    KEY_FILE.touch(mode=0o600)
    KEY_FILE.write_text(key + "\n")
    return key


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ingest", default=os.environ.get("NEWSFLOW_INGEST_URL", "http://127.0.0.1:8001"))
    parser.add_argument(
        "--publication", default=os.environ.get("NEWSFLOW_PUBLICATION_URL", "http://127.0.0.1:8002")
    )
    parser.add_argument("--site", default=f"http://127.0.0.1:{os.environ.get('NEWSFLOW_SITE_PORT', '8004')}")
    parser.add_argument("--articles", type=Path, default=ROOT / "samples" / "articles.jsonl")
    args = parser.parse_args()

    headers = {"Authorization": f"Bearer {sample_key()}"}
    accepted = []
    with httpx.Client(timeout=10) as client:
        for line in args.articles.read_text().splitlines():
            if not line.strip():
                continue
            article = json.loads(line)
            response = client.post(f"{args.ingest}/v1/articles", json=article, headers=headers)
            if response.status_code == 401 and not accepted:  # a key from before a reset
                headers = {"Authorization": f"Bearer {sample_key(fresh=True)}"}
                response = client.post(f"{args.ingest}/v1/articles", json=article, headers=headers)
            if response.status_code != 202:
                print(
                    f"{article['external_id']}: {response.status_code} {response.text}",
                    file=sys.stderr,
                )
                return 1
            accepted.append(response.json())
        print(f"published {len(accepted)} sample articles through {args.ingest}")

        deadline = time.monotonic() + 30
        missing = list(accepted)
        while missing and time.monotonic() < deadline:
            missing = [
                a
                for a in missing
                if client.get(f"{args.publication}/v1/articles/{a['article_id']}").status_code != 200
            ]
            if missing:
                time.sleep(0.2)
    if missing:
        print(f"{len(missing)} articles not readable after 30 s", file=sys.stderr)
        return 1
    print("\nOpen:")
    for a in accepted[:3]:
        print(f"  {args.publication}/v1/articles/{a['article_id']}")
        print(f"  {args.publication}/v1/articles/by-slug/{a['slug']}")
    print(f"  ... and {len(accepted) - 3} more; OpenAPI: {args.ingest}/docs and {args.publication}/docs")
    print(f"\nReader site: {args.site}/  (simulated readers move its Popular lists)")
    print(f"  {args.site}/articles/{accepted[0]['article_id']}")
    print(f"  {args.site}/news/{accepted[0]['slug']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
