# Type stub of the compiled module dedup/_kernels.pyx.
from typing import TypeVar

import numpy as np
import numpy.typing as npt

FALLBACK_TAG: int
SITE_TEXT: int
SITE_BOUNDS: int
SITE_HASHES: int
SITE_NFC: int
WORD_SIMD: bool
WORD_SIMD512: bool
FOLD_SIMD: bool
HASH_SIMD: bool
SORT_SIMD: bool

_S = TypeVar("_S", bound=np.generic)

def as_array(x: object, dtype: type[_S], name: str, ndim: int) -> npt.NDArray[_S]: ...
def as_offsets(x: object, total: int, name: str, of: str) -> npt.NDArray[np.int64]: ...
def check_int(value: object, name: str, low: int | None = None) -> None: ...
def check_offsets(offsets: npt.NDArray[np.int64], total: int, name: str, of: str) -> None: ...
def check_pairs(left: npt.NDArray[np.int64], right: npt.NDArray[np.int64], n_docs: int) -> None: ...
def check_indices(index: npt.NDArray[np.int64], n: int, name: str) -> None: ...
def fail_allocation_for_tests(doc: int, site: int) -> None: ...
def sorted_distinct(values: npt.NDArray[_S]) -> npt.NDArray[_S]: ...
def sort_hashes_for_tests(values: npt.NDArray[np.uint64]) -> None: ...
def sort_runs_for_tests(values: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64]) -> None: ...
def sort_simd_for_tests(on: bool) -> bool: ...
def xxh64_buffer(buf: npt.NDArray[np.uint8], start: int, end: int) -> int: ...
def word_steps_for_tests(mode: int) -> int: ...
def word_chunk_for_tests(chunk: npt.NDArray[np.uint8]) -> tuple[bytes, tuple[int, int, int, int, int, int]]: ...
def hash_simd_for_tests(on: bool) -> bool: ...
def nfc_kernel(
    text: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], nfc: npt.NDArray[np.uint32], num_threads: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]: ...
def normalize_kernel(
    text: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.int64],
    case: npt.NDArray[np.uint32],
    accent: npt.NDArray[np.uint32],
    stable: npt.NDArray[np.uint8],
    nfc: npt.NDArray[np.uint32],
    fold_accents: bool,
    check_nfc: bool,
    tones: npt.NDArray[np.uint32],
    num_threads: int,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.uint8]]: ...
def shingle_kernel(
    buf: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], kind: int, n: int, num_threads: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.uint8]]: ...
def signature_kernel(
    values: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.int64],
    a: npt.NDArray[np.uint32],
    b: npt.NDArray[np.uint32],
    num_threads: int,
) -> npt.NDArray[np.uint32]: ...
def jaccard_kernel(
    values: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.int64],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    num_threads: int,
) -> npt.NDArray[np.float64]: ...
def union_find(n: int, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]: ...
def sketch_kernel(
    text: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.int64],
    case: npt.NDArray[np.uint32],
    accent: npt.NDArray[np.uint32],
    stable: npt.NDArray[np.uint8],
    nfc: npt.NDArray[np.uint32],
    fold_accents: bool,
    check_nfc: bool,
    tones: npt.NDArray[np.uint32],
    kind: int,
    n: int,
    a: npt.NDArray[np.uint32],
    b: npt.NDArray[np.uint32],
    num_threads: int,
) -> tuple[
    npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.uint32], npt.NDArray[np.uint8], npt.NDArray[np.uint8]
]: ...
def hash_kernel(
    buf: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], num_threads: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]: ...
def start_threads(num_threads: int) -> int: ...

LINE_BLANK: int
LINE_OK: int
LINE_PYTHON: int
LINE_EMPTY: int
ID_NONE: int
ID_PLAIN: int
ID_ESCAPED: int
ID_TOKEN: int

def jsonl_kernel(
    data: npt.NDArray[np.uint8],
    size: int,
    text_key: npt.NDArray[np.uint8],
    id_key: npt.NDArray[np.uint8],
    num_threads: int,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.uint8],
    npt.NDArray[np.uint8],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.uint8],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.uint8],
]: ...
def jsonl_simd_for_tests(on: bool) -> bool: ...

# ---- blocks (dedup/blocks.py)
def block_kernel(
    text: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.int64],
    paragraphs: bool,
    case: npt.NDArray[np.uint32],
    stable: npt.NDArray[np.uint8],
    tones: npt.NDArray[np.uint32],
    num_threads: int,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.uint64],
    npt.NDArray[np.int64],
    npt.NDArray[np.uint8],
]: ...

# Matching stages (issue 11, round 3).
def band_pairs_kernel(
    columns: npt.NDArray[np.uint64], max_bucket: int, num_threads: int
) -> tuple[list[npt.NDArray[np.int64]], int, int]: ...
def pread_kernel(
    fd: int,
    positions: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    out: npt.NDArray[np.uint8],
    num_threads: int,
) -> tuple[int, int]: ...
def agreement_kernel(
    signatures: npt.NDArray[np.uint32], left: npt.NDArray[np.int64], right: npt.NDArray[np.int64], num_threads: int
) -> npt.NDArray[np.float64]: ...
def band_keys_kernel(
    signatures: npt.NDArray[np.uint32], num_bands: int, rows_per_band: int
) -> npt.NDArray[np.uint64]: ...
def mt19937_uint32(seed: int, count: int) -> npt.NDArray[np.uint32]: ...
