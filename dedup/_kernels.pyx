# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# distutils: language = c++
"""Compiled kernels behind normalize, shingle, minhash, similarity and cluster.

Each kernel runs over a whole batch of documents, one document (or pair) per
OpenMP iteration, with the GIL released. Every iteration writes only its own
output slots, so results are identical for any number of threads.

The public, documented entry points are the Python modules that call these;
this module is private and its functions take arrays already validated there
(bounds checks are off): :func:`as_array`, :func:`as_offsets`,
:func:`check_offsets`, :func:`check_indices` and :func:`check_pairs` are
those preconditions, for the wrappers to call.
"""

from cython.parallel cimport prange
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy

import numpy as np


cdef extern from "<algorithm>" namespace "std" nogil:
    void std_sort "std::sort"(uint64_t* first, uint64_t* last) noexcept


# --------------------------------------------------------------------------
# Preconditions. The kernels index raw memory with what these arrays hold, so
# a bad offset or index would read or write outside an array: the public
# wrappers check them first (vectorized, O(n)) and raise ValueError.

def as_array(x, dtype, str name, int ndim):
    """Return ``x`` as a C-contiguous ``ndim``-D array of the integer ``dtype``.

    A cast must not change a value: ``x`` must hold integers (not floats, not
    booleans), and when its dtype does not cast safely to ``dtype`` every
    value must fit in ``dtype``. No copy when ``x`` already has the dtype and
    is contiguous (the scan's own arrays).

    Raises:
        ValueError: naming ``name``: ``x`` is not an array, has another
            number of dimensions, holds non-integers or a value that does not
            fit in ``dtype``.
    """
    arr = _array(x, name)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return _integers(arr, np.dtype(dtype), name)


def as_offsets(x, Py_ssize_t total, str name, str of):
    """Return ``x`` as a C-contiguous int64 array, checked by :func:`check_offsets`.

    Raises:
        ValueError: as :func:`as_array` and :func:`check_offsets`.
    """
    offsets = _integers(_array(x, name), np.dtype(np.int64), name)
    check_offsets(offsets, total, name, of)
    return offsets


def check_int(value, str name, low=None):
    """Check that ``value`` is an integer (not a bool), at least ``low``.

    Raises:
        ValueError: naming ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")


def _array(x, str name):
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as e:  # a ragged list, say
        raise ValueError(f"{name} must be an array: {e}") from None


def _integers(arr, dtype, str name):
    if arr.dtype != dtype:
        # An empty array (np.asarray([]) is float64) has no value to lose.
        if arr.size and (arr.dtype.kind not in "iu"):
            raise ValueError(f"{name} must hold integers, got {arr.dtype}")
        if arr.size and not np.can_cast(arr.dtype, dtype, "safe"):
            info = np.iinfo(dtype)
            for v in (arr.min(), arr.max()):
                if not info.min <= v <= info.max:
                    raise ValueError(f"{name} holds {v}, outside the {dtype} range [{info.min}, {info.max}]")
    return np.ascontiguousarray(arr, dtype=dtype)


def check_offsets(offsets, Py_ssize_t total, str name, str of):
    """Check that ``offsets`` (int64, 1-D) cut ``total`` items into runs.

    ``offsets`` must be non-empty, start at 0 or more, never decrease and end
    at ``total`` or less; ``of`` names what is cut (``"values"``).

    Raises:
        ValueError: naming ``name`` and the first offending entry.
    """
    if offsets.ndim != 1 or offsets.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {offsets.shape}")
    if offsets[0] < 0:
        raise ValueError(f"{name}[0] is {offsets[0]}, must not be negative")
    down = np.flatnonzero(np.diff(offsets) < 0)
    if len(down):
        i = int(down[0])
        raise ValueError(f"{name} decreases: {name}[{i}] is {offsets[i]}, {name}[{i + 1}] is {offsets[i + 1]}")
    last = offsets[offsets.shape[0] - 1]
    if last > total:
        raise ValueError(f"{name} ends at {last}, past the {total} {of}")


def check_pairs(left, right, Py_ssize_t n_docs):
    """Check that ``left`` and ``right`` (int64, 1-D) have one length and
    hold document indices in ``[0, n_docs)``.

    Raises:
        ValueError: naming the argument at fault.
    """
    if left.shape != right.shape:
        raise ValueError(f"left and right must have the same shape, got {left.shape} and {right.shape}")
    check_indices(left, n_docs, "left")
    check_indices(right, n_docs, "right")


def check_indices(index, Py_ssize_t n, str name):
    """Check that every entry of ``index`` (int64, 1-D) is in ``[0, n)``.

    Raises:
        ValueError: naming ``name`` and a value outside the range.
    """
    if index.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {index.shape}")
    if index.shape[0] == 0:
        return
    low = index.min()
    if low < 0:
        raise ValueError(f"{name} holds {low}, outside [0, {n})")
    high = index.max()
    if high >= n:
        raise ValueError(f"{name} holds {high}, outside [0, {n})")


# --------------------------------------------------------------------------
# Scratch memory. Every per-document allocation goes through _alloc, and
# every caller checks for NULL and records a per-document status (a shared
# flag written inside prange would be lastprivate: only the last iteration's
# value would survive). _fail_doc/_fail_site make one allocation fail, so
# tests can reach the failure paths.

cdef enum:
    _SITE_TEXT = 0
    _SITE_BOUNDS = 1
    _SITE_HASHES = 2

SITE_TEXT = _SITE_TEXT
SITE_BOUNDS = _SITE_BOUNDS
SITE_HASHES = _SITE_HASHES

cdef int64_t _fail_doc = -1
cdef int _fail_site = -1


def fail_allocation_for_tests(int64_t doc, int site):
    """Make allocation ``site`` (a ``SITE_*``) fail for document ``doc`` of
    every later batch; ``doc = -1`` restores normal allocation."""
    global _fail_doc, _fail_site
    _fail_doc = doc
    _fail_site = site


cdef inline void* _alloc(size_t size, Py_ssize_t d, int site) noexcept nogil:
    if d == _fail_doc and site == _fail_site:
        return NULL
    # malloc(0) may return NULL legitimately: never ask for 0 bytes.
    return malloc(size if size > 0 else 1)


cdef object _raise_if_failed(status_arr):
    """Raise MemoryError when any document's status (uint8) is set."""
    failed = np.flatnonzero(status_arr)
    if len(failed):
        raise MemoryError(f"out of memory shingling {len(failed)} document(s), the first at position {failed[0]}")


# --------------------------------------------------------------------------
# XXH64, seed 0. All arithmetic is uint64 and wraps modulo 2**64, as the
# algorithm specifies. Reads use memcpy of 8/4 bytes: correct on
# little-endian hosts only (x86_64, aarch64), which XXH64's canonical
# output assumes; tests compare against the xxhash library.

cdef uint64_t P1 = 0x9E3779B185EBCA87ULL
cdef uint64_t P2 = 0xC2B2AE3D27D4EB4FULL
cdef uint64_t P3 = 0x165667B19E3779F9ULL
cdef uint64_t P4 = 0x85EBCA77C2B2AE63ULL
cdef uint64_t P5 = 0x27D4EB2F165667C5ULL


cdef inline uint64_t _rotl(uint64_t x, int r) noexcept nogil:
    return (x << r) | (x >> (64 - r))


cdef inline uint64_t _read64(const uint8_t* p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef inline uint64_t _read32(const uint8_t* p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v


cdef inline uint64_t _round(uint64_t acc, uint64_t lane) noexcept nogil:
    acc = acc + lane * P2
    acc = _rotl(acc, 31)
    return acc * P1


cdef inline uint64_t _merge(uint64_t acc, uint64_t val) noexcept nogil:
    acc = acc ^ _round(0, val)
    return acc * P1 + P4


cdef inline uint64_t xxh64(const uint8_t* p, int64_t length) noexcept nogil:
    cdef const uint8_t* end = p + length
    cdef uint64_t v1, v2, v3, v4, h
    if length >= 32:
        v1 = P1 + P2
        v2 = P2
        v3 = 0
        v4 = 0 - P1
        while p + 32 <= end:
            v1 = _round(v1, _read64(p))
            v2 = _round(v2, _read64(p + 8))
            v3 = _round(v3, _read64(p + 16))
            v4 = _round(v4, _read64(p + 24))
            p += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        h = _merge(h, v1)
        h = _merge(h, v2)
        h = _merge(h, v3)
        h = _merge(h, v4)
    else:
        h = P5
    h = h + <uint64_t>length
    while p + 8 <= end:
        h = h ^ _round(0, _read64(p))
        h = _rotl(h, 27) * P1 + P4
        p += 8
    if p + 4 <= end:
        h = h ^ (_read32(p) * P1)
        h = _rotl(h, 23) * P2 + P3
        p += 4
    while p < end:
        h = h ^ (<uint64_t>p[0] * P5)
        h = _rotl(h, 11) * P1
        p += 1
    h = h ^ (h >> 33)
    h = h * P2
    h = h ^ (h >> 29)
    h = h * P3
    h = h ^ (h >> 32)
    return h


def xxh64_buffer(const uint8_t[::1] buf, int64_t start, int64_t end):
    """XXH64 of ``buf[start:end]`` (bounds checked by the caller)."""
    if end <= start:
        return xxh64(<const uint8_t*>0, 0)
    return xxh64(&buf[start], end - start)


# --------------------------------------------------------------------------
# Normalization: UTF-16 code units in, UTF-8 bytes out.

cdef uint32_t SPACE = 0x20


cdef inline int64_t _utf8(uint32_t cp, uint8_t* out, int64_t pos) noexcept nogil:
    if cp < 0x80:
        out[pos] = <uint8_t>cp
        return pos + 1
    if cp < 0x800:
        out[pos] = <uint8_t>(0xC0 | (cp >> 6))
        out[pos + 1] = <uint8_t>(0x80 | (cp & 0x3F))
        return pos + 2
    if cp < 0x10000:
        out[pos] = <uint8_t>(0xE0 | (cp >> 12))
        out[pos + 1] = <uint8_t>(0x80 | ((cp >> 6) & 0x3F))
        out[pos + 2] = <uint8_t>(0x80 | (cp & 0x3F))
        return pos + 3
    out[pos] = <uint8_t>(0xF0 | (cp >> 18))
    out[pos + 1] = <uint8_t>(0x80 | ((cp >> 12) & 0x3F))
    out[pos + 2] = <uint8_t>(0x80 | ((cp >> 6) & 0x3F))
    out[pos + 3] = <uint8_t>(0x80 | (cp & 0x3F))
    return pos + 4


cdef inline int64_t _end_word(
    uint32_t c1, uint32_t c2, uint32_t c3, int64_t wordlen, int64_t pos2, int64_t pos,
    const uint32_t* tones, int64_t n_tones, uint8_t* out,
) noexcept nogil:
    """At a syllable end: rewrite o/u + toned vowel (not after q) to the
    toned o/u + plain vowel; return the new output position."""
    cdef int64_t k
    if wordlen >= 2 and (c2 == 0x6F or c2 == 0x75) and (wordlen == 2 or c3 != 0x71):
        for k in range(n_tones):
            if tones[4 * k] == c2 and tones[4 * k + 1] == c1:
                # The two characters' UTF-8 lengths may change (ỳ is 3 bytes,
                # ù is 2): re-encode both from where the first one started.
                pos = _utf8(tones[4 * k + 2], out, pos2)
                return _utf8(tones[4 * k + 3], out, pos)
    return pos


cdef int64_t _normalize_one(
    const uint16_t* units,
    int64_t n_units,
    const uint32_t* case,
    const uint32_t* accent,
    bint fold_accents,
    const uint32_t* tones,
    int64_t n_tones,
    uint8_t* out,
) noexcept nogil:
    """Normalize one document into out (room for 3 bytes per unit) in one
    pass; return the number of bytes written."""
    cdef int64_t i = 0, pos = 0, pos1 = 0, pos2 = 0, wordlen = 0
    cdef uint32_t c, c1 = 0, c2 = 0, c3 = 0
    cdef bint pending = False
    while i < n_units:
        c = units[i]
        i += 1
        if 0xD800 <= c < 0xE000:
            # A surrogate pair is one code point; a lone surrogate (possible
            # only from surrogatepass input) is not a character.
            if c < 0xDC00 and i < n_units and 0xDC00 <= units[i] < 0xE000:
                c = 0x10000 + ((c - 0xD800) << 10) + (units[i] - 0xDC00)
                i += 1
            else:
                c = SPACE
        c = case[c]
        if fold_accents and c != SPACE:
            c = accent[c]
            if c == 0:
                continue
        if c == SPACE:
            if wordlen > 0:
                if not fold_accents:
                    pos = _end_word(c1, c2, c3, wordlen, pos2, pos, tones, n_tones, out)
                pending = True
                wordlen = 0
            continue
        if pending:
            out[pos] = SPACE
            pos += 1
            pending = False
        pos2 = pos1
        pos1 = pos
        pos = _utf8(c, out, pos)
        c3 = c2
        c2 = c1
        c1 = c
        wordlen += 1
    if wordlen > 0 and not fold_accents:
        pos = _end_word(c1, c2, c3, wordlen, pos2, pos, tones, n_tones, out)
    return pos


def normalize_kernel(
    const uint16_t[::1] units,
    const int64_t[::1] starts,
    const uint32_t[::1] case,
    const uint32_t[::1] accent,
    bint fold_accents,
    const uint32_t[:, ::1] tones,
    int num_threads,
):
    """Normalize a batch; return ``(utf8 bytes, offsets)`` as numpy arrays."""
    cdef Py_ssize_t n_docs = starts.shape[0] - 1
    cdef Py_ssize_t d
    cdef int64_t lo, hi, total = starts[n_docs]
    # UTF-8 takes at most 3 bytes per UTF-16 unit (4 per surrogate pair), so
    # document d writes into its own region [3 * starts[d], 3 * starts[d + 1]).
    wide_arr = np.empty(max(3 * total, 1), dtype=np.uint8)
    lengths_arr = np.empty(n_docs, dtype=np.int64)
    cdef uint8_t[::1] wide = wide_arr
    cdef int64_t[::1] lengths = lengths_arr
    cdef const uint16_t* unit_ptr = &units[0] if units.shape[0] > 0 else NULL
    cdef int64_t n_tones = tones.shape[0]
    for d in prange(n_docs, nogil=True, schedule="dynamic", chunksize=16, num_threads=num_threads):
        lo = starts[d]
        hi = starts[d + 1]
        if hi == lo:
            lengths[d] = 0
            continue
        lengths[d] = _normalize_one(
            unit_ptr + lo, hi - lo, &case[0], &accent[0], fold_accents, &tones[0, 0], n_tones, &wide[3 * lo]
        )
    offsets_arr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths_arr, out=offsets_arr[1:])
    packed_arr = np.empty(offsets_arr[n_docs], dtype=np.uint8)
    cdef int64_t[::1] offsets = offsets_arr
    cdef uint8_t[::1] packed = packed_arr
    for d in prange(n_docs, nogil=True, schedule="static", num_threads=num_threads):
        if lengths[d] > 0:
            memcpy(&packed[offsets[d]], &wide[3 * starts[d]], lengths[d])
    return packed_arr, offsets_arr


# --------------------------------------------------------------------------
# Shingles: word (kind 0) or code-point (kind 1) n-grams, hashed in place.
#
# A word scan shingles a document by code points instead when more than half
# its letters are in a script written without spaces between words (one
# "word" per sentence would leave it no shingle in common with its copies).
# Those shingle hashes are XORed with CHAR_FALLBACK_TAG, so they never equal
# the word-shingle hashes of other documents: documents of different kinds
# never match. An explicit char scan (kind 1) is never tagged.

cdef uint64_t CHAR_FALLBACK_TAG = 0xC3A5C85C97CB3127ULL
FALLBACK_TAG = CHAR_FALLBACK_TAG


cdef inline bint _unspaced_script(uint32_t cp) noexcept nogil:
    """Thai, Lao, Myanmar, Khmer, Han (and 々〆〇) or Japanese kana."""
    if cp < 0x0E00:
        return False
    if cp < 0x3000:
        return (
            cp < 0x0F00  # Thai, Lao
            or 0x1000 <= cp < 0x10A0  # Myanmar
            or 0x1780 <= cp < 0x1800  # Khmer
            or 0x19E0 <= cp < 0x1A00  # Khmer symbols
        )
    return (
        0x3005 <= cp <= 0x3007  # iteration mark, closing mark, ideographic zero
        or 0x3040 <= cp < 0x3100  # Hiragana, Katakana
        or 0x31F0 <= cp < 0x3200  # Katakana phonetic extensions
        or 0x3400 <= cp < 0x4DC0  # Han extension A
        or 0x4E00 <= cp < 0xA000  # Han
        or 0xA9E0 <= cp < 0xAA00  # Myanmar extended B
        or 0xAA60 <= cp < 0xAA80  # Myanmar extended A
        or 0xF900 <= cp < 0xFB00  # Han compatibility ideographs
        or 0xFF66 <= cp < 0xFFA0  # halfwidth Katakana
        or 0x20000 <= cp < 0x323B0  # Han extensions B to H, compatibility supplement
    )


cdef bint _mostly_unspaced(const uint8_t* doc, int64_t m) noexcept nogil:
    """More than half the letters (non-space code points) of a normalized
    UTF-8 document are in scripts written without spaces.

    Never reads past ``doc[m - 1]``, whatever the bytes (shingle_batch takes
    any buffer); every such script is 3 or 4 bytes long in UTF-8.
    """
    cdef int64_t i, letters = 0, wide = 0, unspaced = 0
    cdef uint8_t c
    cdef uint32_t cp
    # Branch-free counts first (vectorized): letters, and letters of 3 or 4
    # bytes. Most documents (Vietnamese ones too) have too few wide letters
    # to be mostly unspaced, and skip the decoding pass.
    for i in range(m):
        c = doc[i]
        letters += ((c & 0xC0) != 0x80) - (c == 0x20)
        wide += c >= 0xE0
    if 2 * wide <= letters:
        return False
    for i in range(m):
        c = doc[i]
        if c < 0xE0:
            continue
        if c >= 0xF0:
            if i + 3 < m:
                cp = ((c & 0x07) << 18) | ((doc[i + 1] & 0x3F) << 12) | ((doc[i + 2] & 0x3F) << 6) | (doc[i + 3] & 0x3F)
                unspaced += _unspaced_script(cp)
        elif i + 2 < m:
            cp = ((c & 0x0F) << 12) | ((doc[i + 1] & 0x3F) << 6) | (doc[i + 2] & 0x3F)
            unspaced += _unspaced_script(cp)
    return 2 * unspaced > letters


cdef inline int _doc_kind(const uint8_t* doc, int64_t m, int kind) noexcept nogil:
    """The kind a document is shingled by: kind, or 1 for the char fallback."""
    if kind == 0 and _mostly_unspaced(doc, m):
        return 1
    return kind


cdef int64_t _count_units(const uint8_t* doc, int64_t m, int kind) noexcept nogil:
    """Words (kind 0) or code points (kind 1) of a normalized document.

    Branch-free sums, so the compiler vectorizes them: normalized text has
    exactly one space between words and none at the ends, so words are
    spaces + 1; code points are the bytes that are not UTF-8 continuations.
    """
    cdef int64_t i, count = 0
    if m == 0:
        return 0
    if kind == 0:
        for i in range(m):
            count += doc[i] == 0x20
        return count + 1
    for i in range(m):
        count += (doc[i] & 0xC0) != 0x80
    return count


cdef inline int64_t _shingle_count(int64_t units, int n) noexcept nogil:
    """Shingles (before dedupe) of a document of ``units`` words/code points."""
    return 0 if units == 0 else (1 if units < n else units - n + 1)


cdef int64_t _shingle_one(
    const uint8_t* doc, int64_t m, int kind, int n, int64_t units, uint64_t tag, uint64_t* out, Py_ssize_t d
) noexcept nogil:
    """Hash the shingles of document d into out (room for
    ``_shingle_count(units, n)``), XOR each with tag, sort, dedupe in place;
    return the number of distinct hashes, or -1 when out of memory."""
    cdef int64_t i, k, s, count
    cdef int64_t* bounds
    if units == 0:
        return 0
    if units < n:
        out[0] = xxh64(doc, m) ^ tag
        return 1
    # bounds[k] = first byte of unit k; bounds[units] = m + 1 for words
    # (one past the implied trailing space) and m for code points. The
    # stores are unconditional (branch-free); a slot is overwritten until
    # its unit starts, hence the spare slot.
    bounds = <int64_t*>_alloc((units + 2) * sizeof(int64_t), d, _SITE_BOUNDS)
    if bounds == NULL:
        return -1
    bounds[0] = 0
    if kind == 0:
        k = 1
        for i in range(m):
            bounds[k] = i + 1
            k += doc[i] == 0x20
    else:
        k = 0
        for i in range(m):
            bounds[k] = i
            k += (doc[i] & 0xC0) != 0x80
    bounds[units] = m + 1 if kind == 0 else m
    count = units - n + 1
    for s in range(count):
        # A word n-gram ends just before the space that precedes word s + n.
        out[s] = xxh64(doc + bounds[s], bounds[s + n] - bounds[s] - (1 if kind == 0 else 0)) ^ tag
    free(bounds)
    std_sort(out, out + count)
    k = 1
    for s in range(1, count):
        if out[s] != out[k - 1]:
            out[k] = out[s]
            k += 1
    return k


def shingle_kernel(const uint8_t[::1] buf, const int64_t[::1] offsets, int kind, int n, int num_threads):
    """Distinct sorted shingle hashes per document: ``(values, starts,
    by_chars)``, by_chars (uint8) flagging the documents of a word scan
    shingled by code points (the fallback)."""
    cdef Py_ssize_t n_docs = offsets.shape[0] - 1
    cdef Py_ssize_t d
    cdef int64_t units, found
    cdef int doc_kind
    counts_arr = np.empty(n_docs, dtype=np.int64)
    units_arr = np.empty(n_docs, dtype=np.int64)
    by_chars_arr = np.zeros(n_docs, dtype=np.uint8)
    status_arr = np.zeros(n_docs, dtype=np.uint8)
    cdef int64_t[::1] counts = counts_arr
    cdef int64_t[::1] units_of = units_arr
    cdef uint8_t[::1] by_chars = by_chars_arr
    cdef uint8_t[::1] status = status_arr
    cdef const uint8_t* base = &buf[0] if buf.shape[0] > 0 else NULL
    for d in prange(n_docs, nogil=True, schedule="dynamic", chunksize=16, num_threads=num_threads):
        doc_kind = _doc_kind(base + offsets[d], offsets[d + 1] - offsets[d], kind)
        by_chars[d] = doc_kind != kind
        units = _count_units(base + offsets[d], offsets[d + 1] - offsets[d], doc_kind)
        units_of[d] = units
        counts[d] = _shingle_count(units, n)
    bounds_arr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(counts_arr, out=bounds_arr[1:])
    raw_arr = np.empty(max(bounds_arr[n_docs], 1), dtype=np.uint64)
    unique_arr = np.empty(n_docs, dtype=np.int64)
    cdef int64_t[::1] bounds = bounds_arr
    cdef uint64_t[::1] raw = raw_arr
    cdef int64_t[::1] unique = unique_arr
    for d in prange(n_docs, nogil=True, schedule="dynamic", chunksize=16, num_threads=num_threads):
        unique[d] = 0
        if counts[d] > 0:
            found = _shingle_one(
                base + offsets[d],
                offsets[d + 1] - offsets[d],
                1 if by_chars[d] else kind,
                n,
                units_of[d],
                CHAR_FALLBACK_TAG if by_chars[d] else 0,
                &raw[bounds[d]],
                d,
            )
            if found < 0:
                status[d] = 1
            else:
                unique[d] = found
    _raise_if_failed(status_arr)
    starts_arr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(unique_arr, out=starts_arr[1:])
    values_arr = np.empty(starts_arr[n_docs], dtype=np.uint64)
    cdef int64_t[::1] starts = starts_arr
    cdef uint64_t[::1] values = values_arr
    for d in prange(n_docs, nogil=True, schedule="static", num_threads=num_threads):
        if unique[d] > 0:
            memcpy(&values[starts[d]], &raw[bounds[d]], unique[d] * sizeof(uint64_t))
    return values_arr, starts_arr, by_chars_arr


# --------------------------------------------------------------------------
# MinHash, datasketch affine32: fmix32 pre-mix, then a * h + b mod 2**32.

cdef inline uint32_t _fmix32(uint32_t h) noexcept nogil:
    # uint32 multiplication wraps modulo 2**32: the finalizer's definition.
    h ^= h >> 16
    h *= 0x85EBCA6BU
    h ^= h >> 13
    h *= 0xC2B2AE35U
    h ^= h >> 16
    return h


cdef inline void _minhash_row(
    const uint64_t* values, int64_t count, const uint32_t* a, const uint32_t* b, Py_ssize_t num_perm, uint32_t* row
) noexcept nogil:
    cdef int64_t i
    cdef Py_ssize_t k
    cdef uint32_t h, p
    for i in range(count):
        h = _fmix32(<uint32_t>(values[i] & 0xFFFFFFFFULL))
        # Branch-free uint32 work over contiguous arrays: vectorized.
        for k in range(num_perm):
            p = a[k] * h + b[k]
            row[k] = p if p < row[k] else row[k]


def signature_kernel(
    const uint64_t[::1] values,
    const int64_t[::1] starts,
    const uint32_t[::1] a,
    const uint32_t[::1] b,
    int num_threads,
):
    """MinHash signatures, uint32 of shape ``(n_docs, num_perm)``."""
    cdef Py_ssize_t n_docs = starts.shape[0] - 1
    cdef Py_ssize_t num_perm = a.shape[0]
    cdef Py_ssize_t d
    out_arr = np.full((n_docs, num_perm), 0xFFFFFFFF, dtype=np.uint32)
    cdef uint32_t[:, ::1] out = out_arr
    cdef const uint64_t* pv = &values[0] if values.shape[0] > 0 else NULL
    for d in prange(n_docs, nogil=True, schedule="dynamic", chunksize=16, num_threads=num_threads):
        if starts[d + 1] > starts[d]:
            _minhash_row(pv + starts[d], starts[d + 1] - starts[d], &a[0], &b[0], num_perm, &out[d, 0])
    return out_arr


# --------------------------------------------------------------------------
# The fused pass: normalize, shingle, hash, dedupe and MinHash each document
# in one go, with only per-document scratch memory. Same results as
# normalize_kernel -> shingle_kernel -> signature_kernel (tested).

def sketch_kernel(
    const uint16_t[::1] units,
    const int64_t[::1] starts,
    const uint32_t[::1] case,
    const uint32_t[::1] accent,
    bint fold_accents,
    const uint32_t[:, ::1] tones,
    int kind,
    int n,
    const uint32_t[::1] a,
    const uint32_t[::1] b,
    int num_threads,
):
    """``(values, value_starts, signatures, by_chars)`` for a batch of UTF-16
    texts; by_chars (uint8) flags the documents of a word scan shingled by
    code points (the fallback)."""
    cdef Py_ssize_t n_docs = starts.shape[0] - 1
    cdef Py_ssize_t num_perm = a.shape[0]
    cdef Py_ssize_t d
    cdef int64_t lo, hi, m, n_units, count
    cdef int doc_kind
    cdef uint8_t* text
    cdef uint64_t* hashes
    cdef const uint16_t* unit_ptr = &units[0] if units.shape[0] > 0 else NULL
    cdef int64_t n_tones = tones.shape[0]
    signatures_arr = np.full((n_docs, num_perm), 0xFFFFFFFF, dtype=np.uint32)
    counts_arr = np.zeros(n_docs, dtype=np.int64)
    by_chars_arr = np.zeros(n_docs, dtype=np.uint8)
    status_arr = np.zeros(n_docs, dtype=np.uint8)
    cdef uint32_t[:, ::1] signatures = signatures_arr
    cdef int64_t[::1] counts = counts_arr
    cdef uint8_t[::1] by_chars = by_chars_arr
    cdef uint8_t[::1] status = status_arr
    # Each document's distinct hashes wait in their own buffer until the
    # prefix sum of the counts says where they go.
    cdef uint64_t** held = <uint64_t**>calloc(max(n_docs, 1), sizeof(uint64_t*))
    if held == NULL:
        raise MemoryError()
    try:
        for d in prange(n_docs, nogil=True, schedule="dynamic", chunksize=8, num_threads=num_threads):
            lo = starts[d]
            hi = starts[d + 1]
            if hi == lo:
                continue
            text = <uint8_t*>_alloc(3 * (hi - lo), d, _SITE_TEXT)
            if text == NULL:
                status[d] = 1
                continue
            m = _normalize_one(unit_ptr + lo, hi - lo, &case[0], &accent[0], fold_accents, &tones[0, 0], n_tones, text)
            doc_kind = _doc_kind(text, m, kind)
            by_chars[d] = doc_kind != kind
            n_units = _count_units(text, m, doc_kind)
            count = _shingle_count(n_units, n)
            if count > 0:
                hashes = <uint64_t*>_alloc(count * sizeof(uint64_t), d, _SITE_HASHES)
                # Held at once, so the finally clause frees it whatever follows.
                held[d] = hashes
                if hashes == NULL:
                    status[d] = 1
                else:
                    count = _shingle_one(
                        text, m, doc_kind, n, n_units, CHAR_FALLBACK_TAG if by_chars[d] else 0, hashes, d
                    )
                    if count < 0:
                        status[d] = 1
                    else:
                        _minhash_row(hashes, count, &a[0], &b[0], num_perm, &signatures[d, 0])
                        counts[d] = count
            free(text)
        _raise_if_failed(status_arr)
        value_starts_arr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(counts_arr, out=value_starts_arr[1:])
        values_arr = np.empty(value_starts_arr[n_docs], dtype=np.uint64)
        values_arr = _collect(held, counts, value_starts_arr, values_arr, num_threads)
        return values_arr, value_starts_arr, signatures_arr, by_chars_arr
    finally:
        for d in range(n_docs):
            free(held[d])
        free(held)


cdef object _collect(uint64_t** held, const int64_t[::1] counts, const int64_t[::1] value_starts, values_arr, int num_threads):
    cdef uint64_t[::1] values = values_arr
    cdef Py_ssize_t d, n_docs = counts.shape[0]
    for d in prange(n_docs, nogil=True, schedule="static", num_threads=num_threads):
        if counts[d] > 0:
            memcpy(&values[value_starts[d]], held[d], counts[d] * sizeof(uint64_t))
    return values_arr


# --------------------------------------------------------------------------
# Exact Jaccard of sorted distinct runs, per pair.

def jaccard_kernel(
    const uint64_t[::1] values,
    const int64_t[::1] starts,
    const int64_t[::1] left,
    const int64_t[::1] right,
    int num_threads,
):
    """``|A & B| / |A | B|`` per pair (1.0 for two empty sets)."""
    cdef Py_ssize_t n_pairs = left.shape[0]
    cdef Py_ssize_t p
    cdef int64_t i, i_end, j, j_end, common, size
    cdef uint64_t x, y
    out_arr = np.empty(n_pairs, dtype=np.float64)
    cdef double[::1] out = out_arr
    for p in prange(n_pairs, nogil=True, schedule="dynamic", chunksize=64, num_threads=num_threads):
        i = starts[left[p]]
        i_end = starts[left[p] + 1]
        j = starts[right[p]]
        j_end = starts[right[p] + 1]
        size = (i_end - i) + (j_end - j)
        common = 0
        while i < i_end and j < j_end:
            x = values[i]
            y = values[j]
            if x == y:
                common = common + 1
                i = i + 1
                j = j + 1
            elif x < y:
                i = i + 1
            else:
                j = j + 1
        size = size - common
        out[p] = (<double>common) / size if size > 0 else 1.0
    return out_arr


# --------------------------------------------------------------------------
# Union-find; the smaller index becomes the root, so every document is
# labelled with its component's first document whatever the pair order.

def union_find(int64_t n, const int64_t[::1] left, const int64_t[::1] right):
    """Component label (smallest member index) of every document."""
    parent_arr = np.arange(n, dtype=np.int64)
    cdef int64_t[::1] parent = parent_arr
    cdef Py_ssize_t p
    cdef int64_t a, b, i
    with nogil:
        for p in range(left.shape[0]):
            a = left[p]
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            b = right[p]
            while parent[b] != b:
                parent[b] = parent[parent[b]]
                b = parent[b]
            if a < b:
                parent[b] = a
            elif b < a:
                parent[a] = b
        # Roots are smaller than their children, so one ascending pass
        # resolves every chain.
        for i in range(n):
            parent[i] = parent[parent[i]]
    return parent_arr


# --------------------------------------------------------------------------
# Whole-text hashes (repeated blocks): XXH64 of each normalized text, and
# its number of words.

def hash_kernel(const uint8_t[::1] buf, const int64_t[::1] offsets, int num_threads):
    """``(hashes, words)``: uint64 XXH64 and int64 word count per text.

    In a text mostly in a script written without spaces (Thai, Chinese...),
    each character counts as a word: a whole sentence is one "word" there.
    """
    cdef Py_ssize_t n = offsets.shape[0] - 1
    cdef Py_ssize_t d
    cdef int64_t m
    hashes_arr = np.empty(n, dtype=np.uint64)
    words_arr = np.empty(n, dtype=np.int64)
    cdef uint64_t[::1] hashes = hashes_arr
    cdef int64_t[::1] words = words_arr
    cdef const uint8_t* base = &buf[0] if buf.shape[0] > 0 else NULL
    for d in prange(n, nogil=True, schedule="static", num_threads=num_threads):
        m = offsets[d + 1] - offsets[d]
        hashes[d] = xxh64(base + offsets[d], m) if m > 0 else xxh64(base, 0)
        if m == 0:
            words[d] = 0
        elif _mostly_unspaced(base + offsets[d], m):
            words[d] = _count_units(base + offsets[d], m, 1)
        else:
            words[d] = _count_units(base + offsets[d], m, 0)
    return hashes_arr, words_arr


# --------------------------------------------------------------------------
# Thread start-up. libgomp ends the whole process (exit, no Python unwinding)
# when it cannot create a team's threads, so a scan starts its teams before
# it makes anything to clean up; later regions reuse the idle threads.

def start_threads(int num_threads):
    """Start the calling thread's OpenMP team of ``num_threads`` threads."""
    cdef int i
    cdef int64_t total = 0
    for i in prange(num_threads, nogil=True, schedule="static", chunksize=1, num_threads=num_threads):
        total += i
    return total
