"""Shared passages: where, in the original texts, two documents share shingles.

A scan compares the shingle sets of normalized texts; an editor reads the
originals. :func:`tokenize` normalizes a text exactly as the compiled kernel
does (NFC, per-code-point case fold, non-word characters to spaces, the
Vietnamese tone-mark placement, optional accent folding; the character
fallback of a word scan for scripts written without spaces) while keeping,
for every normalized word (or code point), the span of the original text it
came from. :func:`shared_passages` then marks the units covered by a shingle
that both documents have and maps each run of them back onto the original
text: the highlight counts exactly what the similarity counts
(``|shared shingles| / |union|`` is the scan's exact Jaccard).

Offsets are Python string indices (code points) into the text as read.
This runs in Python, per displayed pair: meant for the few hundred or
thousand pairs of a report, not for a whole corpus.

Example:
    >>> a = "Hôm nay, Mỹ và Taliban nối lại đàm phán hòa bình tại Doha. Trời mưa."
    >>> b = "MỸ VÀ TALIBAN nối lại đàm phán hoà bình tại Doha! Hết."
    >>> left, right = shared_passages(a, b, "word:5")
    >>> [a[s:e] for s, e in left], [b[s:e] for s, e in right]
    (['Mỹ và Taliban nối lại đàm phán hòa bình tại Doha'], ['MỸ VÀ TALIBAN nối lại đàm phán hoà bình tại Doha'])
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import numpy.typing as npt

from dedup._unicode import SPACE, accent_table, case_table
from dedup.normalize import kernel_tables
from dedup.shingle import ShingleSpec, parse_shingle_spec

__all__ = ["Tokens", "shared_passages", "tokenize"]

Span = tuple[int, int]

# The kernel's unspaced scripts (dedup/_kernels.pyx, _unspaced_script): half-open ranges.
_UNSPACED = np.array(
    [
        (0x0E00, 0x0F00),
        (0x1000, 0x10A0),
        (0x1780, 0x1800),
        (0x19E0, 0x1A00),
        (0x3005, 0x3008),
        (0x3040, 0x3100),
        (0x31F0, 0x3200),
        (0x3400, 0x4DC0),
        (0x4E00, 0xA000),
        (0xA9E0, 0xAA00),
        (0xAA60, 0xAA80),
        (0xF900, 0xFB00),
        (0xFF66, 0xFFA0),
        (0x20000, 0x323B0),
    ],
    dtype=np.uint32,
)
_O, _U, _Q = ord("o"), ord("u"), ord("q")


@dataclass(frozen=True)
class Tokens:
    """A text cut into the units its shingles are made of.

    Attributes:
        kind: ``"word"`` or ``"char"`` (a word scan's fallback for a text
            mostly in scripts written without spaces is ``"char"``).
        fallback: True when a word scan shingles this text by characters.
        units: Normalized words, or normalized code points (the single
            spaces between words included).
        starts: int64, shape ``(len(units),)``: where each unit starts in
            the original text.
        ends: int64, shape ``(len(units),)``: where it ends (exclusive).
        n: Units per shingle.
    """

    kind: str
    fallback: bool
    units: list[str]
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    n: int

    @cached_property
    def shingles(self) -> list[tuple[str, ...]]:
        """Shingle ``i`` covers units ``i .. i + n - 1``; a text shorter
        than one shingle has one, all of it."""
        units, n = self.units, self.n
        if not units:
            return []
        if len(units) < n:
            return [tuple(units)]
        return list(zip(*(units[i : len(units) - n + 1 + i] for i in range(n)), strict=True))

    @cached_property
    def shingle_set(self) -> frozenset[tuple[str, ...]]:
        """The distinct shingles (what a scan compares)."""
        return frozenset(self.shingles)


def _nfc_with_spans(text: str) -> tuple[str, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """NFC of ``text`` and, per NFC code point, the original span it came from."""
    if unicodedata.is_normalized("NFC", text):
        starts = np.arange(len(text), dtype=np.int64)
        return text, starts, starts + 1
    # Segments: a starter and the combining marks after it. NFC acts inside
    # them; when each composes to one code point (NFD text: every accented
    # letter), the k-th NFC code point is the k-th segment. Equal counts alone
    # do not say so: Hangul jamo compose across segments (fewer code points)
    # while a mark with no precomposed letter stays (more); with no mark left
    # in the NFC, no segment gave more than one code point, so none gave fewer.
    nfc = unicodedata.normalize("NFC", text)
    starter = np.fromiter(map(unicodedata.combining, text), dtype=np.int64, count=len(text)) == 0
    starter[0] = True
    cuts = np.flatnonzero(starter).astype(np.int64)
    if len(cuts) == len(nfc) and not any(map(unicodedata.combining, nfc)):
        return nfc, cuts, np.append(cuts[1:], len(text))
    pieces: list[str] = []
    starts_list: list[int] = []
    ends_list: list[int] = []
    # NFC never composes across white space: only the runs between it that
    # are not in NFC already need cutting up (most of a text is).
    for match in _RUNS.finditer(text):
        run, at = match.group(), match.start()
        if unicodedata.is_normalized("NFC", run):
            pieces.append(run)
            starts_list.extend(range(at, at + len(run)))
            ends_list.extend(range(at + 1, at + len(run) + 1))
            continue
        _nfc_segments(run, at, pieces, starts_list, ends_list)
    return "".join(pieces), np.array(starts_list, dtype=np.int64), np.array(ends_list, dtype=np.int64)


_RUNS = re.compile(r"\s+|\S+")


def _nfc_segments(run: str, at: int, pieces: list[str], starts: list[int], ends: list[int]) -> None:
    """NFC of a run not in NFC, each output code point spanning its segment.

    NFC acts inside a segment: a starter and what may compose with it, the
    combining marks after it and the starters that compose with a preceding
    one (Hangul vowel and final jamo, as NFD Korean has, some Indic vowel
    signs). Each segment is normalized alone; should that ever differ from
    the run's NFC, every code point spans the whole run (the units stay
    those the scan shingles; only the highlight is coarser).
    """
    seconds = _composing_starters()
    cuts = [i for i, ch in enumerate(run) if i == 0 or (unicodedata.combining(ch) == 0 and ch not in seconds)]
    cuts.append(len(run))
    mine: list[str] = []
    mine_starts: list[int] = []
    mine_ends: list[int] = []
    for lo, hi in itertools.pairwise(cuts):
        piece = unicodedata.normalize("NFC", run[lo:hi])
        mine.append(piece)
        mine_starts.extend([at + lo] * len(piece))
        mine_ends.extend([at + hi] * len(piece))
    nfc = "".join(mine)
    if nfc != unicodedata.normalize("NFC", run):
        nfc = unicodedata.normalize("NFC", run)
        mine_starts, mine_ends = [at] * len(nfc), [at + len(run)] * len(nfc)
    pieces.append(nfc)
    starts.extend(mine_starts)
    ends.extend(mine_ends)


@cache
def _composing_starters() -> frozenset[str]:
    """Starters (combining class 0) that NFC composes with the character
    before them: the second halves of canonical compositions, Hangul jamo."""
    found = {chr(c) for c in itertools.chain(range(0x1161, 0x1176), range(0x11A8, 0x11C3))}
    for c in range(0x30000):  # nothing above decomposes canonically
        decomposition = unicodedata.decomposition(chr(c)).split()
        if len(decomposition) != 2 or decomposition[0].startswith("<"):
            continue
        second = chr(int(decomposition[1], 16))
        composed = unicodedata.normalize("NFC", chr(int(decomposition[0], 16)) + second)
        if composed == chr(c) and unicodedata.combining(second) == 0:
            found.add(second)
    return frozenset(found)


def _code_points(text: str) -> npt.NDArray[np.uint32]:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()


@cache
def _tone_rewrites() -> dict[tuple[int, int], tuple[int, int]]:
    """``(o/u, toned vowel) -> (toned o/u, plain vowel)``, as the kernel's table."""
    tones = kernel_tables(False)[-1]
    return {(int(r[0]), int(r[1])): (int(r[2]), int(r[3])) for r in tones}


def _place_tones(
    cps: npt.NDArray[np.uint32], word_starts: npt.NDArray[np.int64], word_ends: npt.NDArray[np.int64]
) -> None:
    """The kernel's tone-mark placement, in place: at a word end, o/u followed
    by a toned a/e/y (not after q, unless the word is those two letters) gets
    the tone itself (``hoà`` -> ``hòa``)."""
    lengths = word_ends - word_starts
    long_enough = lengths >= 2
    ends = word_ends[long_enough]
    firsts = cps[ends - 2]
    candidates = np.flatnonzero((firsts == _O) | (firsts == _U))
    rewrites = _tone_rewrites()
    for k in candidates.tolist():
        end = int(ends[k])
        length = int(lengths[long_enough][k])
        if length > 2 and cps[end - 3] == _Q:
            continue
        new = rewrites.get((int(cps[end - 2]), int(cps[end - 1])))
        if new is not None:
            cps[end - 2], cps[end - 1] = new


def _mostly_unspaced(cps: npt.NDArray[np.uint32]) -> bool:
    """More than half the letters are in scripts written without spaces."""
    letters = cps[cps != SPACE]
    if not len(letters):
        return False
    index = np.searchsorted(_UNSPACED[:, 0], letters, side="right") - 1
    inside = (index >= 0) & (letters < _UNSPACED[np.maximum(index, 0), 1])
    return 2 * int(np.count_nonzero(inside)) > len(letters)


def tokenize(text: str, spec: ShingleSpec | str = "word:5", *, fold_accents: bool = False) -> Tokens:
    """Normalize a text as a scan does, keeping where each unit came from.

    Args:
        text: The original text.
        spec: The scan's shingles (``"word:5"``...).
        fold_accents: The scan's ``fold_accents``.

    Returns:
        The units the scan shingles (normalized words, or code points) and
        their original spans.

    Raises:
        ValueError: ``spec`` is not a valid shingle spec.
    """
    spec = parse_shingle_spec(spec) if isinstance(spec, str) else spec
    nfc, orig_starts, orig_ends = _nfc_with_spans(text)
    cps = case_table()[_code_points(nfc)]
    if fold_accents:
        cps = np.where(cps != SPACE, accent_table()[cps], SPACE).astype(np.uint32)
        kept = cps != 0  # a lone mark is deleted, not a space
        cps, orig_starts, orig_ends = cps[kept], orig_starts[kept], orig_ends[kept]
    word = np.concatenate(([False], cps != SPACE, [False]))
    edges = np.flatnonzero(word[1:] != word[:-1])
    word_starts, word_ends = edges[0::2].astype(np.int64), edges[1::2].astype(np.int64)
    if not fold_accents:
        _place_tones(cps, word_starts, word_ends)
    fallback = spec.kind == "word" and _mostly_unspaced(cps)
    chars = cps.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
    # Word characters are never white space: the runs split() finds are the words.
    words = chars.split()
    if spec.kind == "word" and not fallback:
        return Tokens("word", False, words, orig_starts[word_starts], orig_ends[word_ends - 1], spec.n)
    return _char_tokens(words, word_starts, word_ends, orig_starts, orig_ends, fallback, spec.n)


def _char_tokens(
    words: list[str],
    word_starts: npt.NDArray[np.int64],
    word_ends: npt.NDArray[np.int64],
    orig_starts: npt.NDArray[np.int64],
    orig_ends: npt.NDArray[np.int64],
    fallback: bool,
    n: int,
) -> Tokens:
    """Code points of the normalized text (words joined by one space); a
    space spans the gap between its two words in the original."""
    units: list[str] = []
    starts: list[npt.NDArray[np.int64]] = []
    ends: list[npt.NDArray[np.int64]] = []
    for k, (w, lo, hi) in enumerate(zip(words, word_starts.tolist(), word_ends.tolist(), strict=True)):
        if k:
            units.append(" ")
            starts.append(orig_ends[word_ends[k - 1] - 1 : word_ends[k - 1]])
            ends.append(orig_starts[lo : lo + 1])
        units.extend(w)
        starts.append(orig_starts[lo:hi])
        ends.append(orig_ends[lo:hi])
    empty = np.zeros(0, dtype=np.int64)
    return Tokens(
        "char",
        fallback,
        units,
        np.concatenate(starts) if starts else empty,
        np.concatenate(ends) if ends else empty,
        n,
    )


def _covered_spans(tokens: Tokens, shared: AbstractSet[tuple[str, ...]]) -> list[Span]:
    """Original spans of the runs of units covered by a shared shingle."""
    shingles = tokens.shingles
    hits = np.fromiter(map(shared.__contains__, shingles), dtype=bool, count=len(shingles))
    if not hits.any():
        return []
    width = min(tokens.n, len(tokens.units))
    # A shingle starting at i covers units i .. i + width - 1: add +1/-1 and sum.
    delta = np.zeros(len(tokens.units) + 1, dtype=np.int64)
    first = np.flatnonzero(hits)
    np.add.at(delta, first, 1)
    np.add.at(delta, first + width, -1)
    covered = np.concatenate(([False], np.cumsum(delta[:-1]) > 0, [False]))
    edges = np.flatnonzero(covered[1:] != covered[:-1])
    lo, hi = edges[0::2], edges[1::2] - 1
    return list(zip(tokens.starts[lo].tolist(), tokens.ends[hi].tolist(), strict=True))


def shared_passages(
    a: str | Tokens, b: str | Tokens, spec: ShingleSpec | str = "word:5", *, fold_accents: bool = False
) -> tuple[list[Span], list[Span]]:
    """The passages two documents share, as spans of each original text.

    A passage is a maximal run of units (words, or code points) covered by
    shingles that occur in both documents; documents shingled by different
    kinds (a word scan's character fallback on one side only) share nothing,
    as in a scan.

    Args:
        a: The first text (or its :func:`tokenize` result, to reuse it).
        b: The second.
        spec: The scan's shingles.
        fold_accents: The scan's ``fold_accents``.

    Returns:
        ``(spans in a, spans in b)``: sorted, disjoint ``(start, end)``
        code-point offsets into each original text.

    Raises:
        ValueError: ``spec`` is not a valid shingle spec.
    """
    spec = parse_shingle_spec(spec) if isinstance(spec, str) else spec
    ta = a if isinstance(a, Tokens) else tokenize(a, spec, fold_accents=fold_accents)
    tb = b if isinstance(b, Tokens) else tokenize(b, spec, fold_accents=fold_accents)
    if ta.fallback != tb.fallback:
        return [], []
    shared = ta.shingle_set & tb.shingle_set
    return _covered_spans(ta, shared), _covered_spans(tb, shared)


def jaccard(
    a: str | Tokens, b: str | Tokens, spec: ShingleSpec | str = "word:5", *, fold_accents: bool = False
) -> float:
    """Jaccard similarity of two texts' shingle sets, from :func:`tokenize`
    (equal to a scan's exact similarity: the check that the highlight counts
    what the scan counts).

    Raises:
        ValueError: ``spec`` is not a valid shingle spec.
    """
    spec = parse_shingle_spec(spec) if isinstance(spec, str) else spec
    ta = a if isinstance(a, Tokens) else tokenize(a, spec, fold_accents=fold_accents)
    tb = b if isinstance(b, Tokens) else tokenize(b, spec, fold_accents=fold_accents)
    sa, sb = ta.shingle_set, tb.shingle_set
    if ta.fallback != tb.fallback:
        sb = frozenset(("\x00fallback", *s) for s in sb)
    union = len(sa | sb)
    return len(sa & sb) / union if union else 0.0
