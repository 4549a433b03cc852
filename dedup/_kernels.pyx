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

from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

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
    _SITE_NFC = 3

SITE_TEXT = _SITE_TEXT
SITE_BOUNDS = _SITE_BOUNDS
SITE_HASHES = _SITE_HASHES
SITE_NFC = _SITE_NFC

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


cdef inline uint64_t _avalanche(uint64_t h) noexcept nogil:
    h = h ^ (h >> 33)
    h = h * P2
    h = h ^ (h >> 29)
    h = h * P3
    return h ^ (h >> 32)


cdef inline uint64_t _stripes(const uint8_t** pp, const uint8_t* end, int64_t length) noexcept nogil:
    """XXH64's state after the input's 32-byte stripes, plus its length;
    ``pp[0]`` is moved past them (to the tail)."""
    cdef const uint8_t* p = pp[0]
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
    pp[0] = p
    return h + <uint64_t>length


cdef inline uint64_t xxh64(const uint8_t* p, int64_t length) noexcept nogil:
    cdef const uint8_t* end = p + length
    cdef uint64_t h
    h = _stripes(&p, end, length)
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
    return _avalanche(h)


cdef inline uint64_t _pick(bint take, uint64_t a, uint64_t b) noexcept nogil:
    """a if take else b, as arithmetic (a select the compiler keeps
    branch-free: a branch here would mispredict on most shingles)."""
    cdef uint64_t mask = 0 - <uint64_t>take
    return (a & mask) | (b & ~mask)


cdef inline uint64_t xxh64_padded(const uint8_t* p, int64_t length) noexcept nogil:
    """XXH64 of ``p[:length]`` (the same value as :func:`xxh64`), reading up
    to 32 bytes past its end: the caller guarantees they are readable.

    The input's tail (below 32 bytes: a whole word shingle, mostly) takes
    every step it might need, each kept or dropped by a select, so its
    branches do not depend on the length; the bytes past the end only feed
    dropped steps.
    """
    cdef const uint8_t* end = p + length
    cdef uint64_t h, x
    cdef int64_t r, n8, n1, j
    h = _stripes(&p, end, length)
    r = end - p
    n8 = r >> 3
    for j in range(3):
        x = _rotl(h ^ _round(0, _read64(p + 8 * j)), 27) * P1 + P4
        h = _pick(j < n8, x, h)
    p += 8 * n8
    x = _rotl(h ^ (_read32(p) * P1), 23) * P2 + P3
    h = _pick((r & 4) != 0, x, h)
    p += r & 4
    n1 = r & 3
    for j in range(3):
        x = _rotl(h ^ (<uint64_t>p[j] * P5), 11) * P1
        h = _pick(j < n1, x, h)
    return _avalanche(h)


# Eight shingles at a time where the build has AVX-512 (F and DQ: 64-bit
# multiplies and rotates in every lane). Each lane takes every step its
# length might need, kept or dropped by its mask; the bytes are gathered from
# the padded text, so a dropped step may read (never use) up to 32 bytes past
# a shingle's end. Same values as xxh64 (the tests compare both ways).

cdef extern from *:
    """
    #if defined(__AVX512F__) && defined(__AVX512DQ__)
    #include <immintrin.h>
    #define DEDUP_HASH_SIMD 1
    #else
    #define DEDUP_HASH_SIMD 0
    #endif
    static int dedup_hash_simd_on = DEDUP_HASH_SIMD;

    #if DEDUP_HASH_SIMD
    #define DX_SET(c) _mm512_set1_epi64((long long)(c))
    #define DX_P1 DX_SET(0x9E3779B185EBCA87ULL)
    #define DX_P2 DX_SET(0xC2B2AE3D27D4EB4FULL)
    #define DX_P3 DX_SET(0x165667B19E3779F9ULL)
    #define DX_P4 DX_SET(0x85EBCA77C2B2AE63ULL)
    #define DX_P5 DX_SET(0x27D4EB2F165667C5ULL)
    #define DX_GATHER(m, pos, base) _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), (m), (pos), (const void*)(base), 1)

    static inline __m512i dx_round(__m512i acc, __m512i lane) {
        acc = _mm512_add_epi64(acc, _mm512_mullo_epi64(lane, DX_P2));
        return _mm512_mullo_epi64(_mm512_rol_epi64(acc, 31), DX_P1);
    }

    static inline __m512i dx_merge(__m512i acc, __m512i val) {
        acc = _mm512_xor_si512(acc, dx_round(_mm512_setzero_si512(), val));
        return _mm512_add_epi64(_mm512_mullo_epi64(acc, DX_P1), DX_P4);
    }

    /* The state after the 32-byte stripes of the lanes that have one
       (P5 in the others), plus each length; pos moves past the stripes. */
    static inline __m512i dx_stripes(const uint8_t* doc, __m512i* pos, __m512i end, __m512i len) {
        const __m512i thirty_two = DX_SET(32);
        __mmask8 full = _mm512_cmp_epi64_mask(_mm512_add_epi64(*pos, thirty_two), end, _MM_CMPINT_LE);
        const __mmask8 long_lanes = full;
        __m512i v1, v2, v3, v4, h;
        if (!full)
            return _mm512_add_epi64(DX_P5, len);
        v1 = _mm512_add_epi64(DX_P1, DX_P2);
        v2 = DX_P2;
        v3 = _mm512_setzero_si512();
        v4 = _mm512_sub_epi64(_mm512_setzero_si512(), DX_P1);
        do {
            v1 = _mm512_mask_mov_epi64(v1, full, dx_round(v1, DX_GATHER(full, *pos, doc)));
            v2 = _mm512_mask_mov_epi64(v2, full, dx_round(v2, DX_GATHER(full, *pos, doc + 8)));
            v3 = _mm512_mask_mov_epi64(v3, full, dx_round(v3, DX_GATHER(full, *pos, doc + 16)));
            v4 = _mm512_mask_mov_epi64(v4, full, dx_round(v4, DX_GATHER(full, *pos, doc + 24)));
            *pos = _mm512_mask_add_epi64(*pos, full, *pos, thirty_two);
            full = _mm512_cmp_epi64_mask(_mm512_add_epi64(*pos, thirty_two), end, _MM_CMPINT_LE);
        } while (full);
        h = _mm512_add_epi64(_mm512_add_epi64(_mm512_rol_epi64(v1, 1), _mm512_rol_epi64(v2, 7)),
                             _mm512_add_epi64(_mm512_rol_epi64(v3, 12), _mm512_rol_epi64(v4, 18)));
        h = dx_merge(dx_merge(dx_merge(dx_merge(h, v1), v2), v3), v4);
        return _mm512_add_epi64(_mm512_mask_mov_epi64(DX_P5, long_lanes, h), len);
    }

    /* out[i] = XXH64(doc[lo[i] : lo[i] + len[i]]) ^ tag for 8 lanes. */
    static inline void dx_hash8(const uint8_t* doc, __m512i lo, __m512i len, uint64_t tag, uint64_t* out) {
        const __m512i end = _mm512_add_epi64(lo, len);
        __m512i pos = lo, h, r, n8, n1, k, x;
        __mmask8 m;
        int j;
        h = dx_stripes(doc, &pos, end, len);
        r = _mm512_sub_epi64(end, pos);  /* 0 .. 31 bytes left */
        n8 = _mm512_srli_epi64(r, 3);
        for (j = 0; j < 3; j++) {
            m = _mm512_cmp_epi64_mask(n8, DX_SET(j), _MM_CMPINT_GT);
            k = dx_round(_mm512_setzero_si512(), DX_GATHER(m, pos, doc + 8 * j));
            x = _mm512_rol_epi64(_mm512_xor_si512(h, k), 27);
            h = _mm512_mask_mov_epi64(h, m, _mm512_add_epi64(_mm512_mullo_epi64(x, DX_P1), DX_P4));
        }
        pos = _mm512_add_epi64(pos, _mm512_and_si512(r, DX_SET(24)));
        m = _mm512_test_epi64_mask(r, DX_SET(4));
        k = _mm512_and_si512(DX_GATHER(m, pos, doc), DX_SET(0xFFFFFFFFULL));
        x = _mm512_rol_epi64(_mm512_xor_si512(h, _mm512_mullo_epi64(k, DX_P1)), 23);
        h = _mm512_mask_mov_epi64(h, m, _mm512_add_epi64(_mm512_mullo_epi64(x, DX_P2), DX_P3));
        pos = _mm512_add_epi64(pos, _mm512_and_si512(r, DX_SET(4)));
        n1 = _mm512_and_si512(r, DX_SET(3));
        k = DX_GATHER(_mm512_test_epi64_mask(n1, n1), pos, doc);
        for (j = 0; j < 3; j++) {
            m = _mm512_cmp_epi64_mask(n1, DX_SET(j), _MM_CMPINT_GT);
            x = _mm512_mullo_epi64(_mm512_and_si512(_mm512_srli_epi64(k, 8 * j), DX_SET(0xFF)), DX_P5);
            x = _mm512_rol_epi64(_mm512_xor_si512(h, x), 11);
            h = _mm512_mask_mov_epi64(h, m, _mm512_mullo_epi64(x, DX_P1));
        }
        h = _mm512_mullo_epi64(_mm512_xor_si512(h, _mm512_srli_epi64(h, 33)), DX_P2);
        h = _mm512_mullo_epi64(_mm512_xor_si512(h, _mm512_srli_epi64(h, 29)), DX_P3);
        h = _mm512_xor_si512(h, _mm512_srli_epi64(h, 32));
        _mm512_storeu_si512((void*)out, _mm512_xor_si512(h, DX_SET(tag)));
    }
    #endif

    /* Hash shingles 0 .. count - 1 (shingle s is doc[bounds[s] :
       bounds[s + n] - trail]) eight at a time into out; return how many
       were done (a multiple of 8, 0 without SIMD): the caller does the rest. */
    static inline int64_t dedup_hash_shingles(const uint8_t* doc, const int64_t* bounds, int64_t count, int n,
                                              int64_t trail, uint64_t tag, uint64_t* out) {
        int64_t s = 0;
    #if DEDUP_HASH_SIMD
        if (dedup_hash_simd_on) {
            const __m512i cut = DX_SET(trail);
            for (; s + 8 <= count; s += 8) {
                __m512i lo = _mm512_loadu_si512((const void*)(bounds + s));
                __m512i hi = _mm512_loadu_si512((const void*)(bounds + s + n));
                dx_hash8(doc, lo, _mm512_sub_epi64(_mm512_sub_epi64(hi, lo), cut), tag, out + s);
            }
        }
    #endif
        return s;
    }
    """
    int _hash_simd_on "dedup_hash_simd_on"
    const int _HASH_SIMD "DEDUP_HASH_SIMD"
    int64_t _hash_shingles "dedup_hash_shingles"(
        const uint8_t* doc, const int64_t* bounds, int64_t count, int n, int64_t trail, uint64_t tag, uint64_t* out
    ) noexcept nogil

HASH_SIMD = bool(_HASH_SIMD)


def hash_simd_for_tests(bint on):
    """Hash shingles eight at a time (where the build has AVX-512) or one
    at a time: both must give the same values. Returns whether it was on."""
    global _hash_simd_on
    cdef bint was = _hash_simd_on
    _hash_simd_on = on and _HASH_SIMD
    return was


def xxh64_buffer(const uint8_t[::1] buf, int64_t start, int64_t end):
    """XXH64 of ``buf[start:end]`` (bounds checked by the caller)."""
    if end <= start:
        return xxh64(<const uint8_t*>0, 0)
    return xxh64(&buf[start], end - start)


# --------------------------------------------------------------------------
# Normalization: UTF-8 bytes in, UTF-8 bytes out.
#
# Input is UTF-8 as Python's "surrogatepass" writes it (a lone surrogate is a
# 3-byte sequence). A lone surrogate is not a character and becomes a space;
# a high surrogate followed by a low one is the code point they encode (what
# UTF-16 would make of them). Any other invalid byte also becomes a space,
# never a read past the document.
#
# NFC: with ``check_nfc``, a document holding a code point that is not
# NFC-stable (see dedup/_unicode.py: every code point below U+0300 is) goes
# through NFC first: _normalize_counted returns -1 for it, and the kernels
# given the NFC table (``Tables.nfc``) compose it here (_nfc) and normalize
# the result without the check; without the table, the caller runs
# Python's unicodedata NFC on it. A document of stable code points only is
# already NFC.

cdef uint32_t SPACE = 0x20
cdef uint32_t INVALID = 0x110000


cdef inline uint32_t _next_cp(const uint8_t* s, int64_t m, int64_t* pi) noexcept nogil:
    """Decode the code point at ``s[pi[0]]`` (not ASCII) and advance past it;
    INVALID (one byte consumed) for a byte that starts no valid sequence."""
    cdef int64_t i = pi[0]
    cdef uint32_t c = s[i], cp
    if 0xC2 <= c < 0xE0:
        if i + 1 < m and (s[i + 1] & 0xC0) == 0x80:
            pi[0] = i + 2
            return ((c & 0x1F) << 6) | (s[i + 1] & 0x3F)
    elif 0xE0 <= c < 0xF0:
        if i + 2 < m and (s[i + 1] & 0xC0) == 0x80 and (s[i + 2] & 0xC0) == 0x80:
            cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F)
            if cp >= 0x800:
                pi[0] = i + 3
                return cp
    elif 0xF0 <= c < 0xF5:
        if i + 3 < m and (s[i + 1] & 0xC0) == 0x80 and (s[i + 2] & 0xC0) == 0x80 and (s[i + 3] & 0xC0) == 0x80:
            cp = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F)
            if 0x10000 <= cp < 0x110000:
                pi[0] = i + 4
                return cp
    pi[0] = i + 1
    return INVALID


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



# Word steps: the normalization takes a whole word at a time where it can.
# The 64 bytes at a word's start are classified at once (AVX2 where the build
# has it; a plain loop, for the tests, otherwise) into bit masks: ASCII
# separators (ASCII bytes that are not letters or digits: the case table maps
# them to a space, checked per call in _tables), bytes >= 0x80, lead bytes
# and the leads of the sequences a word step does not take (C0, C1, E0, ED,
# F0-FF: overlong forms, surrogates, U+0800-U+0FFF and 4-byte sequences go
# character by character). Their normalized copy (A-Z lowered, separators
# made spaces) is stored at the word's output position in the same go. A
# word is then checked valid UTF-8 by its masks and its non-ASCII code points
# folded by one table lookup each, without a branch on their length; a word
# the step cannot take as is (longer than the chunk, a code point that
# folds to a space or to another UTF-8 length or is in a script written
# without spaces, any non-ASCII one with fold_accents) goes character by
# character. Separators then cost no branch each, and where one separator
# byte divides two words the stored copy is the output as it is: the words
# after it in the chunk are taken from the masks alone (_word_steps).

cdef extern from *:
    """
    #include <stdint.h>
    #if defined(__AVX2__)
    #include <immintrin.h>
    #define DEDUP_WORD_SIMD 1
    #else
    #define DEDUP_WORD_SIMD 0
    #endif
    #if defined(__AVX512F__) && defined(__AVX512BW__)
    #define DEDUP_WORD_SIMD512 1
    #else
    #define DEDUP_WORD_SIMD512 0
    #endif
    /* 0: the plain loop; 1: AVX2; 2: AVX-512BW. */
    static int dedup_word_simd_on = DEDUP_WORD_SIMD512 ? 2 : DEDUP_WORD_SIMD;

    /* Bit k of each mask is about p[k] of a chunk of 64 bytes. */
    typedef struct {
        uint64_t sep;    /* ASCII, not a letter or digit */
        uint64_t high;   /* >= 0x80 */
        uint64_t leads;  /* >= 0xC0 */
        uint64_t three;  /* E0-EF */
        uint64_t odd;    /* C0, C1, E0, ED, F0-FF */
        uint64_t ou;     /* o, u, O, U */
        uint64_t plain;  /* a plain letter's lead if it is one (dedup_plain512; 0 without it) */
    } dedup_masks;

    static inline void dedup_word_chunk_plain(const uint8_t* p, uint8_t* out, dedup_masks* mk) {
        mk->plain = 0;
        uint64_t sep = 0, high = 0, leads = 0, three = 0, odd = 0, ou = 0;
        int k;
        for (k = 0; k < 64; k++) {
            uint8_t c = p[k];
            uint8_t letter = (uint8_t)((c | 0x20) - 'a') < 26, digit = (uint8_t)(c - '0') < 10;
            uint8_t is_sep = c < 0x80 && !letter && !digit;
            out[k] = is_sep ? 0x20 : (uint8_t)(c + (((uint8_t)(c - 'A') < 26) << 5));
            sep |= (uint64_t)is_sep << k;
            high |= (uint64_t)(c >> 7) << k;
            leads |= (uint64_t)(c >= 0xC0) << k;
            three |= (uint64_t)((c & 0xF0) == 0xE0) << k;
            odd |= (uint64_t)(c == 0xC0 || c == 0xC1 || c == 0xE0 || c == 0xED || c >= 0xF0) << k;
            ou |= (uint64_t)((c | 0x20) == 'o' || (c | 0x20) == 'u') << k;
        }
        mk->sep = sep;
        mk->high = high;
        mk->leads = leads;
        mk->three = three;
        mk->odd = odd;
        mk->ou = ou;
    }

    #if DEDUP_WORD_SIMD
    static inline __m256i dedup_in_range(__m256i x, char lo, char width) {
        __m256i d = _mm256_sub_epi8(x, _mm256_set1_epi8(lo));
        return _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(width)), d);  /* lo <= x <= lo + width */
    }

    static inline void dedup_word_half(const uint8_t* p, uint8_t* out, uint32_t* m) {
        const __m256i x = _mm256_loadu_si256((const __m256i*)p);
        __m256i up = dedup_in_range(x, 'A', 25);
        __m256i low = dedup_in_range(_mm256_or_si256(x, _mm256_set1_epi8(0x20)), 'a', 25);
        __m256i dig = dedup_in_range(x, '0', 9);
        /* low and dig hold only for ASCII bytes: a byte >= 0x80 is in neither. */
        __m256i word = _mm256_or_si256(_mm256_or_si256(low, dig), _mm256_cmpgt_epi8(_mm256_setzero_si256(), x));
        __m256i lowered = _mm256_add_epi8(x, _mm256_and_si256(up, _mm256_set1_epi8(0x20)));
        __m256i odd = _mm256_or_si256(
            _mm256_or_si256(dedup_in_range(x, (char)0xC0, 1), dedup_in_range(x, (char)0xF0, 15)),
            _mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8((char)0xE0)),
                            _mm256_cmpeq_epi8(x, _mm256_set1_epi8((char)0xED))));
        _mm256_storeu_si256((__m256i*)out, _mm256_blendv_epi8(_mm256_set1_epi8(0x20), lowered, word));
        m[0] = ~(uint32_t)_mm256_movemask_epi8(word);
        m[1] = (uint32_t)_mm256_movemask_epi8(x);
        m[2] = (uint32_t)_mm256_movemask_epi8(dedup_in_range(x, (char)0xC0, 63));
        m[3] = (uint32_t)_mm256_movemask_epi8(dedup_in_range(x, (char)0xE0, 15));
        m[4] = (uint32_t)_mm256_movemask_epi8(odd);
        m[5] = (uint32_t)_mm256_movemask_epi8(
            _mm256_or_si256(_mm256_cmpeq_epi8(lowered, _mm256_set1_epi8('o')), _mm256_cmpeq_epi8(lowered, _mm256_set1_epi8('u'))));
    }
    #endif

    /* The positions k of the chunk x where a code point that folds to
       itself as a plain letter starts, by the bitmap ``plain`` (64 bytes,
       bit b of U+0080 + b below U+0200, bit 0x180 + b of U+1E80 + b below
       U+1F00: every Vietnamese letter), read from the bytes as if they were
       a valid sequence (the masks say which are). A lead C2-C7 and its next
       byte pick a bit of the first 48 bytes, E1 BA or E1 BB and the third
       byte one of the last 16; one byte permutation looks up all 64, a
       shuffle picks the bit: no branch per code point. */
    #if DEDUP_WORD_SIMD512 && defined(__AVX512VBMI__)
    #define DEDUP_FOLD_SIMD 1
    static inline __mmask64 dedup_plain512(__m512i x, const uint64_t* plain) {
        static const uint8_t next[64] = {
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
            29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54,
            55, 56, 57, 58, 59, 60, 61, 62, 63, 0};
        const __m512i step = _mm512_loadu_si512((const void*)next);
        const __m512i seven = _mm512_set1_epi8(7);
        __m512i b1 = _mm512_permutexvar_epi8(step, x);
        __m512i b2 = _mm512_permutexvar_epi8(step, b1);
        __m512i row = _mm512_sub_epi8(x, _mm512_set1_epi8((char)0xC2));
        __mmask64 in_a = _mm512_cmplt_epu8_mask(row, _mm512_set1_epi8(6));
        __mmask64 in_b = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8((char)0xE1))
            & _mm512_cmpeq_epi8_mask(_mm512_andnot_si512(_mm512_set1_epi8(1), b1), _mm512_set1_epi8((char)0xBA));
        /* Byte of the bitmap: row * 8 + bits 3-5 of the second byte, or
           48 + (second byte & 1) * 8 + bits 3-5 of the third. */
        __m512i at_a = _mm512_or_si512(_mm512_slli_epi16(_mm512_and_si512(row, seven), 3),
                                       _mm512_and_si512(_mm512_srli_epi16(b1, 3), seven));
        __m512i at_b = _mm512_or_si512(_mm512_or_si512(_mm512_set1_epi8(48), _mm512_slli_epi16(_mm512_and_si512(b1, _mm512_set1_epi8(1)), 3)),
                                       _mm512_and_si512(_mm512_srli_epi16(b2, 3), seven));
        __m512i bytes = _mm512_permutexvar_epi8(_mm512_mask_blend_epi8(in_a, at_b, at_a), _mm512_loadu_si512((const void*)plain));
        __m512i pos = _mm512_and_si512(_mm512_mask_blend_epi8(in_a, b2, b1), seven);
        __m512i bit = _mm512_shuffle_epi8(_mm512_set1_epi64(0x8040201008040201LL), pos);
        return _mm512_test_epi8_mask(bytes, bit) & (in_a | in_b);
    }
    #else
    #define DEDUP_FOLD_SIMD 0
    #endif

    /* Write base + k for each bit k of taken (at most 32: a word start
       follows a separator) to out, in order; return their number. With
       AVX-512 VBMI2 (and the AVX-512 mode) the positions are packed by one
       compress and stored eight at a time under a mask, not one by one. */
    static inline int64_t dedup_store_starts(int64_t* out, uint64_t taken, int64_t base) {
        int64_t n = __builtin_popcountll(taken);
    #if DEDUP_WORD_SIMD512 && defined(__AVX512VBMI2__)
        static const uint8_t iota[64] = {
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
            28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53,
            54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
        if (dedup_word_simd_on == 2) {
            __m512i at = _mm512_maskz_compress_epi8(taken, _mm512_loadu_si512((const void*)iota));
            __m512i b = _mm512_set1_epi64(base);
            __m128i lo = _mm512_castsi512_si128(at), hi = _mm512_extracti32x4_epi32(at, 1);
            uint32_t keep = n >= 32 ? 0xFFFFFFFFu : (1u << n) - 1;
            _mm512_mask_storeu_epi64(out, (__mmask8)keep, _mm512_add_epi64(_mm512_cvtepu8_epi64(lo), b));
            if (n > 8) {
                _mm512_mask_storeu_epi64(out + 8, (__mmask8)(keep >> 8), _mm512_add_epi64(_mm512_cvtepu8_epi64(_mm_srli_si128(lo, 8)), b));
                _mm512_mask_storeu_epi64(out + 16, (__mmask8)(keep >> 16), _mm512_add_epi64(_mm512_cvtepu8_epi64(hi), b));
                _mm512_mask_storeu_epi64(out + 24, (__mmask8)(keep >> 24), _mm512_add_epi64(_mm512_cvtepu8_epi64(_mm_srli_si128(hi, 8)), b));
            }
            return n;
        }
    #endif
        for (int64_t k = 0; k < n; k++) {
            out[k] = base + __builtin_ctzll(taken);
            taken &= taken - 1;
        }
        return n;
    }

    #if DEDUP_WORD_SIMD512
    /* x - lo < width (unsigned), one bit a byte. */
    static inline __mmask64 dedup_below512(__m512i x, char lo, char width) {
        return _mm512_cmplt_epu8_mask(_mm512_sub_epi8(x, _mm512_set1_epi8(lo)), _mm512_set1_epi8(width));
    }

    /* dedup_word_chunk_plain in one go: the compares give the masks. */
    static inline void dedup_word_chunk512(const uint8_t* p, uint8_t* out, dedup_masks* mk, const uint64_t* plain) {
        const __m512i x = _mm512_loadu_si512((const void*)p);
    #if DEDUP_FOLD_SIMD
        mk->plain = dedup_plain512(x, plain);
    #else
        (void)plain;
        mk->plain = 0;
    #endif
        const __m512i folded = _mm512_or_si512(x, _mm512_set1_epi8(0x20));
        __mmask64 high = _mm512_movepi8_mask(x);
        /* A byte >= 0x80 is not in the letter or digit ranges. */
        __mmask64 word = dedup_below512(folded, 'a', 26) | dedup_below512(x, '0', 10) | high;
        __m512i lowered = _mm512_mask_add_epi8(x, dedup_below512(x, 'A', 26), x, _mm512_set1_epi8(0x20));
        _mm512_storeu_si512((void*)out, _mm512_mask_blend_epi8(word, _mm512_set1_epi8(0x20), lowered));
        mk->sep = ~word;
        mk->high = high;
        mk->leads = _mm512_cmpge_epu8_mask(x, _mm512_set1_epi8((char)0xC0));
        mk->three = dedup_below512(x, (char)0xE0, 16);
        mk->odd = dedup_below512(x, (char)0xC0, 2) | _mm512_cmpge_epu8_mask(x, _mm512_set1_epi8((char)0xF0))
            | _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8((char)0xE0)) | _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8((char)0xED));
        /* x | 0x20 is o or u only for o, u, O, U. */
        mk->ou = _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8('o')) | _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8('u'));
    }
    #endif

    /* The 64 bytes at p stored to out with A-Z lowered and ASCII separators
       made spaces, and their masks (plain by the bitmap plain). */
    static inline void dedup_word_chunk(const uint8_t* p, uint8_t* out, dedup_masks* mk, const uint64_t* plain) {
    #if DEDUP_WORD_SIMD512
        if (dedup_word_simd_on == 2) {
            dedup_word_chunk512(p, out, mk, plain);
            return;
        }
    #else
        (void)plain;
    #endif
    #if DEDUP_WORD_SIMD
        uint32_t a[6], b[6];
        if (dedup_word_simd_on) {
            mk->plain = 0;
            dedup_word_half(p, out, a);
            dedup_word_half(p + 32, out + 32, b);
            mk->sep = (uint64_t)a[0] | ((uint64_t)b[0] << 32);
            mk->high = (uint64_t)a[1] | ((uint64_t)b[1] << 32);
            mk->leads = (uint64_t)a[2] | ((uint64_t)b[2] << 32);
            mk->three = (uint64_t)a[3] | ((uint64_t)b[3] << 32);
            mk->odd = (uint64_t)a[4] | ((uint64_t)b[4] << 32);
            mk->ou = (uint64_t)a[5] | ((uint64_t)b[5] << 32);
            return;
        }
    #endif
        dedup_word_chunk_plain(p, out, mk);
    }

    /* Trailing zeros, 64 for 0. */
    static inline int64_t dedup_ctz64(uint64_t x) { return x ? __builtin_ctzll(x) : 64; }
    static inline int64_t dedup_popcount64(uint64_t x) { return __builtin_popcountll(x); }
    /* The highest set bit's index (x not 0). */
    static inline int64_t dedup_top64(uint64_t x) { return 63 - __builtin_clzll(x); }

    /* The code point of the valid 2- or 3-byte sequence at q (three: it is
       3 bytes; 3 bytes readable), without a branch on its length. */
    static inline uint32_t dedup_decode23(const uint8_t* q, uint64_t three) {
        /* The first two bytes in one load: fewer values live at once (GCC
           otherwise spilled one, and a byte store then word load stalled). */
        uint32_t w = (uint32_t)q[0] | ((uint32_t)q[1] << 8);
        uint32_t wide = 0u - (uint32_t)three;
        uint32_t cp2 = ((w & 0x1Fu) << 6) | ((w >> 8) & 0x3Fu);
        uint32_t cp3 = ((w & 0x0Fu) << 12) | ((w >> 2) & 0xFC0u) | (q[2] & 0x3Fu);
        return (cp3 & wide) | (cp2 & ~wide);
    }
    """
    int _word_simd_on "dedup_word_simd_on"
    const int _WORD_SIMD "DEDUP_WORD_SIMD"
    const int _WORD_SIMD512 "DEDUP_WORD_SIMD512"
    ctypedef struct Masks "dedup_masks":
        uint64_t sep, high, leads, three, odd, ou, plain
    void _word_chunk "dedup_word_chunk"(const uint8_t* p, uint8_t* out, Masks* mk, const uint64_t* plain) noexcept nogil
    uint32_t _decode23 "dedup_decode23"(const uint8_t* q, uint64_t three) noexcept nogil
    int64_t _store_starts "dedup_store_starts"(int64_t* out, uint64_t taken, int64_t base) noexcept nogil
    const int _FOLD_SIMD "DEDUP_FOLD_SIMD"
    int64_t _ctz64 "dedup_ctz64"(uint64_t x) noexcept nogil
    int64_t _popcount64 "dedup_popcount64"(uint64_t x) noexcept nogil
    int64_t _top64 "dedup_top64"(uint64_t x) noexcept nogil


cdef enum:
    _WORD_CHUNK = 64

# 0: character by character only; 1: word steps. On where the build has the
# SIMD classification (the plain one is for the tests: slower than the
# character steps). Tests run all (word_steps_for_tests).
cdef int _word_steps_on = _WORD_SIMD
WORD_SIMD = bool(_WORD_SIMD)
WORD_SIMD512 = bool(_WORD_SIMD512)
FOLD_SIMD = bool(_FOLD_SIMD)


def word_steps_for_tests(int mode):
    """Normalize character by character only (0), by word steps with the
    plain 64-byte classification (1), with AVX2 (2) or with AVX-512BW (3,
    which also finds the plain letters of a chunk at once where the build
    has AVX-512 VBMI: FOLD_SIMD), each where the build has it (else the
    next narrower one): all must give the same results. Returns the
    previous mode."""
    global _word_steps_on, _word_simd_on
    cdef int was = 0 if not _word_steps_on else 1 + _word_simd_on
    _word_steps_on = mode > 0
    _word_simd_on = 2 if mode >= 3 and _WORD_SIMD512 else (1 if mode >= 2 and _WORD_SIMD else 0)
    return was


def word_chunk_for_tests(const uint8_t[::1] chunk):
    """The 64-byte classification of ``chunk`` (64 bytes) as the current
    mode makes it: ``(copy, (sep, high, leads, three, odd, ou))``, the
    normalized copy (bytes) and the masks (bit k for byte k)."""
    cdef Masks mk
    cdef uint8_t out[_WORD_CHUNK]
    cdef uint64_t plain[8]
    if chunk.shape[0] != _WORD_CHUNK:
        raise ValueError("a chunk is 64 bytes")
    memset(plain, 0, sizeof(plain))
    _word_chunk(&chunk[0], out, &mk, plain)
    return bytes(out[:_WORD_CHUNK]), (mk.sep, mk.high, mk.leads, mk.three, mk.odd, mk.ou)


cdef inline int64_t _utf8_len(uint32_t cp) noexcept nogil:
    return 1 + (cp >= 0x80) + (cp >= 0x800) + (cp >= 0x10000)

# NFC in the kernel (UAX #15): decompose fully, stably sort each run of
# non-starters by canonical combining class, compose with the blocking rule.
# The table is generated from unicodedata (dedup/_unicode.py, nfc_table,
# which describes its layout); Hangul syllables go by arithmetic. Tested to
# equal unicodedata.normalize("NFC") on every code point, on base + mark
# pairs and triples and on random text.
#
# The text is cut into segments, each from a "safe" code point (one whose
# decomposition starts with a starter that never composes with what comes
# before it) to the next: nothing in a segment composes or reorders with
# anything before it, so each segment is final as soon as the next one
# starts, and the code-point scratch holds one segment (a few code points,
# short of adversarial text). A segment of one NFC-stable code point (ASCII,
# precomposed Vietnamese) is written as it is, without decomposing it; a run
# of ASCII is copied. Bytes that start no valid UTF-8 sequence pass through
# as starters that compose with nothing (RAW + the byte), and so do
# surrogates, as Python's NFC leaves them: the text reads back as before.

cdef enum:
    _NFC_HEADER = 6
    _NFC_CCC = 0xFF
    _NFC_SAFE = 0x100
    _NFC_STABLE = 0x200
    _NFC_DECOMP_SHIFT = 10
    _NFC_DECOMP_MASK = 0xFFF
    _NFC_FIRST = 0x400000
    _SHORT_RUN = 32

cdef uint32_t _RAW = 0x110000
cdef uint32_t _S_BASE = 0xAC00, _L_BASE = 0x1100, _V_BASE = 0x1161, _T_BASE = 0x11A7
cdef uint32_t _L_COUNT = 19, _V_COUNT = 21, _T_COUNT = 28, _S_COUNT = 11172


cdef struct Nfc:
    const uint32_t* stage1
    const uint32_t* stage2
    const uint32_t* decomp_at
    const uint32_t* decomp
    const uint32_t* comp
    int comp_shift
    uint32_t comp_mask


cdef struct NfcScratch:
    # Per-thread: the composed text, a segment's code points (then its
    # decomposition, and room to sort it), the normalized text
    # (normalize_kernel only).
    uint8_t* text
    uint32_t* cps
    uint8_t* out
    int64_t text_cap
    int64_t cps_cap
    int64_t out_cap


cdef Nfc _nfc_tables(const uint32_t[::1] table):
    """Point into the packed table; ValueError when its header is wrong."""
    cdef Nfc u
    cdef const uint32_t* p = &table[0]
    cdef Py_ssize_t k
    cdef uint32_t slots = 0
    if table.shape[0] >= _NFC_HEADER and p[0] == _NFC_HEADER and p[_NFC_HEADER - 1] == table.shape[0]:
        slots = (p[5] - p[4]) // 3
    if slots < 2 or slots & (slots - 1) or 3 * slots != p[5] - p[4]:
        raise ValueError("nfc is not a packed NFC table (dedup._unicode.nfc_table)")
    for k in range(1, _NFC_HEADER):
        if p[k] < p[k - 1]:
            raise ValueError("nfc is not a packed NFC table (dedup._unicode.nfc_table)")
    u.stage1 = p + p[0]
    u.stage2 = p + p[1]
    u.decomp_at = p + p[2]
    u.decomp = p + p[3]
    u.comp = p + p[4]
    u.comp_mask = slots - 1
    u.comp_shift = 32
    while slots > 1:
        slots >>= 1
        u.comp_shift -= 1
    return u


cdef inline uint32_t _props(const Nfc* u, uint32_t cp) noexcept nogil:
    if cp >= 0x110000:
        return _NFC_SAFE | _NFC_STABLE  # RAW: a starter that composes with nothing
    return u.stage2[(u.stage1[cp >> 7] << 7) | (cp & 127)]


cdef inline uint32_t _ccc(const Nfc* u, uint32_t cp) noexcept nogil:
    return _props(u, cp) & _NFC_CCC


cdef inline uint32_t _compose(const Nfc* u, uint32_t first, uint32_t second) noexcept nogil:
    """The primary composite of the pair, or 0."""
    cdef uint32_t k
    if first - _L_BASE < _L_COUNT and second - _V_BASE < _V_COUNT:
        return _S_BASE + ((first - _L_BASE) * _V_COUNT + (second - _V_BASE)) * _T_COUNT
    if first - _S_BASE < _S_COUNT and (first - _S_BASE) % _T_COUNT == 0 and second - _T_BASE - 1 < _T_COUNT - 1:
        return first + (second - _T_BASE)
    if not _props(u, first) & _NFC_FIRST:
        return 0
    # Open addressing, at most half full: a probe or two (nfc_pair_slot).
    k = (((first * <uint32_t>0x9E3779B1) ^ second) * <uint32_t>0x85EBCA77) >> u.comp_shift
    while u.comp[3 * k] != 0:
        if u.comp[3 * k] == first and u.comp[3 * k + 1] == second:
            return u.comp[3 * k + 2]
        k = (k + 1) & u.comp_mask
    return 0


cdef void _sort_marks(uint32_t* cps, int64_t n, uint32_t* tmp) noexcept nogil:
    """Stable sort of a run of non-starters (class in bits 24-31) by
    combining class: insertion sort for short runs, counting sort (linear)
    for long ones."""
    cdef int64_t i, p, at[257]
    cdef uint32_t x
    if n <= _SHORT_RUN:
        for i in range(1, n):
            x = cps[i]
            p = i
            while p > 0 and (cps[p - 1] >> 24) > (x >> 24):
                cps[p] = cps[p - 1]
                p -= 1
            cps[p] = x
        return
    memset(at, 0, sizeof(at))
    for i in range(n):
        at[(cps[i] >> 24) + 1] += 1
    for i in range(1, 257):
        at[i] += at[i - 1]
    for i in range(n):
        tmp[at[cps[i] >> 24]] = cps[i]
        at[cps[i] >> 24] += 1
    memcpy(cps, tmp, n * sizeof(uint32_t))


cdef int64_t _decompose(const Nfc* u, const uint32_t* seg, int64_t n, uint32_t* out) noexcept nogil:
    """Full canonical decomposition of ``seg[:n]`` into ``out`` (room for
    4 code points each), each code point with its class in bits 24-31 (RAW
    values have no class: they stay below 2**24); the number written."""
    cdef int64_t i, k, w = 0
    cdef uint32_t c, props, index, s
    for i in range(n):
        c = seg[i]
        props = _props(u, c)
        index = (props >> _NFC_DECOMP_SHIFT) & _NFC_DECOMP_MASK
        if index != 0:
            for k in range(u.decomp_at[index - 1], u.decomp_at[index]):
                out[w] = u.decomp[k]
                w += 1
        elif c - _S_BASE < _S_COUNT:
            s = c - _S_BASE
            out[w] = _L_BASE + s // (_V_COUNT * _T_COUNT)
            out[w + 1] = _V_BASE + (s % (_V_COUNT * _T_COUNT)) // _T_COUNT
            w += 2
            if s % _T_COUNT != 0:
                out[w] = _T_BASE + s % _T_COUNT
                w += 1
        else:
            out[w] = c | ((props & _NFC_CCC) << 24)
            w += 1
    return w


cdef int64_t _nfc_segment(const Nfc* u, uint32_t* seg, int64_t n, uint8_t* out, int64_t pos) noexcept nogil:
    """Write the NFC of the segment ``seg[:n]`` (room for 9n code points:
    its decomposition and as many again to sort it) as UTF-8 at
    ``out[pos]``; the new position."""
    cdef int64_t i, j, w = 0, starter = -1
    cdef uint32_t c, cc, last = 0, composite
    cdef uint32_t* cps = seg + n
    if n == 1 and _props(u, seg[0]) & _NFC_STABLE:
        if seg[0] >= _RAW:
            out[pos] = <uint8_t>(seg[0] - _RAW)
            return pos + 1
        return _utf8(seg[0], out, pos)
    n = _decompose(u, seg, n, cps)
    i = 0
    while i < n:
        if cps[i] >> 24 == 0:
            i += 1
            continue
        j = i + 1
        while j < n and cps[j] >> 24 != 0:
            j += 1
        if j - i > 1:
            _sort_marks(cps + i, j - i, cps + n)
        i = j
    for i in range(n):
        cc = cps[i] >> 24
        c = cps[i] & 0xFFFFFF
        # Not blocked from the last starter: adjacent to it, or every code
        # point between (non-starters in class order) of a lower class.
        if starter >= 0 and (w - 1 == starter or last < cc):
            composite = _compose(u, cps[starter], c)
            if composite != 0:
                cps[starter] = composite
                continue
        if cc == 0:
            starter = w
        cps[w] = c
        w += 1
        last = cc
    for i in range(w):
        if cps[i] >= _RAW:
            out[pos] = <uint8_t>(cps[i] - _RAW)
            pos += 1
        else:
            pos = _utf8(cps[i], out, pos)
    return pos


cdef int64_t _nfc(const uint8_t* s, int64_t m, const Nfc* u, NfcScratch* ns, Py_ssize_t d) noexcept nogil:
    """NFC of the UTF-8 ``s[:m]`` into ``ns.text``: its length, or -1 when
    out of memory."""
    cdef int64_t i = 0, j, at, n = 0, pos = 0
    cdef uint32_t c
    if not _reserve(<void**>&ns.text, &ns.text_cap, m + 16, 1, d, _SITE_NFC):
        return -1
    if not _reserve(<void**>&ns.cps, &ns.cps_cap, 64, sizeof(uint32_t), d, _SITE_NFC):
        return -1
    while i < m:
        at = i
        c = s[i]
        if c < 0x80:
            i += 1
        else:
            c = _next_cp(s, m, &i)
            if c == INVALID:
                c = _RAW + s[at]
        if n > 0 and _props(u, c) & _NFC_SAFE:
            # The segment before a safe code point is final. Room for 4
            # UTF-8 bytes per code point of its decomposition.
            if pos + 16 * n > ns.text_cap and not _reserve(<void**>&ns.text, &ns.text_cap, pos + 16 * n, 1, d, _SITE_NFC):
                return -1
            pos = _nfc_segment(u, ns.cps, n, ns.text, pos)
            n = 0
        if c < 0x80:
            # ASCII: every byte of a run but its last is followed by a safe
            # code point (the next byte), so it is final as it is.
            j = i
            while j < m and s[j] < 0x80:
                j += 1
            if j > i:
                if pos + j - at > ns.text_cap and not _reserve(<void**>&ns.text, &ns.text_cap, pos + j - at, 1, d, _SITE_NFC):
                    return -1
                memcpy(ns.text + pos, s + at, j - 1 - at)
                pos += j - 1 - at
                c = s[j - 1]
                i = j
        # The segment, then its decomposition (4 code points each at most)
        # and as many again to sort it.
        if 9 * (n + 1) > ns.cps_cap and not _reserve(<void**>&ns.cps, &ns.cps_cap, 9 * (n + 1), sizeof(uint32_t), d, _SITE_NFC):
            return -1
        ns.cps[n] = c
        n += 1
    if n > 0:
        if pos + 16 * n > ns.text_cap and not _reserve(<void**>&ns.text, &ns.text_cap, pos + 16 * n, 1, d, _SITE_NFC):
            return -1
        pos = _nfc_segment(u, ns.cps, n, ns.text, pos)
    return pos


cdef void _free_nfc_scratch(NfcScratch* ns) noexcept nogil:
    free(ns.text)
    free(ns.cps)
    free(ns.out)


def nfc_kernel(const uint8_t[::1] text, const int64_t[::1] starts, const uint32_t[::1] nfc, int num_threads):
    """NFC of each UTF-8 text (``"surrogatepass"``; invalid bytes pass
    through) by the packed table ``nfc``: ``(utf8 bytes, offsets)``, uint8
    and int64 of shape ``(n + 1,)``, as numpy arrays."""
    cdef Py_ssize_t n_docs = starts.shape[0] - 1
    cdef Py_ssize_t d
    cdef int n_slots = num_threads if num_threads > 1 else 1
    cdef int64_t got
    cdef Nfc u = _nfc_tables(nfc)
    cdef NfcScratch* ns
    cdef const uint8_t* base = &text[0] if text.shape[0] > 0 else NULL
    lengths_arr = np.zeros(n_docs, dtype=np.int64)
    status_arr = np.zeros(n_docs, dtype=np.uint8)
    cdef int64_t[::1] lengths = lengths_arr
    cdef uint8_t[::1] status = status_arr
    cdef uint8_t** composed = <uint8_t**>calloc(n_docs if n_docs > 0 else 1, sizeof(uint8_t*))
    cdef NfcScratch* scratch = <NfcScratch*>calloc(n_slots, sizeof(NfcScratch))
    try:
        if composed == NULL or scratch == NULL:
            raise MemoryError()
        for d in prange(n_docs, nogil=True, schedule="dynamic", chunksize=16, num_threads=num_threads):
            if starts[d + 1] == starts[d]:
                continue
            ns = &scratch[threadid()]
            got = _nfc(base + starts[d], starts[d + 1] - starts[d], &u, ns, d)
            composed[d] = <uint8_t*>_alloc(got if got > 0 else 1, d, _SITE_TEXT) if got >= 0 else NULL
            if composed[d] == NULL:
                status[d] = 1
            else:
                memcpy(composed[d], ns.text, got)
                lengths[d] = got
        _raise_if_failed(status_arr)
        offsets_arr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(lengths_arr, out=offsets_arr[1:])
        out_arr = np.empty(offsets_arr[n_docs], dtype=np.uint8)
        for d in range(n_docs):
            if lengths[d] > 0:
                out_arr[offsets_arr[d] : offsets_arr[d + 1]] = <uint8_t[:lengths[d]]>composed[d]
        return out_arr, offsets_arr
    finally:
        if composed != NULL:
            for d in range(n_docs):
                free(composed[d])
        free(composed)
        if scratch != NULL:
            for d in range(n_slots):
                _free_nfc_scratch(&scratch[d])
        free(scratch)


cdef struct Tables:
    const uint32_t* case
    const uint16_t* fold  # _FOLD_SPAN + 1 entries (_word_fold)
    uint64_t plain[8]  # the bitmap of dedup_plain512 (_word_fold)
    const uint32_t* accent
    const uint8_t* stable
    const uint32_t* tones
    const Nfc* nfc  # NULL: documents that need NFC are left to Python
    int64_t n_tones
    bint fold_accents
    bint check_nfc
    bint word_steps  # the tables fold ASCII as the word steps do (and the tests allow them)


cdef struct Counts:
    # What the shingling needs to know of a normalized document, counted as
    # it is written: its words, its letters (code points but spaces) and
    # those of its letters in a script written without spaces.
    int64_t words
    int64_t letters
    int64_t unspaced


cdef struct Walk:
    # Where a normalization is and the word it is writing: input and output
    # positions, the output offsets of the word's last two code points, its
    # length and last three code points (what _end_word needs), whether a
    # space is owed before the next word, and the input position before which
    # the character steps keep going (the word steps gave up there).
    int64_t i
    int64_t pos
    int64_t pos1
    int64_t pos2
    int64_t wordlen
    uint32_t c1
    uint32_t c2
    uint32_t c3
    bint pending
    int64_t hold
    int64_t backoff


cdef int _char_steps(
    const uint8_t* s, int64_t m, const Tables* t, uint8_t* out, int64_t* starts, Walk* w, Counts* k
) noexcept nogil:
    """Normalize code point by code point from ``s[w.i]`` to the document's
    end or, with ``t.word_steps``, past the first separator with 64 bytes
    left to read after it. Return -1 when the document needs NFC
    first, else 0. The state lives in locals (stores to out would otherwise
    reload it from w)."""
    cdef int64_t i = w.i, j, pos = w.pos, pos1 = w.pos1, pos2 = w.pos2, wordlen = w.wordlen
    cdef int64_t words = k.words, letters = k.letters, unspaced = k.unspaced
    cdef uint32_t c, low, c1 = w.c1, c2 = w.c2, c3 = w.c3
    cdef bint pending = w.pending, steps = t.word_steps
    cdef int64_t hold = w.hold
    while i < m:
        c = s[i]
        if c < 0x80:
            i += 1
        else:
            c = _next_cp(s, m, &i)
            if c == INVALID:
                c = SPACE
            elif c >= 0x300 and t.check_nfc and not t.stable[c]:
                return -1
            elif 0xD800 <= c < 0xE000:
                # A lone surrogate is not a character; a high one followed
                # by a low one is one code point, as UTF-16 reads them.
                c = SPACE if c >= 0xDC00 else c
                if c != SPACE:
                    j = i
                    low = _next_cp(s, m, &j) if i < m and s[i] >= 0x80 else 0
                    if 0xDC00 <= low < 0xE000:
                        c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00)
                        i = j
                    else:
                        c = SPACE
        c = t.case[c]
        if t.fold_accents and c != SPACE:
            c = t.accent[c]
            if c == 0:
                continue
        if c == SPACE:
            if wordlen > 0:
                if not t.fold_accents:
                    pos = _end_word(c1, c2, c3, wordlen, pos2, pos, t.tones, t.n_tones, out)
                pending = True
                wordlen = 0
            if steps and i >= hold and i + _WORD_CHUNK <= m:
                break  # between words: back to the word steps
            continue
        if pending:
            out[pos] = SPACE
            pos += 1
            pending = False
        if wordlen == 0:
            if starts != NULL:
                starts[words] = pos
            words += 1
        if c >= 0x0E00:
            unspaced += _unspaced_script(c)
        pos2 = pos1
        pos1 = pos
        pos = _utf8(c, out, pos)
        c3 = c2
        c2 = c1
        c1 = c
        wordlen += 1
        letters += 1
    w.i = i
    w.pos = pos
    w.pos1 = pos1
    w.pos2 = pos2
    w.wordlen = wordlen
    w.c1 = c1
    w.c2 = c2
    w.c3 = c3
    w.pending = pending
    k.words = words
    k.letters = letters
    k.unspaced = unspaced
    return 0


cdef inline uint64_t _below(int64_t cut) noexcept nogil:
    """The mask of chunk positions below cut (0 to 64)."""
    return ~(<uint64_t>0) if cut >= 64 else (<uint64_t>1 << cut) - 1


cdef inline int64_t _word_at(uint64_t starts, int64_t p) noexcept nogil:
    """The start of the word holding (or before) chunk position p: the
    highest bit of ``starts`` at or below p (bit 0 is a word start)."""
    return _top64(starts & (~(<uint64_t>0) >> (63 - p)))


# A word step folds its non-ASCII code points by one lookup each in
# ``Tables.fold`` (_word_fold): the fold of a code point below U+2000 (every
# Vietnamese letter) where it is a plain one (same UTF-8 length, not a
# space, not in a script written without spaces, NFC-stable when checked),
# else 0. Its range and its tests (stable, case, length, script) would
# otherwise be branches on the code point's range, which Vietnamese text
# (Latin-1 and Latin Extended Additional letters mixed) mispredicts; a 0
# (or a code point above the table) goes to _fold_rare, out of the loop.
# With AVX-512 VBMI the leads of the code points that fold to themselves
# (``Tables.plain``, a bitmap of the Vietnamese letters' ranges) are found
# for the whole chunk at once (dedup_plain512) and skipped: in lower-case
# text the loop then has nothing to do.

cdef enum:
    _FOLD_SPAN = 0x2000
    _FOLDED = -2


cdef void _word_fold(Tables* t, uint16_t* fold) noexcept nogil:
    """Fill ``fold`` (``_FOLD_SPAN + 1`` entries) for the tables t and point
    ``t.fold`` at it. Tables copied with check_nfc turned off may keep it:
    the code points it leaves to _fold_rare are a superset."""
    cdef uint32_t cp, c
    memset(fold, 0, (_FOLD_SPAN + 1) * sizeof(uint16_t))
    for cp in range(0x80, <uint32_t>_FOLD_SPAN):
        if cp >= 0x300 and t.check_nfc and not t.stable[cp]:
            continue
        c = t.case[cp]
        if c == SPACE or _utf8_len(c) != _utf8_len(cp) or _unspaced_script(c):
            continue
        fold[cp] = <uint16_t>c
    t.fold = fold
    memset(t.plain, 0, sizeof(t.plain))
    for cp in range(0x80, 0x200):
        if fold[cp] == cp:
            t.plain[(cp - 0x80) >> 6] |= <uint64_t>1 << ((cp - 0x80) & 63)
    for cp in range(0x1E80, 0x1F00):
        if fold[cp] == cp:
            t.plain[(cp - 0x1E80 + 0x180) >> 6] |= <uint64_t>1 << ((cp - 0x1E80 + 0x180) & 63)


cdef int64_t _fold_rare(
    const uint8_t* s, const Tables* t, uint8_t* out, uint64_t starts, int64_t at, int64_t n, uint32_t cp
) noexcept nogil:
    """A code point of a word step (``s[at]``, 2 + n bytes) that the table
    does not fold: fold it in out as _fold_leads would; _FOLDED, else the
    cut (its word's start) or -1 when the document needs NFC."""
    cdef uint32_t c
    if cp >= 0x300 and t.check_nfc and not t.stable[cp]:
        return -1
    c = t.case[cp]
    if c != cp:
        if c == SPACE or _utf8_len(c) != 2 + n:
            return _word_at(starts, at)
        _utf8(c, out, at)
    if c >= 0x0E00 and _unspaced_script(c):
        return _word_at(starts, at)
    return _FOLDED


cdef inline int64_t _fold_leads(
    const uint8_t* s, const Tables* t, uint8_t* out, const Masks* mk, uint64_t starts, int64_t cut
) noexcept nogil:
    """Fold the non-ASCII code points of a word step's words before chunk
    position ``cut`` (valid 2- or 3-byte sequences) in their copy at out,
    in place; return the new cut: the start of the first word holding one
    that folds to a space or to another UTF-8 length or that is in a script
    written without spaces (those go by characters), or -1 when the
    document needs NFC. The leads of ``mk.plain`` fold to themselves: skipped."""
    cdef uint64_t leads = mk.leads & ~mk.plain & _below(cut)
    cdef int64_t at, n, got
    cdef uint32_t cp, c
    while leads:
        at = _ctz64(leads)
        leads &= leads - 1
        n = (mk.three >> at) & 1
        cp = _decode23(s + at, n)
        c = t.fold[min(cp, <uint32_t>_FOLD_SPAN)]
        if c == 0:
            got = _fold_rare(s, t, out, starts, at, n, cp)
            if got != _FOLDED:
                return got
        elif c != cp:
            _utf8(c, out, at)
    return cut


cdef inline int64_t _tone_marks(
    const Tables* t, uint8_t* out, const Masks* mk, uint64_t starts, uint64_t ends, int64_t cut, int64_t* end
) noexcept nogil:
    """The tone-mark rewrite of a word step's words before ``cut`` (folded
    in out): only a word whose last code point is not ASCII and follows an
    o or u can change. Return the new cut: past the first word the rewrite
    shortens (``end`` then its new end in out), else cut."""
    cdef uint64_t last = (mk.leads & ~mk.three & (ends >> 1)) | (mk.three & (ends >> 2))
    cdef uint64_t todo = last & (mk.ou << 1) & _below(cut)
    cdef int64_t at, a, b, got
    cdef uint32_t c1, c3
    while todo:
        at = _ctz64(todo)
        todo &= todo - 1
        a = _word_at(starts, at - 1)
        b = at + 1 + ((mk.three >> at) & 1) + 1
        c1 = _decode23(out + at, (mk.three >> at) & 1)
        c3 = out[at - 2] if at - 1 > a else 0
        got = _end_word(c1, out[at - 1], c3, 2 if at - 1 == a else 3, at - 1, b, t.tones, t.n_tones, out)
        if got != b:
            end[0] = got
            return b
    return cut


cdef inline int64_t _take_words(const Tables* t, const Masks* mk, uint64_t starts, uint64_t ends) noexcept nogil:
    """The chunk position before which a word step takes the words by their
    masks alone: those before the second byte of a run of separators (after
    it the output moves against the input), ending by position 61 (a code
    point is read as 3 bytes) and before the first word holding a byte that
    is not in a valid 2- or 3-byte sequence (or a non-ASCII one at all with
    fold_accents)."""
    cdef uint64_t whole = ends & ((<uint64_t>1 << (_WORD_CHUNK - 2)) - 1)
    cdef uint64_t bad = mk.odd | ((mk.high & ~mk.leads) ^ ((mk.leads << 1) | (mk.three << 2)))
    cdef int64_t cut = _ctz64(mk.sep & (mk.sep << 1))
    if whole == 0:
        return 0
    cut = min(cut, _top64(whole) + 1)
    if t.fold_accents:
        bad |= mk.high
    if bad:
        cut = min(cut, _word_at(starts, _ctz64(bad)))
    return cut


cdef int _word_steps(
    const uint8_t* s, int64_t m, const Tables* t, uint8_t* out, int64_t* starts, Walk* w, Counts* k
) noexcept nogil:
    """Normalize word by word from ``s[w.i]`` (at no word: w.wordlen is 0)
    while 64 bytes are left to read there; stop before a word the word steps
    cannot take (the character steps take it). Return -1 when the document
    needs NFC, else 0.

    Each step classifies the 64 bytes at a word's start and stores their
    normalized copy at the word's output position. Where one separator byte
    divides two words, the copy is the output as it is, so the words up to
    the first run of separators of another length are taken from the masks
    alone (_take_words), but for their non-ASCII code points, folded in
    place (_fold_leads), and the tone-mark rewrite (_tone_marks); the next
    step starts at the word after them. The state lives in locals (stores
    to out would otherwise reload it from w).
    """
    cdef int64_t i = w.i, pos = w.pos, words = k.words, letters = k.letters
    cdef int64_t base, cut, end, last, b
    cdef uint64_t word_starts, word_ends, taken
    cdef bint pending = w.pending
    cdef Masks mk
    # Room: the output never outgrows 2 bytes per input byte, so out has
    # 64 bytes past pos + 1 while 64 input bytes are left.
    while i + _WORD_CHUNK <= m:
        out[pos] = SPACE  # owed before a next word; pos moves past it only then
        base = pos + pending
        _word_chunk(s + i, out + base, &mk, t.plain)
        if mk.sep & 1:
            i += _ctz64(~mk.sep)
            continue
        word_starts = ~mk.sep & ((mk.sep << 1) | 1)
        word_ends = ~mk.sep & (mk.sep >> 1)  # the last byte of each word followed by a separator
        cut = _take_words(t, &mk, word_starts, word_ends)
        if cut > 0:
            cut = _fold_leads(s + i, t, out + base, &mk, word_starts, cut)
            if cut < 0:
                return -1
        end = -1
        if cut > 0 and not t.fold_accents:
            cut = _tone_marks(t, out + base, &mk, word_starts, word_ends, cut, &end)
        if cut == 0:
            break  # the word at i goes character by character
        taken = word_starts & _below(cut)
        if starts != NULL:
            words += _store_starts(starts + words, taken, base)
        else:
            words += _popcount64(taken)
        last = _top64(word_starts & _below(cut))
        b = last + _ctz64(mk.sep >> last)
        # Code points: the bytes that are neither separators nor continuations.
        letters += _popcount64(~mk.sep & ~(mk.high & ~mk.leads) & _below(b))
        pos = base + (end if end >= 0 else b)
        pending = True
        i += b + _ctz64(~(mk.sep >> b))
    w.i = i
    w.pos = pos
    w.pending = pending
    k.words = words
    k.letters = letters
    return 0


cdef int64_t _normalize_counted(
    const uint8_t* s, int64_t m, const Tables* t, uint8_t* out, int64_t* starts, Counts* counts
) noexcept nogil:
    """Normalize one UTF-8 document into out (room for 3 bytes per input
    byte) in one pass; return the number of bytes written, or -1 when
    ``t.check_nfc`` and the document needs NFC first (the caller's: _nfc
    with ``t.nfc``, else Python's).

    Also counts the output's words, letters and unspaced letters (what
    _mostly_unspaced and _count_units would find in it), and when ``starts``
    is not NULL (room for ``m // 2 + 1`` entries: a word and a separator
    take an input byte each) writes the output offset of each word's first
    byte there.
    """
    cdef Walk w
    cdef Counts k
    cdef int64_t before
    memset(&w, 0, sizeof(Walk))
    memset(&k, 0, sizeof(Counts))
    while w.i < m:
        # Word steps (between words), until a word they cannot take or the
        # last 64 bytes: character steps from there.
        if t.word_steps and w.i + _WORD_CHUNK <= m:
            before = w.i
            if _word_steps(s, m, t, out, starts, &w, &k) < 0:
                return -1
            if w.i == before:
                # Given up at once (a non-ASCII separator or an odd byte by
                # the word): the character steps go on for a while before the
                # next try, twice as far after each try given up in a row, or
                # text made of such words would pay a classification per word
                # (2-3.6x the character steps alone).
                w.backoff = min(max(2 * w.backoff, _WORD_CHUNK), 64 * _WORD_CHUNK)
                w.hold = w.i + w.backoff
            else:
                w.backoff = 0
        if w.i < m and _char_steps(s, m, t, out, starts, &w, &k) < 0:
            return -1
    if w.wordlen > 0 and not t.fold_accents:
        w.pos = _end_word(w.c1, w.c2, w.c3, w.wordlen, w.pos2, w.pos, t.tones, t.n_tones, out)
    counts[0] = k
    return w.pos


cdef inline int64_t _normalize_one(const uint8_t* s, int64_t m, const Tables* t, uint8_t* out) noexcept nogil:
    """:func:`_normalize_counted` without the word starts."""
    cdef Counts counts
    return _normalize_counted(s, m, t, out, NULL, &counts)


cdef Tables _tables(
    const uint32_t[::1] case,
    const uint32_t[::1] accent,
    const uint8_t[::1] stable,
    const uint32_t[:, ::1] tones,
    bint fold_accents,
    bint check_nfc,
    uint16_t* fold,
):
    """The tables of a normalization; ``fold`` (``_FOLD_SPAN + 1`` entries,
    the caller's) is filled for ``t.fold``."""
    cdef Tables t
    t.case = &case[0]
    t.accent = &accent[0]
    t.stable = &stable[0]
    t.tones = &tones[0, 0]
    t.n_tones = tones.shape[0]
    t.fold_accents = fold_accents
    t.check_nfc = check_nfc
    t.nfc = NULL
    t.word_steps = _word_steps_on and _ascii_as_words(t.case, t.accent, fold_accents)
    _word_fold(&t, fold)
    return t


cdef bint _ascii_as_words(const uint32_t* case, const uint32_t* accent, bint fold_accents) noexcept:
    """The tables fold ASCII as the word steps do: letters and digits kept
    (A-Z lowered, accents not touching them), every other byte a space."""
    cdef uint32_t c, want
    for c in range(0x80):
        if 0x41 <= c <= 0x5A:
            want = c + 0x20
        elif 0x61 <= c <= 0x7A or 0x30 <= c <= 0x39:
            want = c
        else:
            want = SPACE
        if case[c] != want or (fold_accents and want != SPACE and accent[want] != want):
            return False
    return True


cdef int64_t _normalize_nfc(
    const uint8_t* s, int64_t m, const Tables* t, NfcScratch* ns, Py_ssize_t d
) noexcept nogil:
    """NFC of ``s[:m]`` (``t.nfc``), normalized into ``ns.out``: its length,
    or -1 when out of memory."""
    cdef int64_t n = _nfc(s, m, t.nfc, ns, d)
    cdef Tables composed = t[0]
    if n < 0 or not _reserve(<void**>&ns.out, &ns.out_cap, 3 * n + 1, 1, d, _SITE_NFC):
        return -1
    composed.check_nfc = False
    return _normalize_one(ns.text, n, &composed, ns.out)


def normalize_kernel(
    const uint8_t[::1] text,
    const int64_t[::1] starts,
    const uint32_t[::1] case,
    const uint32_t[::1] accent,
    const uint8_t[::1] stable,
    const uint32_t[::1] nfc,
    bint fold_accents,
    bint check_nfc,
    const uint32_t[:, ::1] tones,
    int num_threads,
):
    """Normalize a batch of UTF-8 texts; return ``(utf8 bytes, offsets,
    needs_nfc)`` as numpy arrays. With check_nfc, a document that is not
    NFC-stable is composed here by the packed table ``nfc``
    (dedup._unicode.nfc_table); needs_nfc (uint8) flags the documents left
    empty for Python's NFC instead: all of them when ``nfc`` is empty, else
    the ones whose normalized text would take more than 3 bytes per input
    byte (never seen: the bound the output layout needs)."""
    cdef Py_ssize_t n_docs = starts.shape[0] - 1
    cdef Py_ssize_t d
    cdef int n_slots = num_threads if num_threads > 1 else 1
    cdef int64_t lo, hi, got, total = starts[n_docs]
    cdef uint16_t fold[_FOLD_SPAN + 1]
    cdef Tables t = _tables(case, accent, stable, tones, fold_accents, check_nfc, fold)
    cdef Nfc u
    cdef NfcScratch* ns
    if nfc.shape[0] > 0:
        u = _nfc_tables(nfc)
        t.nfc = &u
    # Normalizing never writes more than 2 bytes per input byte (1 for ASCII,
    # tested), so document d writes into its own region
    # [3 * starts[d], 3 * starts[d + 1]).
    wide_arr = np.empty(max(3 * total, 1), dtype=np.uint8)
    lengths_arr = np.empty(n_docs, dtype=np.int64)
    needs_arr = np.zeros(n_docs, dtype=np.uint8)
    status_arr = np.zeros(n_docs, dtype=np.uint8)
    cdef uint8_t[::1] wide = wide_arr
    cdef int64_t[::1] lengths = lengths_arr
    cdef uint8_t[::1] needs = needs_arr
    cdef uint8_t[::1] status = status_arr
    cdef const uint8_t* base = &text[0] if text.shape[0] > 0 else NULL
    cdef NfcScratch* scratch = <NfcScratch*>calloc(n_slots, sizeof(NfcScratch))
    if scratch == NULL:
        raise MemoryError()
    try:
        for d in prange(n_docs, nogil=True, schedule="dynamic", chunksize=16, num_threads=num_threads):
            lo = starts[d]
            hi = starts[d + 1]
            lengths[d] = 0
            if hi == lo:
                continue
            got = _normalize_one(base + lo, hi - lo, &t, &wide[3 * lo])
            if got >= 0:
                lengths[d] = got
            elif t.nfc == NULL:
                needs[d] = 1
            else:
                ns = &scratch[threadid()]
                got = _normalize_nfc(base + lo, hi - lo, &t, ns, d)
                if got < 0:
                    status[d] = 1
                elif got > 3 * (hi - lo):
                    needs[d] = 1
                else:
                    memcpy(&wide[3 * lo], ns.out, got)
                    lengths[d] = got
        _raise_if_failed(status_arr)
    finally:
        for d in range(n_slots):
            _free_nfc_scratch(&scratch[d])
        free(scratch)
    offsets_arr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(lengths_arr, out=offsets_arr[1:])
    packed_arr = np.empty(offsets_arr[n_docs], dtype=np.uint8)
    cdef int64_t[::1] offsets = offsets_arr
    cdef uint8_t[::1] packed = packed_arr
    for d in prange(n_docs, nogil=True, schedule="static", num_threads=num_threads):
        if lengths[d] > 0:
            memcpy(&packed[offsets[d]], &wide[3 * starts[d]], lengths[d])
    return packed_arr, offsets_arr, needs_arr


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


# Sorting a document's shingle hashes. They are XXH64 outputs, uniform over
# 64 bits, so a bucket sort on the top bits leaves buckets of a few hashes
# each: linear time where std::sort is n log n. Equal hashes (repeated
# shingles) share a bucket. A bucket that still comes out large (never, for
# hash values) falls back to std::sort, so the worst case stays n log n. Any
# correct sort gives the same array: the output does not depend on the
# method, and the scan's output not on the build.
#
# With AVX-512 (dedup_sort_simd, about 2 ns a hash against 7 to 8 for
# insertion sort; benchmarks/bench_sort.py): buckets of about five hashes
# (bucket of x: (x >> 32) * buckets >> 32, monotone in x) scattered to the
# scratch, then sorted sixteen lanes at a time, several whole buckets at
# once, in registers by a bitonic network: no branch per comparison.
# Without (a portable build, or switched off for the tests:
# sort_simd_for_tests): about one bucket per two hashes, finished by
# insertion sort; std::sort below 64 hashes.

cdef extern from *:
    """
    #include <algorithm>
    #include <string.h>
    #if defined(__AVX512F__)
    #include <immintrin.h>
    #define DEDUP_SORT_SIMD 1
    #else
    #define DEDUP_SORT_SIMD 0
    #endif
    static int dedup_sort_simd_on = DEDUP_SORT_SIMD;

    /* Hashes per bucket, on average (5 to 7 measure alike). */
    #define DEDUP_SORT_PER_BUCKET 5
    #define DEDUP_SORT_WINDOW 16

    /* Words of scratch dedup_sort_simd needs for n > DEDUP_SORT_WINDOW
       hashes: the hashes, the buckets' ends and the bitmap of their
       starts (n + 1 bits and a spare word). */
    static inline int64_t dedup_sort_simd_scratch(int64_t n) {
        return n + (n / DEDUP_SORT_PER_BUCKET + 2) + (n / 64 + 2);
    }

    /* The bucket of x among buckets (<= 2**32), monotone in x. */
    static inline uint64_t ds_bucket(uint64_t x, uint64_t buckets) {
        return ((x >> 32) * buckets) >> 32;
    }

    #if DEDUP_SORT_SIMD
    /* Each lane against the same lane of p: the lanes in hi keep the larger. */
    static inline __m512i ds_cx(__m512i v, __m512i p, __mmask8 hi) {
        return _mm512_mask_max_epu64(_mm512_min_epu64(v, p), hi, v, p);
    }
    #define DS_SWAP1(v) _mm512_shuffle_epi32((v), (_MM_PERM_ENUM)0x4E)     /* lanes 1 0 3 2 5 4 7 6 */
    #define DS_SWAP2(v) _mm512_permutex_epi64((v), 0x4E)                   /* 2 3 0 1 6 7 4 5 */
    #define DS_REV4(v) _mm512_permutex_epi64((v), 0x1B)                    /* 3 2 1 0 7 6 5 4 */
    #define DS_SWAP4(v) _mm512_shuffle_i64x2((v), (v), 0x4E)               /* 4 5 6 7 0 1 2 3 */
    #define DS_REV8(v) _mm512_permutexvar_epi64(_mm512_set_epi64(0, 1, 2, 3, 4, 5, 6, 7), (v))

    /* A bitonic sequence of 8 lanes sorted ascending (half-cleaners). */
    static inline __m512i ds_clean8(__m512i v) {
        v = ds_cx(v, DS_SWAP4(v), 0xF0);
        v = ds_cx(v, DS_SWAP2(v), 0xCC);
        return ds_cx(v, DS_SWAP1(v), 0xAA);
    }

    /* 8 lanes sorted ascending: pairs, then merges of 2 + 2 and 4 + 4, each
       opening by comparing lane i with its mirror image. */
    static inline __m512i ds_sort8(__m512i v) {
        v = ds_cx(v, DS_SWAP1(v), 0xAA);
        v = ds_cx(v, DS_REV4(v), 0xCC);
        v = ds_cx(v, DS_SWAP1(v), 0xAA);
        v = ds_cx(v, DS_REV8(v), 0xF0);
        v = ds_cx(v, DS_SWAP2(v), 0xCC);
        return ds_cx(v, DS_SWAP1(v), 0xAA);
    }

    /* Sort src[:count] (count <= 16) into dst[:count] (the same memory or
       none of it); no other word is read or written. The empty lanes hold
       2**64 - 1, which sorts last: the first count lanes out are src's
       values, a 2**64 - 1 among them included. */
    static inline void ds_sort16(const uint64_t* src, int64_t count, uint64_t* dst) {
        const __m512i top = _mm512_set1_epi64(-1);
        const uint32_t m = (1u << count) - 1u;
        __m512i a = _mm512_mask_loadu_epi64(top, (__mmask8)m, (const void*)src);
        __m512i b = _mm512_mask_loadu_epi64(top, (__mmask8)(m >> 8), (const void*)(src + 8));
        a = ds_sort8(a);
        b = DS_REV8(ds_sort8(b));
        _mm512_mask_storeu_epi64((void*)dst, (__mmask8)m, ds_clean8(_mm512_min_epu64(a, b)));
        _mm512_mask_storeu_epi64((void*)(dst + 8), (__mmask8)(m >> 8), ds_clean8(_mm512_max_epu64(a, b)));
    }

    /* Bits p .. p + 15 of the bitmap (p + 15 < its bits - 64). */
    static inline uint32_t ds_bits16(const uint64_t* bitmap, int64_t p) {
        uint64_t low = bitmap[p >> 6] >> (p & 63);
        uint64_t high = (bitmap[(p >> 6) + 1] << 1) << (63 - (p & 63));  /* 0 when p & 63 is 0 */
        return (uint32_t)((low | high) & 0xFFFF);
    }

    /* Scatter v[:n] to tmp by bucket; bitmap bit p set where a bucket
       starts (p = n included). */
    static inline void ds_scatter(const uint64_t* v, int64_t n, uint64_t* tmp, int64_t* ends, uint64_t* bitmap) {
        const uint64_t buckets = (uint64_t)n / DEDUP_SORT_PER_BUCKET + 1;
        int64_t i;
        uint64_t k;
        memset(ends, 0, (buckets + 1) * sizeof(int64_t));
        memset(bitmap, 0, (n / 64 + 2) * sizeof(uint64_t));
        for (i = 0; i < n; i++)
            ends[ds_bucket(v[i], buckets) + 1]++;
        for (k = 0; k < buckets; k++)
            ends[k + 1] += ends[k];
        for (k = 0; k <= buckets; k++)
            bitmap[ends[k] >> 6] |= (uint64_t)1 << (ends[k] & 63);
        /* ends[k]: where bucket k's next hash goes. */
        for (i = 0; i < n; i++) {
            uint64_t x = v[i];
            tmp[ends[ds_bucket(x, buckets)]++] = x;
        }
    }
    #endif

    /* Sort v[:n] ascending (scratch: dedup_sort_simd_scratch(n) words for
       n > 16, none otherwise); 0 when switched off or built without
       AVX-512: the caller sorts. Every bucket of tmp holds the values of a
       range, the buckets in order, so any run of whole buckets sorted in
       place is in its final place: each step sorts the longest run of
       whole buckets of at most 16 hashes (about 13) from where the last
       ended, found in the bitmap. */
    static inline int dedup_sort_simd(uint64_t* v, int64_t n, uint64_t* scratch) {
    #if DEDUP_SORT_SIMD
        if (!dedup_sort_simd_on)
            return 0;
        if (n <= DEDUP_SORT_WINDOW) {
            ds_sort16(v, n, v);
            return 1;
        }
        uint64_t* tmp = scratch;
        int64_t* ends = (int64_t*)(scratch + n);
        uint64_t* bitmap = scratch + n + (n / DEDUP_SORT_PER_BUCKET + 2);
        int64_t lo = 0, hi;
        uint32_t starts;
        ds_scatter(v, n, tmp, ends, bitmap);
        while (lo < n) {
            starts = ds_bits16(bitmap, lo + 1);  /* the buckets starting in lo + 1 .. lo + 16 */
            if (starts) {
                hi = lo + 1 + (31 - __builtin_clz(starts));
                ds_sort16(tmp + lo, hi - lo, v + lo);
            } else {
                /* One bucket of over 16 hashes (never, for hash values). */
                for (hi = lo + DEDUP_SORT_WINDOW + 1; !((bitmap[hi >> 6] >> (hi & 63)) & 1); hi++) {
                }
                memcpy(v + lo, tmp + lo, (hi - lo) * sizeof(uint64_t));
                std::sort(v + lo, v + hi);
            }
            lo = hi;
        }
        return 1;
    #else
        (void)v; (void)n; (void)scratch;
        return 0;
    #endif
    }
    """
    int _sort_simd_on "dedup_sort_simd_on"
    const int _SORT_SIMD "DEDUP_SORT_SIMD"
    int64_t _sort_simd_scratch "dedup_sort_simd_scratch"(int64_t n) noexcept nogil
    bint _sort_simd "dedup_sort_simd"(uint64_t* v, int64_t n, uint64_t* scratch) noexcept nogil

SORT_SIMD = bool(_SORT_SIMD)


def sort_simd_for_tests(bint on):
    """Sort shingle hashes with the AVX-512 networks (where the build has
    them) or by insertion sort: both must give the same array. Returns
    whether it was on."""
    global _sort_simd_on
    cdef bint was = _sort_simd_on
    _sort_simd_on = on and _SORT_SIMD
    return was


cdef enum:
    _SORT_SMALL = 64
    _BUCKET_MAX = 48
    _SORT_IN_REGISTERS = 16  # sorted without scratch by the networks


cdef inline int _bucket_bits(int64_t n) noexcept nogil:
    """floor(log2(n)) for n >= 1: buckets = 2 ** bits, between n / 2 and n."""
    cdef int bits = 0
    while (<int64_t>2 << bits) <= n:
        bits += 1
    return bits


cdef inline int64_t _sort_scratch(int64_t n) noexcept nogil:
    """Words of scratch :func:`_sort_hashes` needs for ``n`` hashes, by
    either method: the hashes and the buckets' ends (and, for the networks,
    a bitmap)."""
    if n <= _SORT_IN_REGISTERS:
        return 0  # the networks sort in registers; std::sort in place
    return max(n + (<int64_t>1 << _bucket_bits(n)) + 1, _sort_simd_scratch(n))


cdef void _sort_hashes(uint64_t* v, int64_t n, uint64_t* scratch) noexcept nogil:
    """Sort ``v[:n]`` ascending, with ``_sort_scratch(n)`` words of scratch."""
    cdef int bits, shift
    cdef int64_t i, j, k, lo, hi, buckets
    cdef uint64_t x
    cdef uint64_t* tmp
    cdef int64_t* ends
    if _sort_simd(v, n, scratch):
        return
    if n < _SORT_SMALL:
        std_sort(v, v + n)
        return
    bits = _bucket_bits(n)
    shift = 64 - bits
    buckets = <int64_t>1 << bits
    tmp = scratch
    ends = <int64_t*>(scratch + n)
    memset(ends, 0, (buckets + 1) * sizeof(int64_t))
    for i in range(n):
        ends[(v[i] >> shift) + 1] += 1
    for k in range(buckets):
        ends[k + 1] += ends[k]
    # ends[k] is where bucket k's next hash goes; after the scatter it is
    # where bucket k ends (and bucket k + 1 starts).
    for i in range(n):
        x = v[i]
        k = <int64_t>(x >> shift)
        tmp[ends[k]] = x
        ends[k] += 1
    lo = 0
    for k in range(buckets):
        hi = ends[k]
        if hi - lo > _BUCKET_MAX:
            std_sort(tmp + lo, tmp + hi)
        else:
            for i in range(lo + 1, hi):
                x = tmp[i]
                j = i - 1
                while j >= lo and tmp[j] > x:
                    tmp[j + 1] = tmp[j]
                    j -= 1
                tmp[j + 1] = x
        lo = hi
    memcpy(v, tmp, n * sizeof(uint64_t))


def sorted_distinct(values):
    """The sorted distinct values of a 1-D array: ``np.unique(values)``
    computed by a sort. numpy 2.3+ answers a plain ``np.unique`` from a hash
    table and sorts after, 15-100x slower than sorting on 64-bit integers
    (1.8 s against 0.02 s for 1.6M values), where the scan's arrays are
    millions long."""
    ordered = np.sort(values)
    cdef Py_ssize_t n = len(ordered)
    if n < 2:
        return ordered
    # No negative indices: this module compiles with wraparound=False.
    distinct = np.ones(n, dtype=bool)
    np.not_equal(ordered[1:n], ordered[0 : n - 1], out=distinct[1:n])
    return ordered[distinct]


def sort_hashes_for_tests(uint64_t[::1] values):
    """Sort ``values`` in place with the shingle kernels' sort (for tests:
    skewed inputs the hash values never give reach every path)."""
    cdef int64_t n = values.shape[0]
    cdef uint64_t* scratch = <uint64_t*>malloc(max(_sort_scratch(n), 1) * sizeof(uint64_t))
    if scratch == NULL:
        raise MemoryError()
    if n > 0:
        _sort_hashes(&values[0], n, scratch)
    free(scratch)


def sort_runs_for_tests(uint64_t[::1] values, const int64_t[::1] starts):
    """Sort each run ``values[starts[i]:starts[i + 1]]`` in place with the
    shingle kernels' sort, one scratch for all (for the tests and the
    micro-benchmark: no Python call per run). ``starts`` (int64) must cut
    ``values`` into runs, as :func:`check_offsets` checks."""
    cdef Py_ssize_t i, runs = starts.shape[0] - 1
    cdef int64_t longest = 0
    for i in range(runs):
        longest = max(longest, starts[i + 1] - starts[i])
    cdef uint64_t* scratch = <uint64_t*>malloc(max(_sort_scratch(longest), 1) * sizeof(uint64_t))
    if scratch == NULL:
        raise MemoryError()
    with nogil:
        for i in range(runs):
            if starts[i + 1] > starts[i]:
                _sort_hashes(&values[starts[i]], starts[i + 1] - starts[i], scratch)
    free(scratch)


cdef inline void _unit_bounds(const uint8_t* doc, int64_t m, int kind, int64_t units, int64_t* bounds) noexcept nogil:
    """bounds[k] = first byte of unit k (``units + 2`` slots); bounds[units]
    = m + 1 for words (one past the implied trailing space) and m for code
    points. The stores are unconditional (branch-free); a slot is
    overwritten until its unit starts, hence the spare slot."""
    cdef int64_t i, k
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


cdef int64_t _hash_units(
    const uint8_t* doc, int64_t m, int kind, int n, int64_t units, uint64_t tag,
    const int64_t* bounds, uint64_t* out, uint64_t* scratch, bint padded,
) noexcept nogil:
    """Hash the shingles of a document of ``units >= n`` units (bounds as
    :func:`_unit_bounds`) into out (``units - n + 1`` slots), XOR each with
    tag, sort (``_sort_scratch`` words of scratch), dedupe in place; return
    the number of distinct hashes. ``padded``: 32 bytes past ``doc[m]`` are
    readable (see xxh64_padded)."""
    cdef int64_t s, k, count = units - n + 1
    cdef int64_t trail = 1 if kind == 0 else 0
    # A word n-gram ends just before the space that precedes word s + n.
    if padded:
        for s in range(_hash_shingles(doc, bounds, count, n, trail, tag, out), count):
            out[s] = xxh64_padded(doc + bounds[s], bounds[s + n] - bounds[s] - trail) ^ tag
    else:
        for s in range(count):
            out[s] = xxh64(doc + bounds[s], bounds[s + n] - bounds[s] - trail) ^ tag
    _sort_hashes(out, count, scratch)
    k = 1
    for s in range(1, count):
        if out[s] != out[k - 1]:
            out[k] = out[s]
            k += 1
    return k


cdef int64_t _shingle_one(
    const uint8_t* doc, int64_t m, int kind, int n, int64_t units, uint64_t tag, uint64_t* out, Py_ssize_t d
) noexcept nogil:
    """Hash the shingles of document d into out (room for
    ``_shingle_count(units, n)``), XOR each with tag, sort, dedupe in place;
    return the number of distinct hashes, or -1 when out of memory."""
    cdef int64_t count
    cdef int64_t* bounds
    if units == 0:
        return 0
    if units < n:
        out[0] = xxh64(doc, m) ^ tag
        return 1
    count = units - n + 1
    # The bounds, then the sort's scratch.
    bounds = <int64_t*>_alloc((units + 2 + _sort_scratch(count)) * sizeof(int64_t), d, _SITE_BOUNDS)
    if bounds == NULL:
        return -1
    _unit_bounds(doc, m, kind, units, bounds)
    count = _hash_units(doc, m, kind, n, units, tag, bounds, out, <uint64_t*>(bounds + units + 2), False)
    free(bounds)
    return count


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
    cdef int64_t i = 0
    cdef Py_ssize_t k
    cdef uint32_t h, g, e, f, p, q, r, s
    # Four values per pass over the row: a quarter of the loads and stores
    # of it (min is order-free, so the result is the same).
    while i + 4 <= count:
        h = _fmix32(<uint32_t>(values[i] & 0xFFFFFFFFULL))
        g = _fmix32(<uint32_t>(values[i + 1] & 0xFFFFFFFFULL))
        e = _fmix32(<uint32_t>(values[i + 2] & 0xFFFFFFFFULL))
        f = _fmix32(<uint32_t>(values[i + 3] & 0xFFFFFFFFULL))
        # Branch-free uint32 work over contiguous arrays: vectorized.
        for k in range(num_perm):
            p = a[k] * h + b[k]
            q = a[k] * g + b[k]
            r = a[k] * e + b[k]
            s = a[k] * f + b[k]
            p = p if p < q else q
            r = r if r < s else s
            p = p if p < r else r
            row[k] = p if p < row[k] else row[k]
        i += 4
    while i < count:
        h = _fmix32(<uint32_t>(values[i] & 0xFFFFFFFFULL))
        for k in range(num_perm):
            p = a[k] * h + b[k]
            row[k] = p if p < row[k] else row[k]
        i += 1


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
# in one go. Same results as normalize_kernel -> shingle_kernel ->
# signature_kernel (tested). The normalization counts the words and letters
# and writes where each word starts, so the shingling reads the text once
# more only to hash it (and, for the char fallback, to find code points).
#
# Scratch memory is per thread, grown as needed and reused by the thread's
# next documents (a malloc and free of each document's buffers kept glibc's
# per-thread arenas holding freed memory); each thread also appends its
# documents' distinct hashes to its own arena until the prefix sum of the
# counts says where they go.

cdef struct Scratch:
    uint8_t* text
    int64_t* bounds
    uint64_t* hashes
    uint64_t* kept
    int64_t text_cap
    int64_t bounds_cap
    int64_t hashes_cap
    int64_t kept_cap
    int64_t kept_len
    Counts counts
    NfcScratch nfc


cdef bint _reserve(void** buf, int64_t* cap, int64_t need, size_t item, Py_ssize_t d, int site) noexcept nogil:
    """Grow ``buf[0]`` (``cap[0]`` items of ``item`` bytes, contents kept) to
    at least ``need`` items, doubling; False when out of memory (``buf[0]``
    stays valid). Document d's allocation ``site`` fails when the tests say
    so, whether or not the buffer must grow."""
    cdef int64_t want
    cdef void* grown
    if d == _fail_doc and site == _fail_site:
        return False
    if need <= cap[0]:
        return True
    want = need if need > 2 * cap[0] else 2 * cap[0]
    grown = realloc(buf[0], want * item)
    if grown == NULL:
        return False
    buf[0] = grown
    cap[0] = want
    return True


cdef int64_t _sketch_one(
    const uint8_t* s, int64_t length, const Tables* t, int kind, int n,
    const uint32_t* a, const uint32_t* b, Py_ssize_t num_perm, uint32_t* row,
    Scratch* sc, Py_ssize_t d, uint8_t* by_chars,
) noexcept nogil:
    """Sketch document d (``s[:length]``, length > 0): its distinct hashes
    are appended to ``sc.kept``, its signature written to ``row``. Return
    their number, -1 when out of memory, -2 when it needs Python's NFC
    (only without ``t.nfc``)."""
    cdef int64_t m, units, count
    cdef int doc_kind = kind
    cdef uint64_t tag = 0
    cdef Counts* k = &sc.counts
    cdef Tables composed
    # Room for the text (and 32 bytes for xxh64_padded to read past it)
    # and, in a word scan, the start of every word.
    if not _reserve(<void**>&sc.text, &sc.text_cap, 3 * length + 32, 1, d, _SITE_TEXT):
        return -1
    if not _reserve(<void**>&sc.bounds, &sc.bounds_cap, length // 2 + 3, sizeof(int64_t), d, _SITE_BOUNDS):
        return -1
    m = _normalize_counted(s, length, t, sc.text, sc.bounds if kind == 0 else NULL, k)
    if m < 0:
        if t.nfc == NULL:
            return -2
        # Not NFC-stable: compose here, then normalize the composed text.
        length = _nfc(s, length, t.nfc, &sc.nfc, d)
        if length < 0:
            return -1
        if not _reserve(<void**>&sc.text, &sc.text_cap, 3 * length + 32, 1, d, _SITE_TEXT):
            return -1
        if not _reserve(<void**>&sc.bounds, &sc.bounds_cap, length // 2 + 3, sizeof(int64_t), d, _SITE_BOUNDS):
            return -1
        composed = t[0]
        composed.check_nfc = False
        m = _normalize_counted(sc.nfc.text, length, &composed, sc.text, sc.bounds if kind == 0 else NULL, k)
    if kind == 0 and 2 * k.unspaced > k.letters:
        # Mostly a script written without spaces: shingled by code points.
        doc_kind = 1
        tag = CHAR_FALLBACK_TAG
        by_chars[0] = 1
    units = k.words if doc_kind == 0 else (k.letters + k.words - 1 if k.words > 0 else 0)
    count = _shingle_count(units, n)
    if count == 0:
        return 0
    if not _reserve(<void**>&sc.hashes, &sc.hashes_cap, count, sizeof(uint64_t), d, _SITE_HASHES):
        return -1
    if units < n:
        sc.hashes[0] = xxh64(sc.text, m) ^ tag
    else:
        if not _reserve(<void**>&sc.bounds, &sc.bounds_cap, units + 2 + _sort_scratch(count), sizeof(int64_t), d, _SITE_BOUNDS):
            return -1
        if doc_kind == 0:
            sc.bounds[units] = m + 1  # the starts of words 0 .. units - 1 are written
        else:
            _unit_bounds(sc.text, m, 1, units, sc.bounds)
        count = _hash_units(
            sc.text, m, doc_kind, n, units, tag, sc.bounds, sc.hashes, <uint64_t*>(sc.bounds + units + 2), True
        )
    _minhash_row(sc.hashes, count, a, b, num_perm, row)
    if not _reserve(<void**>&sc.kept, &sc.kept_cap, sc.kept_len + count, sizeof(uint64_t), d, _SITE_HASHES):
        return -1
    memcpy(sc.kept + sc.kept_len, sc.hashes, count * sizeof(uint64_t))
    sc.kept_len += count
    return count


def sketch_kernel(
    const uint8_t[::1] text,
    const int64_t[::1] starts,
    const uint32_t[::1] case,
    const uint32_t[::1] accent,
    const uint8_t[::1] stable,
    const uint32_t[::1] nfc,
    bint fold_accents,
    bint check_nfc,
    const uint32_t[:, ::1] tones,
    int kind,
    int n,
    const uint32_t[::1] a,
    const uint32_t[::1] b,
    int num_threads,
):
    """``(values, value_starts, signatures, by_chars, needs_nfc)`` for a
    batch of UTF-8 texts; by_chars (uint8) flags the documents of a word
    scan shingled by code points (the fallback). With check_nfc, documents
    that are not NFC-stable are composed here by the packed table ``nfc``
    (dedup._unicode.nfc_table); when ``nfc`` is empty they are left empty
    instead, flagged in needs_nfc (uint8) for Python's NFC."""
    cdef Py_ssize_t n_docs = starts.shape[0] - 1
    cdef Py_ssize_t num_perm = a.shape[0]
    cdef Py_ssize_t d
    cdef int n_slots = num_threads if num_threads > 1 else 1
    cdef int64_t got
    cdef Scratch* sc
    cdef const uint8_t* base = &text[0] if text.shape[0] > 0 else NULL
    cdef uint16_t fold[_FOLD_SPAN + 1]
    cdef Tables t = _tables(case, accent, stable, tones, fold_accents, check_nfc, fold)
    cdef Nfc u
    if nfc.shape[0] > 0:
        u = _nfc_tables(nfc)
        t.nfc = &u
    signatures_arr = np.full((n_docs, num_perm), 0xFFFFFFFF, dtype=np.uint32)
    counts_arr = np.zeros(n_docs, dtype=np.int64)
    owner_arr = np.zeros(n_docs, dtype=np.int32)
    at_arr = np.zeros(n_docs, dtype=np.int64)
    by_chars_arr = np.zeros(n_docs, dtype=np.uint8)
    status_arr = np.zeros(n_docs, dtype=np.uint8)
    needs_arr = np.zeros(n_docs, dtype=np.uint8)
    cdef uint32_t[:, ::1] signatures = signatures_arr
    cdef int64_t[::1] counts = counts_arr
    cdef int[::1] owner = owner_arr
    cdef int64_t[::1] at = at_arr
    cdef uint8_t[::1] by_chars = by_chars_arr
    cdef uint8_t[::1] status = status_arr
    cdef uint8_t[::1] needs = needs_arr
    cdef Scratch* scratch = <Scratch*>calloc(n_slots, sizeof(Scratch))
    if scratch == NULL:
        raise MemoryError()
    try:
        for d in prange(n_docs, nogil=True, schedule="dynamic", chunksize=8, num_threads=num_threads):
            if starts[d + 1] == starts[d]:
                continue
            owner[d] = threadid()
            sc = &scratch[owner[d]]
            at[d] = sc.kept_len
            got = _sketch_one(
                base + starts[d], starts[d + 1] - starts[d], &t, kind, n,
                &a[0], &b[0], num_perm, &signatures[d, 0], sc, d, &by_chars[d],
            )
            if got == -1:
                status[d] = 1
            elif got == -2:
                needs[d] = 1
            else:
                counts[d] = got
        _raise_if_failed(status_arr)
        value_starts_arr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(counts_arr, out=value_starts_arr[1:])
        values_arr = np.empty(value_starts_arr[n_docs], dtype=np.uint64)
        values_arr = _collect(scratch, owner, at, counts, value_starts_arr, values_arr, num_threads)
        return values_arr, value_starts_arr, signatures_arr, by_chars_arr, needs_arr
    finally:
        for d in range(n_slots):
            free(scratch[d].text)
            free(scratch[d].bounds)
            free(scratch[d].hashes)
            free(scratch[d].kept)
            _free_nfc_scratch(&scratch[d].nfc)
        free(scratch)


cdef object _collect(
    const Scratch* scratch, const int[::1] owner, const int64_t[::1] at, const int64_t[::1] counts,
    const int64_t[::1] value_starts, values_arr, int num_threads,
):
    cdef uint64_t[::1] values = values_arr
    cdef Py_ssize_t d, n_docs = counts.shape[0]
    for d in prange(n_docs, nogil=True, schedule="static", num_threads=num_threads):
        if counts[d] > 0:
            memcpy(&values[value_starts[d]], scratch[owner[d]].kept + at[d], counts[d] * sizeof(uint64_t))
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


# --------------------------------------------------------------------------
# JSONL lines, parsed in compiled code. The fast path takes a line only when
# it is sure of the result Python's parsers give: a JSON object with keys
# written without escapes, the text field once and a string, the id field at
# most once, every string strictly valid UTF-8 without lone surrogates,
# nesting at most 64 deep. Every other line (and "-0" as an id, which Python
# reads as the integer 0) is left to the Python reader: it decides the
# skip or the document, so both paths give the same result.

cdef enum:
    _LINE_BLANK = 0
    _LINE_OK = 1
    _LINE_PYTHON = 2
    _LINE_EMPTY = 3

cdef enum:
    _ID_NONE = 0
    _ID_PLAIN = 1
    _ID_ESCAPED = 2
    _ID_TOKEN = 3

LINE_BLANK = _LINE_BLANK
LINE_OK = _LINE_OK
LINE_PYTHON = _LINE_PYTHON
LINE_EMPTY = _LINE_EMPTY
ID_NONE = _ID_NONE
ID_PLAIN = _ID_PLAIN
ID_ESCAPED = _ID_ESCAPED
ID_TOKEN = _ID_TOKEN

cdef int _MAX_DEPTH = 64


cdef inline bint _json_ws(uint8_t c) noexcept nogil:
    return c == 0x20 or c == 0x09 or c == 0x0A or c == 0x0D


cdef inline int64_t _skip_ws(const uint8_t* p, int64_t i, int64_t m) noexcept nogil:
    while i < m and _json_ws(p[i]):
        i += 1
    return i


cdef inline bint _cont(uint8_t c) noexcept nogil:
    return (c & 0xC0) == 0x80


cdef inline int _strict_utf8(const uint8_t* p, int64_t i, int64_t m) noexcept nogil:
    """Length of the strictly valid (no overlong form, no surrogate, at most
    U+10FFFF) multi-byte UTF-8 sequence at ``p[i]``, or 0."""
    cdef uint8_t c = p[i]
    if 0xC2 <= c <= 0xDF:
        return 2 if i + 1 < m and _cont(p[i + 1]) else 0
    if 0xE0 <= c <= 0xEF:
        if i + 2 >= m or not _cont(p[i + 1]) or not _cont(p[i + 2]):
            return 0
        if (c == 0xE0 and p[i + 1] < 0xA0) or (c == 0xED and p[i + 1] >= 0xA0):
            return 0
        return 3
    if 0xF0 <= c <= 0xF4:
        if i + 3 >= m or not _cont(p[i + 1]) or not _cont(p[i + 2]) or not _cont(p[i + 3]):
            return 0
        if (c == 0xF0 and p[i + 1] < 0x90) or (c == 0xF4 and p[i + 1] >= 0x90):
            return 0
        return 4
    return 0


cdef inline int64_t _hex4(const uint8_t* p, int64_t i, int64_t m) noexcept nogil:
    """The value of the 4 hex digits at ``p[i]``, or -1."""
    cdef int64_t v = 0
    cdef int k
    cdef uint8_t c
    if i + 4 > m:
        return -1
    for k in range(4):
        c = p[i + k]
        if 0x30 <= c <= 0x39:
            v = v * 16 + (c - 0x30)
        elif 0x61 <= (c | 0x20) <= 0x66:
            v = v * 16 + ((c | 0x20) - 0x61 + 10)
        else:
            return -1
    return v


cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* How many of the 8 bytes at p lead as plain JSON string bytes (printable
       ASCII other than '"' and '\\\\'): 8 when all do. Per byte, the high bit
       of mask flags a byte >= 0x80, < 0x20, '"' or '\\\\'; a borrow only runs
       from a flagged byte to the ones after it, so the first flag is exact. */
    static inline int dedup_jsonl_plain8(const unsigned char* p) {
        const uint64_t ones = 0x0101010101010101ULL;
        uint64_t x, quote, slash, mask;
        memcpy(&x, p, 8);
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        x = __builtin_bswap64(x);  /* the first byte lowest: borrows run upward */
    #endif
        quote = x ^ (ones * 0x22);
        slash = x ^ (ones * 0x5C);
        mask = (x | ((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) | ((slash - ones) & ~slash))
               & (ones * 0x80);
        return mask ? (int)(__builtin_ctzll(mask) >> 3) : 8;
    }
    """
    int _plain8 "dedup_jsonl_plain8"(const uint8_t* p) noexcept nogil


# Strict UTF-8 by lead byte: the sequence's length (0: no sequence starts
# with this byte) and the range of its second byte (the rest are 80-BF); the
# ranges leave out overlong forms, surrogates and code points past U+10FFFF.
cdef uint8_t _U8_LEN[256]
cdef uint8_t _U8_LO[256]
cdef uint8_t _U8_HI[256]


cdef void _utf8_tables() noexcept:
    cdef int c
    for c in range(256):
        _U8_LEN[c] = 2 if 0xC2 <= c <= 0xDF else 3 if 0xE0 <= c <= 0xEF else 4 if 0xF0 <= c <= 0xF4 else 0
        _U8_LO[c] = 0x80
        _U8_HI[c] = 0xBF
    _U8_LO[0xE0] = 0xA0
    _U8_HI[0xED] = 0x9F
    _U8_LO[0xF0] = 0x90
    _U8_HI[0xF4] = 0x8F


_utf8_tables()


cdef extern from *:
    """
    #if defined(__SSSE3__)
    #include <tmmintrin.h>
    #define DEDUP_JSONL_SIMD 1
    #else
    #define DEDUP_JSONL_SIMD 0
    #endif
    static int dedup_jsonl_simd_on = DEDUP_JSONL_SIMD;

    #if DEDUP_JSONL_SIMD
    /* The plain run of a JSON string at p[i], 16 bytes at a time: up to the
       first '"', '\\\\' or control byte, checked to be strictly valid UTF-8
       (the lookup algorithm of Keiser and Lemire, "Validating UTF-8 in less
       than one instruction per byte", 2021), copied to out + *pos (when out is
       not NULL) and its code points added to *chars. Returns the index of that
       byte, or where fewer than 16 bytes are left (at the start of a UTF-8
       sequence: the caller goes on byte by byte), or -1 for invalid UTF-8.
       The run must start after an ASCII byte (a quote or an escape). */
    static inline int64_t dedup_jsonl_run(const uint8_t* p, int64_t i, int64_t m, uint8_t* out,
                                          int64_t* pos, int64_t* chars) {
        static const uint8_t keep[32] = {
            255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        /* Bits of an error between two bytes (first, second), as named there. */
        enum { SHORT = 1, LONG = 2, OVER3 = 4, LARGE = 8, SURR = 16, OVER2 = 32, LARGE1000 = 64,
               OVER4 = 64, TWOCONT = 128, CARRY = SHORT | LONG | TWOCONT };
        const __m128i first_high = _mm_setr_epi8(
            LONG, LONG, LONG, LONG, LONG, LONG, LONG, LONG, TWOCONT, TWOCONT, TWOCONT, TWOCONT,
            SHORT | OVER2, SHORT, SHORT | OVER3 | SURR, SHORT | LARGE | LARGE1000 | OVER4);
        const __m128i first_low = _mm_setr_epi8(
            CARRY | OVER3 | OVER2 | OVER4, CARRY | OVER2, CARRY, CARRY, CARRY | LARGE,
            CARRY | LARGE | LARGE1000, CARRY | LARGE | LARGE1000, CARRY | LARGE | LARGE1000,
            CARRY | LARGE | LARGE1000, CARRY | LARGE | LARGE1000, CARRY | LARGE | LARGE1000,
            CARRY | LARGE | LARGE1000, CARRY | LARGE | LARGE1000, CARRY | LARGE | LARGE1000 | SURR,
            CARRY | LARGE | LARGE1000, CARRY | LARGE | LARGE1000);
        const __m128i second_high = _mm_setr_epi8(
            SHORT, SHORT, SHORT, SHORT, SHORT, SHORT, SHORT, SHORT,
            LONG | OVER2 | TWOCONT | OVER3 | LARGE1000 | OVER4, LONG | OVER2 | TWOCONT | OVER3 | LARGE,
            LONG | OVER2 | TWOCONT | SURR | LARGE, LONG | OVER2 | TWOCONT | SURR | LARGE,
            SHORT, SHORT, SHORT, SHORT);
        const __m128i nibble = _mm_set1_epi8(0x0F);
        const __m128i quote = _mm_set1_epi8(0x22), slash = _mm_set1_epi8(0x5C), space = _mm_set1_epi8(0x1F);
        const __m128i cont_top = _mm_set1_epi8((char)0xC0);
        __m128i prev = _mm_setzero_si128(), error = _mm_setzero_si128();
        int64_t at = *pos, count = *chars, start = i;
        int stop = 0, t, lead;
        while (i + 16 <= m) {
            __m128i x = _mm_loadu_si128((const __m128i*)(p + i));
            __m128i ends = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, slash)),
                                        _mm_cmpeq_epi8(_mm_min_epu8(x, space), x));
            stop = _mm_movemask_epi8(ends);
            t = stop ? __builtin_ctz(stop) : 16;
            if (out != NULL) _mm_storeu_si128((__m128i*)(out + at), x);
            /* From the stop on, zeros: ASCII, so a sequence cut by the stop is an error. */
            x = _mm_and_si128(x, _mm_loadu_si128((const __m128i*)(keep + 16 - t)));
            __m128i prev1 = _mm_alignr_epi8(x, prev, 15);
            __m128i special = _mm_and_si128(
                _mm_and_si128(_mm_shuffle_epi8(first_high, _mm_and_si128(_mm_srli_epi16(prev1, 4), nibble)),
                              _mm_shuffle_epi8(first_low, _mm_and_si128(prev1, nibble))),
                _mm_shuffle_epi8(second_high, _mm_and_si128(_mm_srli_epi16(x, 4), nibble)));
            __m128i third = _mm_subs_epu8(_mm_alignr_epi8(x, prev, 14), _mm_set1_epi8(0xE0 - 0x80));
            __m128i fourth = _mm_subs_epu8(_mm_alignr_epi8(x, prev, 13), _mm_set1_epi8(0xF0 - 0x80));
            __m128i must = _mm_and_si128(_mm_or_si128(third, fourth), _mm_set1_epi8((char)0x80));
            error = _mm_or_si128(error, _mm_xor_si128(must, special));
            /* Code points: the bytes that are not continuation bytes (80-BF, below C0 signed). */
            count += t - __builtin_popcount(_mm_movemask_epi8(_mm_cmplt_epi8(x, cont_top)) & ((1 << t) - 1));
            i += t;
            at += t;
            if (stop) break;
            prev = x;
        }
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(error, _mm_setzero_si128())) != 0xFFFF) return -1;
        if (!stop && i > start) {
            /* Stopped for the end of the line: back to the start of a
               sequence the last chunk may have cut (checked again after). */
            for (t = 1; t <= 3 && i - t >= 0 && (p[i - t] & 0xC0) == 0x80; t++) {}
            if (t <= 3 && i - t >= 0 && p[i - t] >= 0xC0) {
                lead = p[i - t] >= 0xF0 ? 4 : p[i - t] >= 0xE0 ? 3 : 2;
                if (lead > t) {
                    i -= t;
                    at -= t;
                    count -= 1;
                }
            }
        }
        *pos = at;
        *chars = count;
        return i;
    }
    #else
    static inline int64_t dedup_jsonl_run(const uint8_t* p, int64_t i, int64_t m, uint8_t* out,
                                          int64_t* pos, int64_t* chars) {
        (void)p; (void)m; (void)out; (void)pos; (void)chars;
        return i;
    }
    #endif
    """
    int _jsonl_simd_on "dedup_jsonl_simd_on"
    const int _JSONL_SIMD "DEDUP_JSONL_SIMD"
    int64_t _simd_run "dedup_jsonl_run"(
        const uint8_t* p, int64_t i, int64_t m, uint8_t* out, int64_t* pos, int64_t* chars
    ) noexcept nogil


def jsonl_simd_for_tests(bint on):
    """Turn the 16-byte string scan of the JSONL parser on (where the CPU
    has it) or off (byte by byte only): both must give the same results.
    Returns whether it was on."""
    global _jsonl_simd_on
    cdef bint was = _jsonl_simd_on
    _jsonl_simd_on = on and _JSONL_SIMD
    return was


cdef inline int64_t _string(
    const uint8_t* p, int64_t i, int64_t m, uint8_t* out, int64_t* out_len, int64_t* chars, bint* escaped
) noexcept nogil:
    """Check the JSON string whose first byte (after the quote) is ``p[i]``;
    with ``out`` (room for ``m - i`` bytes: it may write past the value, never
    past that), write its value there as UTF-8, its byte length to
    ``out_len`` and its length in code points to ``chars``. Return the index
    after the closing quote, or -1."""
    cdef int64_t pos = 0, count = 0, v, w
    cdef int k, j
    cdef uint8_t c, e, c1, c2, c3
    escaped[0] = False
    while True:
        if _jsonl_simd_on:
            i = _simd_run(p, i, m, out, &pos, &count)
            if i < 0:
                return -1
        # Runs of plain ASCII, 8 bytes at a time (copied whole: the bytes
        # past the run are overwritten next).
        while i + 8 <= m:
            k = _plain8(p + i)
            if out != NULL:
                memcpy(out + pos, p + i, 8)
            i += k
            pos += k
            count += k
            if k < 8:
                break
        if i >= m:
            return -1
        c = p[i]
        if c >= 0x80:
            k = _U8_LEN[c]
            if i + 4 <= m:
                # Checked without a branch on the length: Vietnamese mixes
                # 2- and 3-byte sequences unpredictably.
                c1, c2, c3 = p[i + 1], p[i + 2], p[i + 3]
                if (
                    (k == 0) | (c1 < _U8_LO[c]) | (c1 > _U8_HI[c])
                    | ((k >= 3) & ((c2 & 0xC0) != 0x80)) | ((k == 4) & ((c3 & 0xC0) != 0x80))
                ):
                    return -1
                if out != NULL:
                    memcpy(out + pos, p + i, 4)
            else:
                if k == 0 or i + k > m or p[i + 1] < _U8_LO[c] or p[i + 1] > _U8_HI[c]:
                    return -1
                if k >= 3 and not _cont(p[i + 2]):
                    return -1
                if k == 4 and not _cont(p[i + 3]):
                    return -1
                if out != NULL:
                    for j in range(k):
                        out[pos + j] = p[i + j]
            i += k
            pos += k
            count += 1
            continue
        if c == 0x22:
            out_len[0] = pos
            chars[0] = count
            return i + 1
        if c == 0x5C:
            escaped[0] = True
            if i + 1 >= m:
                return -1
            e = p[i + 1]
            count += 1
            if e == 0x75:  # \uXXXX, a surrogate pair as two of them
                v = _hex4(p, i + 2, m)
                if v < 0 or 0xDC00 <= v < 0xE000:
                    return -1
                i += 6
                if 0xD800 <= v < 0xDC00:
                    if i + 1 >= m or p[i] != 0x5C or p[i + 1] != 0x75:
                        return -1
                    w = _hex4(p, i + 2, m)
                    if not 0xDC00 <= w < 0xE000:
                        return -1
                    i += 6
                    v = 0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00)
                if out != NULL:
                    pos = _utf8(<uint32_t>v, out, pos)
                continue
            if e == 0x22 or e == 0x5C or e == 0x2F:
                c = e
            elif e == 0x62:
                c = 0x08
            elif e == 0x66:
                c = 0x0C
            elif e == 0x6E:
                c = 0x0A
            elif e == 0x72:
                c = 0x0D
            elif e == 0x74:
                c = 0x09
            else:
                return -1
            if out != NULL:
                out[pos] = c
            pos += 1
            i += 2
            continue
        if c < 0x20:
            return -1
        # Plain ASCII within 8 bytes of the line's end.
        if out != NULL:
            out[pos] = c
        pos += 1
        count += 1
        i += 1


cdef inline int64_t _digits(const uint8_t* p, int64_t i, int64_t m) noexcept nogil:
    """The index after a run of at least one digit at ``p[i]``, or -1."""
    cdef int64_t start = i
    while i < m and 0x30 <= p[i] <= 0x39:
        i += 1
    return i if i > start else -1


cdef int64_t _number(const uint8_t* p, int64_t i, int64_t m) noexcept nogil:
    """The index after the JSON number at ``p[i]``, or -1."""
    if p[i] == 0x2D:
        i += 1
    if i >= m:
        return -1
    if p[i] == 0x30:
        i += 1
    else:
        i = _digits(p, i, m)
        if i < 0:
            return -1
    if i < m and p[i] == 0x2E:
        i = _digits(p, i + 1, m)
        if i < 0:
            return -1
    if i < m and (p[i] == 0x65 or p[i] == 0x45):
        i += 1
        if i < m and (p[i] == 0x2B or p[i] == 0x2D):
            i += 1
        i = _digits(p, i, m)
    return i


cdef inline int64_t _literal(const uint8_t* p, int64_t i, int64_t m, const char* word, int64_t k) noexcept nogil:
    cdef int64_t j
    if i + k > m:
        return -1
    for j in range(k):
        if p[i + j] != <uint8_t>word[j]:
            return -1
    return i + k


cdef int64_t _value(const uint8_t* p, int64_t i, int64_t m, int depth) noexcept nogil:
    """Check the JSON value at ``p[i]``; return the index after it, or -1."""
    cdef int64_t length, chars
    cdef bint escaped
    cdef uint8_t c, close
    if i >= m:
        return -1
    c = p[i]
    if c == 0x22:
        return _string(p, i + 1, m, NULL, &length, &chars, &escaped)
    if c == 0x2D or 0x30 <= c <= 0x39:
        return _number(p, i, m)
    if c == 0x74:
        return _literal(p, i, m, b"true", 4)
    if c == 0x66:
        return _literal(p, i, m, b"false", 5)
    if c == 0x6E:
        return _literal(p, i, m, b"null", 4)
    if c != 0x7B and c != 0x5B:
        return -1
    if depth >= _MAX_DEPTH:
        return -1
    close = 0x7D if c == 0x7B else 0x5D
    i = _skip_ws(p, i + 1, m)
    if i < m and p[i] == close:
        return i + 1
    while True:
        if c == 0x7B:
            if i >= m or p[i] != 0x22:
                return -1
            i = _string(p, i + 1, m, NULL, &length, &chars, &escaped)
            if i < 0:
                return -1
            i = _skip_ws(p, i, m)
            if i >= m or p[i] != 0x3A:
                return -1
            i = _skip_ws(p, i + 1, m)
        i = _value(p, i, m, depth + 1)
        if i < 0:
            return -1
        i = _skip_ws(p, i, m)
        if i < m and p[i] == 0x2C:
            i = _skip_ws(p, i + 1, m)
            continue
        if i < m and p[i] == close:
            return i + 1
        return -1


cdef inline bint _py_space(uint32_t c) noexcept nogil:
    """Python's str.isspace of one code point (tested on all of them)."""
    if c < 0x80:
        return c == 0x20 or 0x09 <= c <= 0x0D or 0x1C <= c <= 0x1F
    return (
        c == 0x85 or c == 0xA0 or c == 0x1680 or 0x2000 <= c <= 0x200A
        or c == 0x2028 or c == 0x2029 or c == 0x202F or c == 0x205F or c == 0x3000
    )


cdef bint _blank_text(const uint8_t* s, int64_t m) noexcept nogil:
    """Whether valid UTF-8 ``s`` is only whitespace (Python's str.strip)."""
    cdef int64_t i = 0
    cdef uint32_t c
    while i < m:
        c = s[i]
        if c < 0x80:
            i += 1
        else:
            c = _next_cp(s, m, &i)
        if not _py_space(c):
            return False
    return True


cdef inline bint _same(const uint8_t* p, int64_t lo, int64_t hi, const uint8_t* key, int64_t k) noexcept nogil:
    return hi - lo == k and (k == 0 or memcmp(p + lo, key, k) == 0)


cdef int _jsonl_line(
    const uint8_t* p, int64_t m, const uint8_t* tkey, int64_t tk, const uint8_t* ikey, int64_t ik,
    uint8_t* out, int64_t* text_len, int64_t* chars, uint8_t* id_kind, int64_t* id_lo, int64_t* id_hi,
) noexcept nogil:
    """Parse one line (without its newline), its text's value to ``out``
    (room for ``m`` bytes); return a ``_LINE_*`` status."""
    cdef int64_t i, ks, ke, vs, j, length
    cdef bint escaped, is_text, is_id, seen_text = False, seen_id = False
    cdef uint8_t c
    i = 0
    while i < m and (p[i] == 0x20 or 0x09 <= p[i] <= 0x0D):  # bytes.strip()
        i += 1
    if i == m:
        return _LINE_BLANK
    id_kind[0] = _ID_NONE
    text_len[0] = 0
    chars[0] = 0
    i = _skip_ws(p, 0, m)
    if i >= m or p[i] != 0x7B:
        return _LINE_PYTHON
    i = _skip_ws(p, i + 1, m)
    while True:
        if i >= m or p[i] != 0x22:
            return _LINE_PYTHON
        ks = i + 1
        i = _string(p, ks, m, NULL, &length, &length, &escaped)
        if i < 0 or escaped:
            return _LINE_PYTHON
        ke = i - 1
        i = _skip_ws(p, i, m)
        if i >= m or p[i] != 0x3A:
            return _LINE_PYTHON
        i = _skip_ws(p, i + 1, m)
        is_text = _same(p, ks, ke, tkey, tk)
        is_id = _same(p, ks, ke, ikey, ik)
        vs = i
        if is_text:
            if seen_text or i >= m or p[i] != 0x22:
                return _LINE_PYTHON
            seen_text = True
            i = _string(p, i + 1, m, out, text_len, chars, &escaped)
        else:
            i = _value(p, i, m, 1)
        if i < 0:
            return _LINE_PYTHON
        if is_id:
            if seen_id:
                return _LINE_PYTHON
            seen_id = True
            c = p[vs]
            if c == 0x22:
                if i - vs > 2:
                    id_kind[0] = _ID_PLAIN
                    id_lo[0] = vs + 1
                    id_hi[0] = i - 1
                    for j in range(vs + 1, i - 1):
                        if p[j] == 0x5C:
                            id_kind[0] = _ID_ESCAPED
                            id_lo[0] = vs
                            id_hi[0] = i
                            break
            elif c == 0x2D or 0x30 <= c <= 0x39 or c == 0x74 or c == 0x66:
                if i - vs == 2 and c == 0x2D and p[vs + 1] == 0x30:
                    return _LINE_PYTHON  # -0: Python's integer 0
                id_kind[0] = _ID_TOKEN
                id_lo[0] = vs
                id_hi[0] = i
        i = _skip_ws(p, i, m)
        if i < m and p[i] == 0x2C:
            i = _skip_ws(p, i + 1, m)
            continue
        if i < m and p[i] == 0x7D:
            i = _skip_ws(p, i + 1, m)
            break
        return _LINE_PYTHON
    if i != m or not seen_text:
        return _LINE_PYTHON
    if _blank_text(out, text_len[0]):
        text_len[0] = 0
        return _LINE_EMPTY
    return _LINE_OK


cdef extern from "<string.h>" nogil:
    const void* _jsonl_memchr "memchr"(const void* s, int c, size_t n)
    void* _jsonl_memmove "memmove"(void* dest, const void* src, size_t n)


cdef Py_ssize_t _split_lines(const uint8_t* p, int64_t size, int64_t* lo, int64_t* hi) noexcept nogil:
    """The lines of ``p[:size]``: one ending at each "\\n" (which is not part
    of it) and one more for the bytes after the last, if any. With ``lo``
    NULL only count them; else write their spans. Return how many."""
    cdef Py_ssize_t n = 0
    cdef int64_t i = 0, nl
    cdef const void* hit
    while i < size:
        hit = _jsonl_memchr(p + i, 10, <size_t>(size - i))
        nl = size if hit == NULL else <int64_t>(<const uint8_t*>hit - p)
        if lo != NULL:
            lo[n] = i
            hi[n] = nl
        n += 1
        i = nl + 1
    return n


cdef void _parse_lines(
    const uint8_t* p, Py_ssize_t first, Py_ssize_t last, const int64_t* lo, const int64_t* hi,
    const uint8_t* tkey, int64_t tk, const uint8_t* ikey, int64_t ik, uint8_t* out,
    uint8_t* status, int64_t* text_len, int64_t* chars, uint8_t* kind, int64_t* id_lo, int64_t* id_hi,
) noexcept nogil:
    """Parse lines ``first`` to ``last - 1``, their texts back to back in
    ``out`` from ``out[lo[first]]`` on (a text is never longer than its line,
    so each is written before where its line starts)."""
    cdef Py_ssize_t k
    cdef int64_t at = lo[first] if first < last else 0
    for k in range(first, last):
        status[k] = _jsonl_line(
            p + lo[k], hi[k] - lo[k], tkey, tk, ikey, ik, out + at, &text_len[k], &chars[k], &kind[k], &id_lo[k], &id_hi[k]
        )
        if status[k] == _LINE_OK:
            id_lo[k] += lo[k]
            id_hi[k] += lo[k]
            at += text_len[k]
        else:
            text_len[k] = 0
            chars[k] = 0


def jsonl_kernel(
    const uint8_t[::1] data,
    int64_t size,
    const uint8_t[::1] text_key,
    const uint8_t[::1] id_key,
    int num_threads,
):
    """Split ``data[:size]`` into lines (:func:`_split_lines`: at each "\\n")
    and parse them: ``(line_lo, line_hi, status, text, text_offsets, lengths,
    id_kind, id_lo, id_hi, ids)``, one entry per line (text_offsets: one
    more; text and ids: bytes).

    Line k is ``data[line_lo[k]:line_hi[k]]`` (int64); status (uint8) is a
    ``LINE_*``; text (uint8) the UTF-8 texts of the ``LINE_OK`` lines back
    to back, line k owning ``text[text_offsets[k]:text_offsets[k + 1]]``
    (empty for other lines); lengths (int64) their code points; id_kind
    (uint8) an ``ID_*`` and ``data[id_lo:id_hi]`` the id as written
    (``ID_PLAIN``: the string's bytes, ``ID_ESCAPED``: the string with its
    quotes, ``ID_TOKEN``: a number, true or false); ids (uint8) the
    ``ID_PLAIN`` and ``ID_TOKEN`` ids of the ``LINE_OK`` lines (:func:`_id_bytes`).
    ``size`` must be within ``data``."""
    cdef const uint8_t* base = &data[0] if data.shape[0] > 0 else NULL
    cdef const uint8_t* tkey = &text_key[0] if text_key.shape[0] > 0 else NULL
    cdef const uint8_t* ikey = &id_key[0] if id_key.shape[0] > 0 else NULL
    cdef int64_t tk = text_key.shape[0], ik = id_key.shape[0]
    cdef Py_ssize_t n, k, g, groups
    with nogil:
        n = _split_lines(base, size, NULL, NULL)
    lo_arr = np.empty(n, dtype=np.int64)
    hi_arr = np.empty(n, dtype=np.int64)
    status_arr = np.zeros(n, dtype=np.uint8)
    kind_arr = np.zeros(n, dtype=np.uint8)
    id_lo_arr = np.zeros(n, dtype=np.int64)
    id_hi_arr = np.zeros(n, dtype=np.int64)
    text_len_arr = np.zeros(n, dtype=np.int64)
    lengths_arr = np.zeros(n, dtype=np.int64)
    out_arr = np.empty(max(size, 1), dtype=np.uint8)
    # Thread t parses a run of whole lines from about byte t * size / groups
    # on, its texts packed from where its first line starts; the runs are
    # moved together after.
    groups = max(1, min(num_threads, n // 64))
    firsts_arr = np.empty(groups + 1, dtype=np.int64)
    cdef int64_t[::1] lo = lo_arr
    cdef int64_t[::1] hi = hi_arr
    cdef uint8_t[::1] status = status_arr
    cdef uint8_t[::1] kind = kind_arr
    cdef int64_t[::1] id_lo = id_lo_arr
    cdef int64_t[::1] id_hi = id_hi_arr
    cdef int64_t[::1] text_len = text_len_arr
    cdef int64_t[::1] lengths = lengths_arr
    cdef uint8_t[::1] out = out_arr
    cdef int64_t[::1] firsts = firsts_arr
    cdef int64_t* lo_p = &lo[0] if n > 0 else NULL
    cdef int64_t* hi_p = &hi[0] if n > 0 else NULL
    with nogil:
        _split_lines(base, size, lo_p, hi_p)
        k = 0
        for g in range(groups):
            while k < n and lo[k] < size * g // groups:
                k += 1
            firsts[g] = k
        firsts[groups] = n
    if n > 0 and groups == 1:
        with nogil:
            _parse_lines(
                base, 0, n, lo_p, hi_p, tkey, tk, ikey, ik, &out[0],
                &status[0], &text_len[0], &lengths[0], &kind[0], &id_lo[0], &id_hi[0],
            )
    elif n > 0:
        for g in prange(groups, nogil=True, schedule="static", chunksize=1, num_threads=groups):
            _parse_lines(
                base, firsts[g], firsts[g + 1], lo_p, hi_p, tkey, tk, ikey, ik, &out[0],
                &status[0], &text_len[0], &lengths[0], &kind[0], &id_lo[0], &id_hi[0],
            )
    offsets_arr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(text_len_arr, out=offsets_arr[1:])
    cdef int64_t[::1] offsets = offsets_arr
    with nogil:
        for g in range(1, groups):
            k = firsts[g]
            if k < n and offsets[k] != lo[k]:
                _jsonl_memmove(&out[offsets[k]], &out[lo[k]], <size_t>(offsets[firsts[g + 1]] - offsets[k]))
    ids_arr = _id_bytes(base, status, kind, id_lo, id_hi)
    return (
        lo_arr, hi_arr, status_arr, out_arr[: offsets_arr[n]], offsets_arr, lengths_arr, kind_arr, id_lo_arr, id_hi_arr,
        ids_arr,
    )


cdef _id_bytes(
    const uint8_t* base, const uint8_t[::1] status, const uint8_t[::1] kind, const int64_t[::1] id_lo,
    const int64_t[::1] id_hi,
):
    """uint8: each ``LINE_OK`` line's id as written when it is ``ID_PLAIN``
    or ``ID_TOKEN`` (nothing for the others), each followed by a newline (no
    id as written holds one): one decode and split give them all."""
    cdef Py_ssize_t k, n = status.shape[0]
    cdef int64_t size = 0, at = 0
    for k in range(n):
        if status[k] == _LINE_OK:
            size += 1
            if kind[k] == _ID_PLAIN or kind[k] == _ID_TOKEN:
                size += id_hi[k] - id_lo[k]
    ids_arr = np.empty(size, dtype=np.uint8)
    cdef uint8_t[::1] ids = ids_arr
    with nogil:
        for k in range(n):
            if status[k] != _LINE_OK:
                continue
            if kind[k] == _ID_PLAIN or kind[k] == _ID_TOKEN:
                memcpy(&ids[at], base + id_lo[k], <size_t>(id_hi[k] - id_lo[k]))
                at += id_hi[k] - id_lo[k]
            ids[at] = 10
            at += 1
    return ids_arr


# ==========================================================================
# Blocks (dedup/blocks.py): split UTF-8 texts into lines or paragraphs,
# normalize, hash and count the words of each block, one document per OpenMP
# iteration. Owned by the blocks work: keep edits to the other kernels out of
# this section.
#
# Lines are what Python's ``text.replace("\r\n", "\n").split("\n")`` gives:
# a line ends at "\n", and a "\r" just before that "\n" is not part of it. A
# line is blank when ``str.strip`` leaves nothing (_blank_text). A paragraph
# is a run of non-blank lines; its span runs from its first line's start to
# its last line's end (any "\r\n" inside it stays; Python makes it "\n").
# Normalization turns "\r" and "\n" into spaces, so a span hashes as its text
# does.

cdef extern from "<string.h>" nogil:
    const void* _memchr "memchr"(const void* s, int c, size_t n)


cdef int64_t _line_end(const uint8_t* p, int64_t i, int64_t m) noexcept nogil:
    """Index of the next "\n" at or after ``i``, or ``m``."""
    cdef const void* hit = _memchr(p + i, 10, m - i) if i < m else NULL
    return m if hit == NULL else <int64_t>(<const uint8_t*>hit - p)


cdef void _block_hash(
    const uint8_t* s, int64_t m, const Tables* t, uint8_t* scratch,
    uint64_t* hash_out, int64_t* words_out, uint8_t* needs_out,
) noexcept nogil:
    """Normalize one block into ``scratch`` (3 bytes per input byte) and
    write its XXH64 and word count (as hash_kernel), or flag it for NFC."""
    cdef int64_t got = _normalize_one(s, m, t, scratch)
    if got < 0:
        needs_out[0] = 1
        hash_out[0] = 0
        words_out[0] = 0
        return
    needs_out[0] = 0
    hash_out[0] = xxh64(scratch, got)
    if got == 0:
        words_out[0] = 0
    elif _mostly_unspaced(scratch, got):
        words_out[0] = _count_units(scratch, got, 1)
    else:
        words_out[0] = _count_units(scratch, got, 0)


cdef void _split_one(
    const uint8_t* p, int64_t m, int64_t base, bint paragraphs, const Tables* t, uint8_t* scratch,
    uint8_t* valid, int64_t* lo, int64_t* hi, int64_t* line, int64_t* end,
    uint64_t* hashes, int64_t* words, uint8_t* needs,
) noexcept nogil:
    """The blocks of one text (``p[:m]``, at ``base`` in the batch); the
    block starting on line ``k`` (0-based) goes to slot ``k``."""
    cdef int64_t i = 0, k = 0, nl, e, first = -1, first_lo = 0, last_e = 0
    while True:
        nl = _line_end(p, i, m)
        e = nl
        if nl < m and e > i and p[e - 1] == 13:
            e -= 1
        if not _blank_text(p + i, e - i):
            if not paragraphs:
                valid[k] = 1
                lo[k] = base + i
                hi[k] = base + e
                line[k] = k + 1
                end[k] = k + 1
                _block_hash(p + i, e - i, t, scratch + 3 * i, &hashes[k], &words[k], &needs[k])
            elif first < 0:
                first = k
                first_lo = i
            last_e = e
        elif first >= 0:
            valid[first] = 1
            lo[first] = base + first_lo
            hi[first] = base + last_e
            line[first] = first + 1
            end[first] = k
            _block_hash(p + first_lo, last_e - first_lo, t, scratch + 3 * first_lo, &hashes[first], &words[first], &needs[first])
            first = -1
        if nl >= m:
            break
        i = nl + 1
        k += 1
    if first >= 0:
        valid[first] = 1
        lo[first] = base + first_lo
        hi[first] = base + last_e
        line[first] = first + 1
        end[first] = k + 1
        _block_hash(p + first_lo, last_e - first_lo, t, scratch + 3 * first_lo, &hashes[first], &words[first], &needs[first])


def block_kernel(
    const uint8_t[::1] text,
    const int64_t[::1] starts,
    bint paragraphs,
    const uint32_t[::1] case,
    const uint8_t[::1] stable,
    const uint32_t[:, ::1] tones,
    int num_threads,
):
    """Split a batch of UTF-8 texts (``"surrogatepass"``) into blocks and
    hash each normalized block.

    Returns:
        ``(owner, lo, hi, line, end, hashes, words, needs_nfc)`` for the
        blocks in text then line order: int64 text index, byte span
        ``[lo, hi)`` in ``text``, 1-based first and last line, uint64 XXH64
        of the normalized block, int64 words (as :func:`hash_kernel`), uint8
        1 where the block needs Python's NFC first (hash and words 0 then).
    """
    cdef Py_ssize_t n_docs = starts.shape[0] - 1
    cdef Py_ssize_t d
    cdef int64_t i, a, b, c
    cdef uint16_t fold[_FOLD_SPAN + 1]
    cdef Tables t = _tables(case, case, stable, tones, False, True, fold)
    cdef const uint8_t* base = &text[0] if text.shape[0] > 0 else NULL
    counts_arr = np.zeros(n_docs, dtype=np.int64)
    cdef int64_t[::1] counts = counts_arr
    # Pass 1: one slot per line (newlines + 1), so each text writes its own slots.
    for d in prange(n_docs, nogil=True, schedule="static", num_threads=num_threads):
        a = starts[d]
        b = starts[d + 1]
        c = 1
        i = a
        while i < b:
            i = _line_end(base, i, b) + 1
            c = c + (i <= b)
        counts[d] = c
    slots_arr = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(counts_arr, out=slots_arr[1:])
    cdef int64_t n_slots = slots_arr[n_docs]
    valid_arr = np.zeros(n_slots, dtype=np.uint8)
    lo_arr = np.empty(n_slots, dtype=np.int64)
    hi_arr = np.empty(n_slots, dtype=np.int64)
    line_arr = np.empty(n_slots, dtype=np.int64)
    end_arr = np.empty(n_slots, dtype=np.int64)
    hashes_arr = np.empty(n_slots, dtype=np.uint64)
    words_arr = np.empty(n_slots, dtype=np.int64)
    needs_arr = np.zeros(n_slots, dtype=np.uint8)
    failed_arr = np.zeros(n_docs, dtype=np.uint8)
    cdef int64_t[::1] slots = slots_arr
    cdef uint8_t[::1] valid = valid_arr
    cdef int64_t[::1] lo = lo_arr
    cdef int64_t[::1] hi = hi_arr
    cdef int64_t[::1] line = line_arr
    cdef int64_t[::1] end = end_arr
    cdef uint64_t[::1] hashes = hashes_arr
    cdef int64_t[::1] words = words_arr
    cdef uint8_t[::1] needs = needs_arr
    cdef uint8_t[::1] failed = failed_arr
    cdef uint8_t* scratch
    # Pass 2: a text's blocks normalize into its own scratch, 3 bytes per
    # input byte (small and short-lived: one buffer of the whole batch,
    # freed each batch, made the allocator keep far more memory).
    for d in prange(n_docs, nogil=True, schedule="dynamic", chunksize=16, num_threads=num_threads):
        a = starts[d]
        c = slots[d]
        scratch = <uint8_t*>_alloc(3 * (starts[d + 1] - a), d, _SITE_TEXT)
        if scratch == NULL:
            failed[d] = 1
            continue
        _split_one(
            base + a if base != NULL else NULL, starts[d + 1] - a, a, paragraphs, &t, scratch,
            &valid[c], &lo[c], &hi[c], &line[c], &end[c], &hashes[c], &words[c], &needs[c],
        )
        free(scratch)
    missing = np.flatnonzero(failed_arr)
    if len(missing):
        raise MemoryError(f"out of memory splitting {len(missing)} text(s) into blocks, the first at position {missing[0]}")
    keep = np.flatnonzero(valid_arr)
    owner = np.repeat(np.arange(n_docs, dtype=np.int64), counts_arr)[keep]
    return owner, lo_arr[keep], hi_arr[keep], line_arr[keep], end_arr[keep], hashes_arr[keep], words_arr[keep], needs_arr[keep]


# ==========================================================================
# Matching stages (issue 11, round 3): LSH band pairs and spill-file reads.
# Kept in one section at the end of the module; nothing above calls it.

from posix.unistd cimport pread
from libc.errno cimport errno, EINTR


cdef extern from "<algorithm>" namespace "std" nogil:
    int64_t* std_unique "std::unique"(int64_t* first, int64_t* last) noexcept
    void std_sort_i64 "std::sort"(int64_t* first, int64_t* last) noexcept


cdef void _radix_by_key(
    uint64_t* keys, int64_t* docs, uint64_t* keys_tmp, int64_t* docs_tmp, int64_t n, int64_t* counts
) noexcept nogil:
    """Sort ``(keys, docs)`` by key, stably (LSD radix, 8 bits a pass; a
    pass where every key has the same digit is skipped). ``counts`` holds
    8 * 256 words. The result ends in ``keys``/``docs``."""
    cdef int64_t i, total
    cdef int pass_, digit
    cdef int shift
    cdef uint64_t* ks
    cdef int64_t* ds
    cdef int64_t* c
    memset(counts, 0, 8 * 256 * sizeof(int64_t))
    for i in range(n):
        for pass_ in range(8):
            counts[pass_ * 256 + <int>((keys[i] >> (8 * pass_)) & 0xFF)] += 1
    cdef uint64_t* src_k = keys
    cdef int64_t* src_d = docs
    cdef uint64_t* dst_k = keys_tmp
    cdef int64_t* dst_d = docs_tmp
    for pass_ in range(8):
        c = counts + pass_ * 256
        shift = 8 * pass_
        if n == 0 or c[<int>((src_k[0] >> shift) & 0xFF)] == n:
            continue
        total = 0
        for digit in range(256):
            i = c[digit]
            c[digit] = total
            total += i
        for i in range(n):
            digit = <int>((src_k[i] >> shift) & 0xFF)
            dst_k[c[digit]] = src_k[i]
            dst_d[c[digit]] = src_d[i]
            c[digit] += 1
        ks = src_k
        src_k = dst_k
        dst_k = ks
        ds = src_d
        src_d = dst_d
        dst_d = ds
    if src_k != keys:
        memcpy(keys, src_k, n * sizeof(uint64_t))
        memcpy(docs, src_d, n * sizeof(int64_t))


cdef enum:
    _GROUP_SMALL = 32


cdef void _group_by_key(
    uint64_t* keys, int64_t* docs, uint64_t* keys_tmp, int64_t* docs_tmp, int64_t n, int64_t* counts
) noexcept nogil:
    """Order ``(keys, docs)`` so that equal keys are adjacent, documents
    ascending among them (stably: a counting sort on the keys' top bits,
    then each bucket sorted by key, by insertion when small, else by
    :func:`_radix_by_key`). Band keys are uniform hashes, so buckets hold a
    key or two; thousands of documents with one key (a page repeated) make
    one large bucket, still linear. ``counts`` holds ``max(8 * 256,
    2 ** bits + 1)`` words (bits: :func:`_group_bits`)."""
    cdef int bits = _group_bits(n)
    cdef int shift = 64 - bits
    cdef int64_t buckets = <int64_t>1 << bits
    cdef int64_t i, j, k, lo, hi, d
    cdef uint64_t x
    if n < 2:
        return
    memset(counts, 0, (buckets + 1) * sizeof(int64_t))
    for i in range(n):
        counts[(keys[i] >> shift) + 1] += 1
    for k in range(buckets):
        counts[k + 1] += counts[k]
    for i in range(n):
        k = <int64_t>(keys[i] >> shift)
        keys_tmp[counts[k]] = keys[i]
        docs_tmp[counts[k]] = docs[i]
        counts[k] += 1
    # counts[k] is now where bucket k ends; bucket 0 starts at 0.
    lo = 0
    for k in range(buckets):
        hi = counts[k]
        if hi - lo > _GROUP_SMALL:
            # Sorted in place in the tmp arrays, with the same range of the
            # original arrays as scratch (counts is free again: the bucket
            # bounds still needed are lo and hi).
            _bucket_by_radix(keys_tmp + lo, docs_tmp + lo, keys + lo, docs + lo, hi - lo, counts + buckets + 1)
        else:
            for i in range(lo + 1, hi):
                x = keys_tmp[i]
                d = docs_tmp[i]
                j = i - 1
                while j >= lo and keys_tmp[j] > x:
                    keys_tmp[j + 1] = keys_tmp[j]
                    docs_tmp[j + 1] = docs_tmp[j]
                    j -= 1
                keys_tmp[j + 1] = x
                docs_tmp[j + 1] = d
        lo = hi
    memcpy(keys, keys_tmp, n * sizeof(uint64_t))
    memcpy(docs, docs_tmp, n * sizeof(int64_t))


cdef inline void _bucket_by_radix(
    uint64_t* keys, int64_t* docs, uint64_t* keys_tmp, int64_t* docs_tmp, int64_t n, int64_t* counts
) noexcept nogil:
    """:func:`_radix_by_key` of one bucket (``counts``: 8 * 256 words)."""
    _radix_by_key(keys, docs, keys_tmp, docs_tmp, n, counts)


cdef inline int _group_bits(int64_t n) noexcept nogil:
    """Top bits :func:`_group_by_key` buckets by: about one bucket per key,
    at most 2 ** 20 buckets (8 MiB of counts a thread)."""
    cdef int bits = 1
    while bits < 20 and (<int64_t>2 << bits) <= n:
        bits += 1
    return bits


cdef int64_t _band_codes(
    const uint64_t* column, int64_t n, int64_t max_bucket, int64_t** out_codes, int64_t* distinct, int64_t* capped
) noexcept nogil:
    """One band's colliding pairs as sorted distinct ``a * n + b`` codes
    (``a < b``) in a malloc'ed ``*out_codes`` (``*distinct`` of them);
    returns how many pairs were emitted (the band's collisions), or -1 when
    out of memory. Buckets over ``max_bucket`` pair each member with the
    bucket's first document only (the rule of
    :func:`dedup.lsh.pairs_from_band_columns`)."""
    cdef int64_t i, j, s, e, length, total, pos
    cdef int64_t* codes
    cdef uint64_t* keys = <uint64_t*>malloc(max(n, 1) * sizeof(uint64_t))
    cdef uint64_t* keys_tmp = <uint64_t*>malloc(max(n, 1) * sizeof(uint64_t))
    cdef int64_t* docs = <int64_t*>malloc(max(n, 1) * sizeof(int64_t))
    cdef int64_t* docs_tmp = <int64_t*>malloc(max(n, 1) * sizeof(int64_t))
    # Bucket counts, then one bucket's radix counts after them.
    cdef int64_t* counts = <int64_t*>malloc(((<int64_t>1 << _group_bits(n)) + 1 + 8 * 256) * sizeof(int64_t))
    out_codes[0] = NULL
    distinct[0] = 0
    capped[0] = 0
    if keys == NULL or keys_tmp == NULL or docs == NULL or docs_tmp == NULL or counts == NULL:
        free(keys)
        free(keys_tmp)
        free(docs)
        free(docs_tmp)
        free(counts)
        return -1
    memcpy(keys, column, n * sizeof(uint64_t))
    for i in range(n):
        docs[i] = i
    # Stable from documents in input order: inside a bucket documents stay
    # ascending, so a capped bucket's centre is its first document and
    # every pair comes out as (smaller, larger).
    _group_by_key(keys, docs, keys_tmp, docs_tmp, n, counts)
    free(keys_tmp)
    free(docs_tmp)
    free(counts)
    total = 0
    s = 0
    while s < n:
        e = s + 1
        while e < n and keys[e] == keys[s]:
            e += 1
        length = e - s
        total += length - 1 if length > max_bucket else length * (length - 1) // 2
        s = e
    codes = <int64_t*>malloc(max(total, 1) * sizeof(int64_t))
    if codes == NULL:
        free(keys)
        free(docs)
        return -1
    pos = 0
    s = 0
    while s < n:
        e = s + 1
        while e < n and keys[e] == keys[s]:
            e += 1
        if e - s > max_bucket:
            capped[0] += 1
            for j in range(s + 1, e):
                codes[pos] = docs[s] * n + docs[j]
                pos += 1
        else:
            for i in range(s, e - 1):
                for j in range(i + 1, e):
                    codes[pos] = docs[i] * n + docs[j]
                    pos += 1
        s = e
    free(keys)
    free(docs)
    std_sort_i64(codes, codes + total)
    distinct[0] = std_unique(codes, codes + total) - codes
    out_codes[0] = codes
    return total


def band_pairs_kernel(const uint64_t[:, ::1] columns, int64_t max_bucket, int num_threads):
    """Candidate pairs of a few LSH bands, one band per thread.

    Args:
        columns: uint64, shape ``(bands, n_docs)``: each band's key of every document.
        max_bucket: Buckets with more documents pair each member with the first only.
        num_threads: OpenMP threads.

    Returns:
        ``(codes, collisions, capped)``: for each band, int64 sorted
        distinct ``a * n_docs + b`` codes (``a < b``) of the pairs sharing
        a key in it; the (pair, band) collisions of all these bands; their
        buckets over ``max_bucket``.

    Raises:
        MemoryError: a band's scratch memory could not be allocated.
    """
    cdef Py_ssize_t bands = columns.shape[0]
    cdef int64_t n = columns.shape[1]
    cdef Py_ssize_t b
    cdef int64_t** codes = <int64_t**>calloc(max(bands, 1), sizeof(int64_t*))
    if codes == NULL:
        raise MemoryError()
    emitted_arr = np.zeros(bands, dtype=np.int64)
    distinct_arr = np.zeros(bands, dtype=np.int64)
    capped_arr = np.zeros(bands, dtype=np.int64)
    cdef int64_t[::1] emitted = emitted_arr
    cdef int64_t[::1] distinct = distinct_arr
    cdef int64_t[::1] capped = capped_arr
    try:
        for b in prange(bands, nogil=True, schedule="dynamic", chunksize=1, num_threads=num_threads):
            emitted[b] = _band_codes(&columns[b, 0], n, max_bucket, &codes[b], &distinct[b], &capped[b])
        if (emitted_arr < 0).any():
            raise MemoryError(f"out of memory pairing the documents of {bands} LSH band(s)")
        parts = []
        for b in range(bands):
            if distinct[b] > 0:
                parts.append(np.asarray(<int64_t[:distinct[b]]>codes[b]).copy())
            else:
                parts.append(np.zeros(0, dtype=np.int64))
    finally:
        for b in range(bands):
            free(codes[b])
        free(codes)
    return parts, int(emitted_arr.sum()), int(capped_arr.sum())


def pread_kernel(int fd, const int64_t[::1] positions, const int64_t[::1] lengths, uint8_t[::1] out, int num_threads):
    """Read ``lengths[i]`` bytes at file offset ``positions[i]`` of ``fd``
    into ``out``, back to back, one ``pread`` per range (in parallel).

    Returns:
        -1 when every range was read whole, else the index of a range that
        was not (an error or the end of the file), with its ``errno`` (0 at
        the end of the file).
    """
    cdef Py_ssize_t n = positions.shape[0]
    cdef Py_ssize_t i
    cdef int64_t done, want
    cdef Py_ssize_t got
    dest_arr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=dest_arr[1:])
    cdef int64_t[::1] dest = dest_arr
    failed_arr = np.full(n, -1, dtype=np.int64)
    cdef int64_t[::1] failed = failed_arr
    cdef uint8_t* base = &out[0] if out.shape[0] > 0 else NULL
    for i in prange(n, nogil=True, schedule="static", num_threads=num_threads):
        done = 0
        want = lengths[i]
        while done < want:
            got = pread(fd, base + dest[i] + done, want - done, positions[i] + done)
            if got > 0:
                done = done + got
            elif got < 0 and errno == EINTR:
                continue
            else:
                failed[i] = errno if got < 0 else 0
                break
    bad = np.flatnonzero(failed_arr >= 0)
    if len(bad):
        return int(bad[0]), int(failed_arr[bad[0]])
    return -1, 0


def agreement_kernel(
    const uint32_t[:, ::1] signatures, const int64_t[::1] left, const int64_t[::1] right, int num_threads
):
    """The fraction of equal values of rows ``left[p]`` and ``right[p]``
    per pair (float64): the count over the width, as numpy's mean of the
    comparison gives it (a sum of ones is exact)."""
    cdef Py_ssize_t n_pairs = left.shape[0]
    cdef Py_ssize_t width = signatures.shape[1]
    cdef Py_ssize_t p, k
    cdef int64_t same
    cdef const uint32_t* a
    cdef const uint32_t* b
    out_arr = np.empty(n_pairs, dtype=np.float64)
    cdef double[::1] out = out_arr
    if width == 0:
        out_arr.fill(np.nan)
        return out_arr
    for p in prange(n_pairs, nogil=True, schedule="static", num_threads=num_threads):
        a = &signatures[left[p], 0]
        b = &signatures[right[p], 0]
        same = 0
        for k in range(width):
            if a[k] == b[k]:
                same = same + 1
        out[p] = (<double>same) / width
    return out_arr


# --------------------------------------------------------------------------
# LSH band keys: the mixing hash of dedup.lsh.band_keys, compiled.

cdef uint64_t _BAND_MIX = 0x9E3779B97F4A7C15ULL


def band_keys_kernel(const uint32_t[:, ::1] signatures, int num_bands, int rows_per_band):
    """uint64 keys of shape ``(n_docs, num_bands)``: band ``j`` of a
    signature folds its ``rows_per_band`` values into ``j`` (xor, multiply,
    shift; wrapping uint64). The caller checks the bands fit."""
    cdef Py_ssize_t n_docs = signatures.shape[0]
    cdef Py_ssize_t d
    cdef int j, r
    cdef uint64_t key
    out_arr = np.empty((n_docs, num_bands), dtype=np.uint64)
    cdef uint64_t[:, ::1] out = out_arr
    with nogil:
        for d in range(n_docs):
            for j in range(num_bands):
                key = <uint64_t>j
                for r in range(rows_per_band):
                    key = (key ^ signatures[d, j * rows_per_band + r]) * _BAND_MIX
                    key = key ^ (key >> 29)
                out[d, j] = key
    return out_arr


# --------------------------------------------------------------------------
# MT19937, seeded by an integer as numpy's RandomState(seed) is: the stream
# datasketch draws its permutations from, without importing numpy.random
# (~9 ms of every run's start-up). Tested equal to numpy's.

def mt19937_uint32(uint32_t seed, Py_ssize_t count):
    """The first ``count`` 32-bit outputs (uint32) of MT19937 seeded with
    ``seed`` (init_genrand: numpy's ``RandomState(seed)``)."""
    cdef uint32_t mt[624]
    cdef uint32_t y
    cdef Py_ssize_t i, k, pos = 624
    out_arr = np.empty(count, dtype=np.uint32)
    cdef uint32_t[::1] out = out_arr
    mt[0] = seed
    for i in range(1, 624):
        mt[i] = 1812433253U * (mt[i - 1] ^ (mt[i - 1] >> 30)) + <uint32_t>i
    for k in range(count):
        if pos == 624:
            for i in range(624):
                y = (mt[i] & 0x80000000U) | (mt[(i + 1) % 624] & 0x7FFFFFFFU)
                mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DFU if y & 1 else 0U)
            pos = 0
        y = mt[pos]
        pos += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680U
        y ^= (y << 15) & 0xEFC60000U
        y ^= y >> 18
        out[k] = y
    return out_arr
