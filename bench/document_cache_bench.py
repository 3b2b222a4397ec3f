"""Parse and validation time per request of the registered TravellerLookup document: every rule
on a freshly parsed document (no cache), against what ``schema.document_cache`` leaves to do
once the document is cached (look it up by hash, run the rules that read the request).

    TIPGRAPH_DEBUG=1 .venv/bin/python bench/document_cache_bench.py [--rounds 2000]

No database: the rules a signed-in investigator's POST meets are built as the schema's
extensions build them (the limits rule with the request's variables, the alias limit).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from graphql import parse, specified_rules, validate  # noqa: E402
from strawberry.extensions.max_aliases import create_validator  # noqa: E402
from strawberry.schema.schema import validate_document  # noqa: E402

from backend.documents import read_documents  # noqa: E402
from bench.common import percentile  # noqa: E402
from schema import schema  # noqa: E402
from schema.document_cache import DocumentCache  # noqa: E402
from schema.limits import Limits, _limits_rule  # noqa: E402

VARIABLES = {"input": {"name": "jose alvarez", "dateOfBirth": "1975-03-02"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000)
    rounds = parser.parse_args().rounds
    [document] = [
        d
        for d in read_documents(Path(settings.GRAPHQL_DOCUMENTS_DIR))
        if d.name == "TravellerLookup"
    ]
    text, gql_schema = document.text, schema._schema
    options = {"max_tokens": settings.GRAPHQL_MAX_TOKENS}

    def request_rules() -> tuple[type, ...]:  # new classes per request, as the extensions make
        return (
            _limits_rule(VARIABLES, Limits.from_settings(), ask_database=False),
            create_validator(settings.GRAPHQL_MAX_ALIASES),
        )

    def uncached() -> None:
        parsed = parse(text, **options)
        assert not validate_document(gql_schema, parsed, (*specified_rules, *request_rules()))

    cache = DocumentCache(maxsize=16)
    key = cache.key(text, options)
    cache.put(key, parse(text, **options))

    def cached() -> None:
        entry = cache.get(cache.key(text, options))
        assert entry is not None
        assert not validate(gql_schema, entry.document, request_rules())

    results = {}
    for name, run in (("parse + validate, no cache", uncached), ("cached by hash", cached)):
        for _ in range(50):  # warm up
            run()
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            run()
            times.append((time.perf_counter() - started) * 1000)
        results[name] = times
        print(
            f"{name:<28} median {percentile(times, 0.5):.3f} ms  "
            f"p90 {percentile(times, 0.9):.3f} ms  ({rounds} rounds)"
        )
    before = percentile(results["parse + validate, no cache"], 0.5)
    after = percentile(results["cached by hash"], 0.5)
    print(
        f"saved per request: {before - after:.3f} ms of {before:.3f} ms "
        f"({100 * (before - after) / before:.0f}%), {len(text)} characters of document"
    )


if __name__ == "__main__":
    main()
