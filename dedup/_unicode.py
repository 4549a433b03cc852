"""Per-code-point tables behind normalization, shipped as ``unicode_tables.npz``.

Building them means asking :mod:`unicodedata` about all 1,114,112 code points
(a few seconds), too slow for every CLI start, so they are generated once by
``python -m dedup._unicode`` and shipped; ``tests/test_normalize.py`` rebuilds
them and fails if the running Python's Unicode data disagrees.

The definitions (the single source of truth for what normalization means):

* word character: ``ch.isalnum()`` or a combining mark (category ``M*``);
  everything else becomes a space.
* case fold: ``ch.casefold()`` when that is one code point, else
  ``ch.lower()`` when that is, else ``ch`` (a per-code-point fold keeps the
  kernel a table lookup; the few multi-character folds such as ``ß`` -> ``ss``
  are left alone), iterated to a fixed point so folding is idempotent.
* accent fold (of a case-folded word character): the NFD base character with
  combining marks dropped, ``đ`` -> ``d``; a lone mark is deleted (maps to 0).
* NFC-stable code point: canonical combining class 0, its own NFC, not the
  second half of a canonical pair (a "Maybe" of the NFC quick check) and not
  a Hangul vowel or trailing consonant jamo. A text made only of NFC-stable
  code points is already in NFC (the quick check of UAX #15 answers Yes), so
  the kernel skips ``unicodedata.normalize`` for it; every other text goes
  through NFC first. Everything below U+0300 is stable, and so is
  precomposed Vietnamese.
* NFC (of a text that fails that check), as UAX #15 states it and
  ``unicodedata.normalize("NFC")`` computes it: full canonical decomposition
  (Hangul syllables by the arithmetic of UAX #15 §3.12), each run of
  non-starters stably sorted by canonical combining class, then canonical
  composition of the primary composites (pairs whose composite is its own
  NFC: composition exclusions, singletons and non-starter decompositions
  are not), with the blocking rule. :func:`nfc_table` packs what the kernel
  needs for it into one array (layout below).
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

SPACE = 0x20
N_CODE_POINTS = 0x110000
TABLES_FILE = Path(__file__).with_name("unicode_tables.npz")


def is_word_char(ch: str) -> bool:
    """Return whether ``ch`` is a letter, digit or combining mark."""
    return ch.isalnum() or unicodedata.category(ch)[0] == "M"


def fold_case_char(ch: str) -> str:
    """Fold the case of one character, per the definition above."""
    while True:
        folded = ch.casefold()
        if len(folded) != 1:
            folded = ch.lower()
            if len(folded) != 1:
                return ch
        if folded == ch:
            return ch
        ch = folded


def fold_accent_char(ch: str) -> str:
    """Strip the accents of one case-folded word character ("" deletes it)."""
    if ch == "đ":
        return "d"
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if unicodedata.category(c)[0] != "M")
    if base == "":
        return ""
    return base if len(base) == 1 else ch


@cache
def _canonical_decompositions() -> dict[int, tuple[int, ...]]:
    """Each code point's one-level canonical decomposition (none for Hangul
    syllables: :mod:`unicodedata` leaves them to arithmetic too)."""
    found: dict[int, tuple[int, ...]] = {}
    for cp in range(N_CODE_POINTS):
        parts = unicodedata.decomposition(chr(cp)).split()
        if parts and not parts[0].startswith("<"):
            found[cp] = tuple(int(p, 16) for p in parts)
    return found


def _composition_seconds() -> set[int]:
    """Code points that can be the second half of a canonical composition."""
    seconds = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V and T jamo
    seconds.update(parts[1] for parts in _canonical_decompositions().values() if len(parts) == 2)
    return seconds


def nfc_stable_ranges() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """``(lo, hi)``: the inclusive runs of code points that are not NFC-stable."""
    seconds = _composition_seconds()
    lo: list[int] = []
    hi: list[int] = []
    for cp in range(N_CODE_POINTS):
        ch = chr(cp)
        stable = cp not in seconds and unicodedata.combining(ch) == 0 and unicodedata.normalize("NFC", ch) == ch
        if stable:
            continue
        if hi and hi[-1] == cp - 1:
            hi[-1] = cp
        else:
            lo.append(cp)
            hi.append(cp)
    return np.array(lo, dtype=np.uint32), np.array(hi, dtype=np.uint32)


# The kernel's NFC table (dedup/_kernels.pyx, ``Nfc``), one uint32 array:
# a header of NFC_HEADER offsets (stage1, stage2, decomp_at, decomp, comp,
# then the total length) and those sections. A code point's properties
# are ``stage2[stage1[cp >> 7] * 128 + (cp & 127)]``:
# bits 0-7 its canonical combining class; bit 8 (safe) set when the first
# code point of its full decomposition (itself if none, the leading jamo of
# a Hangul syllable) has class 0 and is never the second half of a
# composition; bit 9 set when it is NFC-stable (as above); bits 10-21 its
# decomposition id ``i`` (0: none; it decomposes fully to
# ``decomp[decomp_at[i - 1]:decomp_at[i]]``, each entry a code point with
# its combining class in bits 24-31); bit 22 set when it is the first half
# of a primary composite. ``comp`` is a hash table of the primary composites:
# slots of three (first, second, composite), a power of two of them, the
# pair in the first slot from ``nfc_pair_slot`` on that is empty (first 0)
# or holds it.
NFC_HEADER = 6
NFC_SAFE = 1 << 8
NFC_STABLE = 1 << 9
NFC_DECOMP_SHIFT = 10
NFC_FIRST = 1 << 22
_BLOCK = 128


def nfc_pair_slot(first: int, second: int, bits: int) -> int:
    """Where the hash table of composites (``1 << bits`` slots) starts
    looking for a pair (the kernel's ``_compose`` computes the same)."""
    return ((((first * 0x9E3779B1) & 0xFFFFFFFF) ^ second) * 0x85EBCA77 & 0xFFFFFFFF) >> (32 - bits)


def _composite_hash(pairs: list[tuple[int, int, int]]) -> npt.NDArray[np.uint32]:
    bits = max(1, (2 * len(pairs) - 1).bit_length())  # at most half full
    slots = np.zeros((1 << bits, 3), dtype=np.uint32)
    for first, second, composite in pairs:
        k = nfc_pair_slot(first, second, bits)
        while slots[k, 0] != 0:
            k = (k + 1) & ((1 << bits) - 1)
        slots[k] = first, second, composite
    return slots.reshape(-1)


def _full_decomposition(cp: int, one_level: dict[int, tuple[int, ...]]) -> list[int]:
    if cp not in one_level:
        return [cp]
    return [x for part in one_level[cp] for x in _full_decomposition(part, one_level)]


def build_nfc_table(unstable_lo: npt.NDArray[np.uint32], unstable_hi: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """The packed NFC table (layout above) from :mod:`unicodedata` (slow),
    given the runs of code points that are not NFC-stable (:func:`nfc_stable_ranges`)."""
    one_level = _canonical_decompositions()
    decomposed = sorted(one_level)
    full = [_full_decomposition(cp, one_level) for cp in decomposed]
    # Primary composites: a pair's composite that is its own NFC (so not a
    # composition exclusion, a singleton or a non-starter decomposition).
    pairs = sorted(
        (parts[0], parts[1], cp)
        for cp, parts in one_level.items()
        if len(parts) == 2 and unicodedata.normalize("NFC", chr(cp)) == chr(cp)
    )
    firsts = sorted({first for first, _, _ in pairs})
    if len(decomposed) >= NFC_FIRST >> NFC_DECOMP_SHIFT:
        raise ValueError("this Unicode version's NFC data does not fit the packed table")
    ccc = np.array([unicodedata.combining(chr(cp)) for cp in range(N_CODE_POINTS)], dtype=np.uint32)
    head = np.arange(N_CODE_POINTS, dtype=np.uint32)
    head[decomposed] = [f[0] for f in full]
    head[0xAC00:0xD7A4] = 0x1100 + (np.arange(11172, dtype=np.uint32) // 588)  # Hangul: L V (T)
    starter = ccc == 0
    starter[sorted(_composition_seconds())] = False
    props = ccc.copy()
    props[starter[head]] |= NFC_SAFE
    props |= NFC_STABLE
    for lo, hi in zip(unstable_lo.tolist(), unstable_hi.tolist(), strict=True):
        props[lo : hi + 1] &= ~np.uint32(NFC_STABLE)
    props[decomposed] |= np.arange(1, len(decomposed) + 1, dtype=np.uint32) << NFC_DECOMP_SHIFT
    props[firsts] |= NFC_FIRST
    blocks, stage1 = np.unique(props.reshape(-1, _BLOCK), axis=0, return_inverse=True)
    sections = [
        stage1.reshape(-1).astype(np.uint32),
        blocks.reshape(-1),
        np.cumsum([0] + [len(f) for f in full]).astype(np.uint32),
        np.array([x | int(ccc[x]) << 24 for f in full for x in f], dtype=np.uint32),
        _composite_hash(pairs),
    ]
    header = np.cumsum([NFC_HEADER] + [len(part) for part in sections]).astype(np.uint32)
    return np.concatenate([header, *sections])


def build_tables() -> dict[str, npt.NDArray[np.uint32]]:
    """Compute the compact tables from :mod:`unicodedata` (slow: seconds)."""
    space_lo: list[int] = []
    space_hi: list[int] = []
    case_cp: list[int] = []
    case_to: list[int] = []
    accent_cp: list[int] = []
    accent_to: list[int] = []
    run_start = -1
    for cp in range(N_CODE_POINTS + 1):
        ch = chr(cp) if cp < N_CODE_POINTS else ""
        word = cp < N_CODE_POINTS and not (0xD800 <= cp <= 0xDFFF) and is_word_char(ch)
        if not word and cp < N_CODE_POINTS:
            if run_start < 0:
                run_start = cp
            continue
        if run_start >= 0:
            space_lo.append(run_start)
            space_hi.append(cp - 1)
            run_start = -1
        if cp == N_CODE_POINTS:
            break
        folded = fold_case_char(ch)
        if folded != ch:
            case_cp.append(cp)
            case_to.append(ord(folded))
        stripped = fold_accent_char(folded)
        if stripped != folded:
            accent_cp.append(ord(folded))
            accent_to.append(ord(stripped) if stripped else 0)
    # Several upper-case letters fold to one lower-case letter: keep one entry each.
    accent = dict(zip(accent_cp, accent_to, strict=True))
    unstable_lo, unstable_hi = nfc_stable_ranges()
    return {
        "space_lo": np.array(space_lo, dtype=np.uint32),
        "space_hi": np.array(space_hi, dtype=np.uint32),
        "case_cp": np.array(case_cp, dtype=np.uint32),
        "case_to": np.array(case_to, dtype=np.uint32),
        "accent_cp": np.array(sorted(accent), dtype=np.uint32),
        "accent_to": np.array([accent[k] for k in sorted(accent)], dtype=np.uint32),
        "nfc_unstable_lo": unstable_lo,
        "nfc_unstable_hi": unstable_hi,
        "nfc": build_nfc_table(unstable_lo, unstable_hi),
        "unidata_version": np.array([ord(c) for c in unicodedata.unidata_version], dtype=np.uint32),
    }


@cache
def _load() -> dict[str, npt.NDArray[np.uint32]]:
    with np.load(TABLES_FILE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@cache
def case_table() -> npt.NDArray[np.uint32]:
    """Dense case-fold table, shape ``(0x110000,)``, uint32: ``table[cp]`` is
    the folded code point, or ``0x20`` for a non-word character."""
    data = _load()
    table = np.arange(N_CODE_POINTS, dtype=np.uint32)
    table[data["case_cp"]] = data["case_to"]
    # Slice assignment per range: no temporary the size of the table.
    for lo, hi in zip(data["space_lo"].tolist(), data["space_hi"].tolist(), strict=True):
        table[lo : hi + 1] = SPACE
    return table


@cache
def accent_table() -> npt.NDArray[np.uint32]:
    """Dense accent-fold table, shape ``(0x110000,)``, uint32: maps a folded
    code point to its unaccented base, ``0`` meaning "delete"."""
    data = _load()
    table = np.arange(N_CODE_POINTS, dtype=np.uint32)
    table[data["accent_cp"]] = data["accent_to"]
    return table


@cache
def nfc_stable_table() -> npt.NDArray[np.uint8]:
    """Dense table, shape ``(0x110000,)``, uint8: 1 for an NFC-stable code point."""
    data = _load()
    table = np.ones(N_CODE_POINTS, dtype=np.uint8)
    for lo, hi in zip(data["nfc_unstable_lo"].tolist(), data["nfc_unstable_hi"].tolist(), strict=True):
        table[lo : hi + 1] = 0
    return table


@cache
def nfc_table() -> npt.NDArray[np.uint32]:
    """The kernel's NFC table, uint32, packed as described above."""
    return _load()["nfc"]


def main() -> None:
    """Regenerate ``unicode_tables.npz`` (run after a Python upgrade)."""
    tables = build_tables()
    np.savez_compressed(TABLES_FILE, **tables)  # type: ignore[arg-type]  # numpy stubs: **kwargs typed as ArrayLike
    print(f"wrote {TABLES_FILE} ({TABLES_FILE.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
