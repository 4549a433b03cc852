"""dedup: duplicate and near-duplicate detection for news corpora.

Example:
    >>> import dedup
    >>> result = dedup.find_duplicates(["Một câu chuyện về thời tiết hôm nay ở Hà Nội",
    ...                                 "MỘT CÂU CHUYỆN về thời tiết hôm nay ở Hà Nội!"])
    >>> [c.ids for c in result.clusters]
    [['0', '1']]
"""

import os

# Set before numpy and the compiled kernels load their thread pools (no
# effect if the caller loaded them first). dedup never calls BLAS, and
# OpenBLAS's idle threads cost memory. OpenMP threads that spin between
# kernels take the core from the thread parsing the next batch: passive
# waiting made a 50k-document scan ~10% faster (benchmarks/RESULTS.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
