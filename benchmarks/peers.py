"""The pipelines a datasketch or rensa user writes, for side-by-side timing.

``python benchmarks/peers.py datasketch|rensa DUMP.jsonl OUT.jsonl``

Both do what the issue describes a user doing: NFC + casefold + punctuation
folding with ``re``, word 5-gram strings, a MinHash per document
(datasketch ``MinHash(num_perm=128).update_batch``, or rensa's bulk API:
one digest matrix for all documents),
LSH insert + query at threshold 0.8, union-find over the matches, and one
JSON line per cluster. No exact verification (neither library offers one).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Iterator

NUM_PERM = 128
THRESHOLD = 0.8
N = 5
_PUNCT = re.compile(r"[\W_]+")


def documents(path: str) -> Iterator[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            yield record["id"], record["text"]


def shingles(text: str) -> list[str]:
    words = _PUNCT.sub(" ", unicodedata.normalize("NFC", text).casefold()).split()
    if len(words) < N:
        return [" ".join(words)]
    return [" ".join(words[i : i + N]) for i in range(len(words) - N + 1)]


def union_find(n: int, pairs: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]


def run_datasketch(path: str) -> tuple[list[str], list[tuple[int, int]]]:
    from datasketch import MinHash, MinHashLSH

    ids: list[str] = []
    sketches = []
    for doc_id, text in documents(path):
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch([s.encode("utf-8") for s in shingles(text)])
        ids.append(doc_id)
        sketches.append(m)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    for i, m in enumerate(sketches):
        lsh.insert(i, m)
    pairs = [(i, j) for i, m in enumerate(sketches) for j in lsh.query(m) if j > i]
    return ids, pairs


def run_rensa(path: str) -> tuple[list[str], list[tuple[int, int]]]:
    """rensa's bulk API: one digest matrix for all documents
    (``RMinHash.digest_matrix_from_token_sets``), ``RMinHashLSH.insert_matrix``,
    then ``query_all`` (which takes RMinHash objects, from
    ``RMinHash.from_token_sets``)."""
    from rensa import RMinHash, RMinHashLSH

    ids: list[str] = []
    token_sets: list[list[str]] = []
    for doc_id, text in documents(path):
        ids.append(doc_id)
        token_sets.append(shingles(text))
    matrix = RMinHash.digest_matrix_from_token_sets(token_sets, NUM_PERM, 1)
    lsh = RMinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=16)
    lsh.insert_matrix(matrix)
    found = lsh.query_all(RMinHash.from_token_sets(token_sets, NUM_PERM, 1))
    pairs = [(i, j) for i, matches in enumerate(found) for j in matches if j > i]
    return ids, pairs


def main() -> None:
    method, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    ids, pairs = {"datasketch": run_datasketch, "rensa": run_rensa}[method](path)
    labels = union_find(len(ids), pairs)
    clusters: dict[int, list[str]] = {}
    for i, label in enumerate(labels):
        clusters.setdefault(label, []).append(ids[i])
    with open(out, "w", encoding="utf-8") as f:
        for members in clusters.values():
            if len(members) > 1:
                f.write(json.dumps({"size": len(members), "members": members}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
