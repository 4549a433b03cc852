"""Build a news dump with known near-duplicates from a real corpus.

``python benchmarks/make_dump.py --docs 50000 --out benchmarks/data/vntc-50k.jsonl``

``python benchmarks/make_dump.py --docs 1000000 --source ../shared/corpora/vntc/vntc.jsonl.gz
--source ../shared/corpora/vn_baomoi/baomoi.jsonl.gz --out benchmarks/data/news-1m.jsonl``
streams a dump larger than its sources: once the real articles are used up,
new originals are composites of paragraphs from three random articles.

About ``--dup-rate`` of the documents are edited copies of others, made by the
edits news pipelines make: a few words changed, re-wrapping, upper-casing,
punctuation changes, a credit line appended, NFD re-encoding, the other
tone-mark style. Each record: ``id``, ``text``, ``source`` (the id of the
original a copy was made from, else its own id). Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dedup.generate import republish  # after sys.path

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_SOURCE = SHARED / "corpora" / "vntc" / "vntc.jsonl.gz"
# The edits live in the library (dedup generate uses them too); same RNG calls,
# so dumps built before the move are byte-identical.
edit = republish


def build(source: Path, docs: int, dup_rate: float, seed: int) -> list[dict[str, str]]:
    """Sample originals from ``source`` and add edited copies."""
    rng = random.Random(seed)
    n_copies = int(docs * dup_rate)
    n_originals = docs - n_copies
    originals: list[dict[str, str]] = []
    with gzip.open(source, "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record.get("text", "").strip():
                originals.append({"id": record["id"], "text": record["text"]})
            if len(originals) >= n_originals:
                break
    out = [{**r, "source": r["id"]} for r in originals]
    for k in range(n_copies):
        original = rng.choice(originals)
        copy = {"id": f"copy-{k}", "text": edit(original["text"], rng), "source": original["id"]}
        out.insert(rng.randrange(len(out) + 1), copy)
    return out


def stream_build(sources: list[Path], docs: int, dup_rate: float, seed: int, out: Path) -> int:
    """Write a dump of ``docs`` documents without holding it in memory.

    Each slot is, with probability ``dup_rate``, an edited copy of a random
    real article seen so far, else the next original: real articles first,
    then composites (paragraphs of three random real articles).
    """
    rng = random.Random(seed)
    real: list[dict[str, str]] = []

    def originals() -> Iterator[dict[str, str]]:
        for source in sources:
            with gzip.open(source, "rt", encoding="utf-8") as f:
                for line in f:
                    record = json.loads(line)
                    if record.get("text", "").strip():
                        item = {"id": str(record["id"]), "text": record["text"]}
                        real.append(item)
                        yield item
        k = 0
        while True:
            picks = rng.sample(real, 3)
            paragraphs = [p for r in picks for p in r["text"].split("\n") if p.strip()]
            rng.shuffle(paragraphs)
            yield {"id": f"synth-{k}", "text": "\n".join(paragraphs[: max(3, len(paragraphs) // 3)])}
            k += 1

    fresh = originals()
    copies = 0
    with open(out, "w", encoding="utf-8") as f:
        for _ in range(docs):
            if real and rng.random() < dup_rate:
                original = rng.choice(real)
                record = {"id": f"copy-{copies}", "text": edit(original["text"], rng), "source": original["id"]}
                copies += 1
            else:
                item = next(fresh)
                record = {**item, "source": item["id"]}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, action="append", help="JSONL.gz corpus (repeatable)")
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--dup-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    sources = args.source or [DEFAULT_SOURCE]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    if len(sources) > 1 or args.docs > 84_000:
        stream_build(sources, args.docs, args.dup_rate, args.seed, tmp)
        tmp.replace(args.out)
        print(f"wrote {args.docs} documents to {args.out}")
        return
    records = build(sources[0], args.docs, args.dup_rate, args.seed)
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(args.out)
    print(f"wrote {len(records)} documents to {args.out}")


if __name__ == "__main__":
    main()
