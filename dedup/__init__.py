"""dedup: duplicate and near-duplicate detection for news corpora.

Example:
    >>> import dedup
    >>> result = dedup.find_duplicates(["Một câu chuyện về thời tiết hôm nay ở Hà Nội",
    ...                                 "MỘT CÂU CHUYỆN về thời tiết hôm nay ở Hà Nội!"])
    >>> [c.ids for c in result.clusters]
    [['0', '1']]
"""

import importlib
import os

# Set before numpy and the compiled kernels load their thread pools (no
# effect if the caller loaded them first). dedup never calls BLAS, and
# OpenBLAS's idle threads cost memory. OpenMP threads that spin between
# kernels take the core from the thread parsing the next batch: passive
# waiting made a 50k-document scan ~10% faster (benchmarks/RESULTS.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typing

if typing.TYPE_CHECKING:
    from dedup.blocks import BlockGroup, BlocksConfig, find_repeated_blocks
    from dedup.cluster import Cluster
    from dedup.document import Document, Skipped
    from dedup.index import Index
    from dedup.io import read_documents
    from dedup.lsh import candidate_pairs, choose_bands, to_lean_minhashes
    from dedup.minhash import compute_signatures
    from dedup.normalize import normalize_text
    from dedup.pipeline import Pair, ScanConfig, ScanResult, find_duplicates, sketch_texts
    from dedup.similarity import exact_jaccard

# Each public name is imported from its module on first use (PEP 562): a
# scan never loads blocks, the index or datasketch, and `dedup --help`
# starts without them.
_HOMES = {
    "BlockGroup": "blocks",
    "BlocksConfig": "blocks",
    "Cluster": "cluster",
    "Document": "document",
    "Index": "index",
    "Pair": "pipeline",
    "ScanConfig": "pipeline",
    "ScanResult": "pipeline",
    "Skipped": "document",
    "candidate_pairs": "lsh",
    "choose_bands": "lsh",
    "compute_signatures": "minhash",
    "exact_jaccard": "similarity",
    "find_duplicates": "pipeline",
    "find_repeated_blocks": "blocks",
    "normalize_text": "normalize",
    "read_documents": "io",
    "sketch_texts": "pipeline",
    "to_lean_minhashes": "lsh",
}

__version__ = "0.1.0"

__all__ = [
    "BlockGroup",
    "BlocksConfig",
    "Cluster",
    "Document",
    "Index",
    "Pair",
    "ScanConfig",
    "ScanResult",
    "Skipped",
    "candidate_pairs",
    "choose_bands",
    "compute_signatures",
    "exact_jaccard",
    "find_duplicates",
    "find_repeated_blocks",
    "normalize_text",
    "read_documents",
    "sketch_texts",
    "to_lean_minhashes",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'dedup' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dedup.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
