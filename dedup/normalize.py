"""Text normalization: the canonical form every comparison is made on.

The steps (see DESIGN.md):

1. Unicode NFC, so a story re-encoded to NFD compares equal.
2. Case fold (per code point, see :mod:`dedup._unicode`).
3. Every character that is not a letter, digit or combining mark becomes a
   space; whitespace runs fold to one space; no leading or trailing space.
   Punctuation separates words, it never glues them (``Mỹ-Taliban`` gives two
   words).
4. One Vietnamese tone-mark placement. For the syllable-final pairs oa, oe and
   uy, both ``hoà`` (mark on the last vowel) and ``hòa`` (mark on the first)
   are in use; the latter is kept. ``hoàng``, with a final consonant, has only
   one spelling and is left alone, and so is ``quý``, where ``u`` belongs to
   the consonant ``qu``.
5. Optionally (``fold_accents``), diacritics are stripped and ``đ`` becomes
   ``d``, so an unaccented copy matches the accented story.

All five steps run in one compiled pass (``dedup/_kernels.pyx``) over a whole
batch of UTF-8 documents (:func:`normalize_batch`); Python's own regular
expressions managed only ~1,100 Vietnamese news documents per second on this
work, a fifth of the rest of the pipeline. NFC runs only on the documents
that need it: the kernel checks each code point against a table of
NFC-stable ones (every code point below U+0300, precomposed Vietnamese...;
see :mod:`dedup._unicode`), and composes a document holding another one (NFD
Vietnamese, say) itself, with tables generated from :mod:`unicodedata`
(tested equal to ``unicodedata.normalize("NFC")``). Python's NFC
(:func:`renormalized`) remains for what the kernel leaves: a document whose
normalized text would outgrow its output region (3 bytes per input byte),
never seen.

Example:
    >>> normalize_text("Thuỷ  điện HOÀ BÌNH, khoẻ!")
    'thủy điện hòa bình khỏe'
    >>> normalize_text("Bộ trưởng Quốc phòng", fold_accents=True)
    'bo truong quoc phong'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from dedup._kernels import normalize_kernel
from dedup._threads import resolve_workers
from dedup._unicode import accent_table, case_table, nfc_stable_table, nfc_table

__all__ = [
    "encode_texts",
    "kernel_tables",
    "normalize_batch",
    "normalize_text",
    "normalize_utf8",
    "renormalized",
    "splice",
]

_G = TypeVar("_G", bound=np.generic)

_TONES = "\u0300\u0301\u0309\u0303\u0323"  # grave, acute, hook above, tilde, dot below


def _tone_table() -> npt.NDArray[np.uint32]:
    """Rows ``(first, toned_second, toned_first, second)``, shape ``(15, 4)``:
    ``first + toned_second`` at a syllable end is rewritten
    ``toned_first + second``."""
    rows = []
    for first, seconds in (("o", "ae"), ("u", "y")):
        for second in seconds:
            for tone in _TONES:
                rows.append(
                    (
                        ord(first),
                        ord(unicodedata.normalize("NFC", second + tone)),
                        ord(unicodedata.normalize("NFC", first + tone)),
                        ord(second),
                    )
                )
    return np.array(rows, dtype=np.uint32)


_TONE_TABLE = _tone_table()
_NO_TABLE = np.zeros(0, dtype=np.uint32)  # for the kernels' ``nfc``: no NFC there


def encode_texts(texts: Sequence[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """The UTF-8 bytes of all texts back to back: the input of the kernels.

    Returns:
        ``(buf, starts)``: uint8 bytes, and int64 offsets of shape
        ``(len(texts) + 1,)``.

    Raises:
        ValueError: ``texts`` is a single string (a sequence of its
            characters, which would be taken for one-character documents).
    """
    if isinstance(texts, str):
        raise ValueError("texts must be a sequence of strings, not a string")
    # "surrogatepass" keeps lone surrogates (from surrogateescape decoding),
    # which the kernel turns into spaces.
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    starts = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=starts[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), starts


def renormalized(
    buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Python's NFC of the UTF-8 texts ``rows`` (int64) of ``(buf, starts)``,
    packed the same way, for the kernel's second pass (without its check).

    Raises:
        ValueError: ``rows`` is out of range for ``starts``.
    """
    texts = [
        unicodedata.normalize("NFC", buf[starts[r] : starts[r + 1]].tobytes().decode("utf-8", "surrogatepass"))
        for r in rows.tolist()
    ]
    return encode_texts(texts)


def splice(
    values: npt.NDArray[_G],
    starts: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    sub_values: npt.NDArray[_G],
    sub_starts: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[_G], npt.NDArray[np.int64]]:
    """Put the runs of ``(sub_values, sub_starts)`` in place of the empty
    runs ``rows`` (int64, ascending) of ``(values, starts)``.

    Returns:
        ``(values, starts)`` with ``values``' dtype and int64 offsets of
        ``starts``' shape.
    """
    sub_sizes = np.diff(sub_starts)
    sizes = np.diff(starts)
    sizes[rows] = sub_sizes
    out_starts = np.zeros(len(starts), dtype=np.int64)
    np.cumsum(sizes, out=out_starts[1:])
    # Several values inserted before one index keep their order.
    at = np.repeat(starts[rows], sub_sizes)
    out: npt.NDArray[_G] = np.insert(values, at, sub_values[sub_starts[0] : sub_starts[-1]])
    return out, out_starts


def kernel_tables(
    fold_accents: bool,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32], npt.NDArray[np.uint8], npt.NDArray[np.uint32]]:
    """``(case, accent, stable, tones)``: the tables the compiled normalization reads."""
    case = case_table()
    # The kernel reads the accent table only when folding accents.
    return case, accent_table() if fold_accents else case, nfc_stable_table(), _TONE_TABLE


def normalize_batch(
    texts: Sequence[str], *, fold_accents: bool = False, workers: int | None = None
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Normalize a batch of documents in one compiled pass.

    Args:
        texts: The documents, any Unicode text.
        fold_accents: Also strip diacritics and map ``đ`` to ``d``.
        workers: Threads (default: all cores); the result does not depend on it.

    Returns:
        ``(buf, offsets)``: ``buf`` is uint8, shape ``(total_bytes,)``, the
        UTF-8 of every normalized document back to back; ``offsets`` is int64,
        shape ``(len(texts) + 1,)``, document ``i`` being
        ``buf[offsets[i]:offsets[i + 1]]``.

    Raises:
        ValueError: ``texts`` is a single string, not a sequence of them.
    """
    text, starts = encode_texts(texts)
    return normalize_utf8(text, starts, fold_accents=fold_accents, workers=workers)


def normalize_utf8(
    text: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.int64],
    *,
    fold_accents: bool = False,
    workers: int | None = None,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """:func:`normalize_batch` of texts already in UTF-8 (``"surrogatepass"``):
    uint8 ``text`` and int64 ``starts`` of shape ``(n + 1,)``, as from
    :func:`encode_texts` (trusted: not checked)."""
    case, accent, stable, tones = kernel_tables(fold_accents)
    threads = resolve_workers(workers)
    buf, offsets, needs = normalize_kernel(
        text, starts, case, accent, stable, nfc_table(), fold_accents, True, tones, threads
    )
    rows = np.flatnonzero(needs)
    if len(rows):
        nfc, nfc_starts = renormalized(text, starts, rows)
        sub, sub_offsets, _ = normalize_kernel(
            nfc, nfc_starts, case, accent, stable, _NO_TABLE, fold_accents, False, tones, threads
        )
        buf, offsets = splice(buf, offsets, rows, sub, sub_offsets)
    return buf, offsets


def normalize_text(text: str, *, fold_accents: bool = False) -> str:
    """Return the canonical form of ``text`` used for shingling.

    Idempotent: ``normalize_text(normalize_text(t)) == normalize_text(t)``.

    Args:
        text: Any Unicode text.
        fold_accents: Also strip diacritics and map ``đ`` to ``d``.

    Returns:
        Words separated by single spaces; ``""`` when ``text`` has no letter
        or digit.
    """
    buf, _ = normalize_batch([text], fold_accents=fold_accents)
    return buf.tobytes().decode("utf-8")
