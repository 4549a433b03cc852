"""News-like dumps with known near-duplicate clusters, for benchmarks and tests.

Each record is ``{"id", "text", "cluster"}``: documents sharing ``cluster``
are one story and its republished copies (the truth a scan should recover).
A copy is made by the edits news pipelines make (:func:`republish`): a few
words changed, re-wrapping, upper-casing, spaced punctuation, an appended
credit line, the other tone-mark style, NFD. Originals come from real source
text when given (read like any ``dedup`` input), else from a built-in
Vietnamese vocabulary; once the sources run out, new originals are
composites of paragraphs from three of them. The output is a pure function
of the arguments: the same seed gives the same bytes. :func:`write_dump`
writes a file, compressed by its suffix (``.gz``, ``.zst``).

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> generate_dump(out, docs=5, dup_rate=0.4, seed=3)
    5
    >>> [json.loads(line)["cluster"] for line in out.getvalue().splitlines()]
    ['doc-0', 'doc-0', 'doc-2', 'doc-2', 'doc-4']
"""

from __future__ import annotations

import itertools
import json
import os
import random
import textwrap
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from typing import IO

from dedup.document import Document, Skipped
from dedup.errors import UsageError
from dedup.io import collect_inputs, read_documents
from dedup.output import check_outputs, open_output

__all__ = ["CONTAINMENT_KINDS", "containment_corpus", "generate_dump", "republish", "write_dump"]

SourcePaths = Sequence[str | os.PathLike[str]]

CREDITS = ["Theo VnExpress", "Nguồn: Tuổi Trẻ", "(Theo Thanh Niên)", "Theo VOV.VN", "TTXVN"]
TONE_SWAPS = {"hòa": "hoà", "thủy": "thuỷ", "khỏe": "khoẻ", "hóa": "hoá", "Hòa": "Hoà", "lòe": "loè"}
_FILLERS = ["và", "của", "đã", "sẽ", "này", "năm", "người"]
_VOCABULARY = [
    "chính",
    "phủ",
    "bộ",
    "trưởng",
    "quốc",
    "hội",
    "thành",
    "phố",
    "hà",
    "nội",
    "hồ",
    "chí",
    "minh",
    "đà",
    "nẵng",
    "người",
    "dân",
    "doanh",
    "nghiệp",
    "kinh",
    "tế",
    "tăng",
    "trưởng",
    "lạm",
    "phát",
    "ngân",
    "hàng",
    "lãi",
    "suất",
    "thị",
    "trường",
    "chứng",
    "khoán",
    "xuất",
    "khẩu",
    "nhập",
    "khẩu",
    "nông",
    "sản",
    "giá",
    "cả",
    "thời",
    "tiết",
    "mưa",
    "bão",
    "lũ",
    "lụt",
    "miền",
    "trung",
    "giao",
    "thông",
    "tai",
    "nạn",
    "cao",
    "tốc",
    "sân",
    "bay",
    "đường",
    "sắt",
    "giáo",
    "dục",
    "học",
    "sinh",
    "sinh",
    "viên",
    "trường",
    "đại",
    "học",
    "kỳ",
    "thi",
    "tốt",
    "nghiệp",
    "y",
    "tế",
    "bệnh",
    "viện",
    "bác",
    "sĩ",
    "dịch",
    "bệnh",
    "vắc",
    "xin",
    "bóng",
    "đá",
    "đội",
    "tuyển",
    "huấn",
    "luyện",
    "viên",
    "trận",
    "đấu",
    "chiến",
    "thắng",
    "văn",
    "hóa",
    "lễ",
    "hội",
    "du",
    "lịch",
    "khách",
    "quốc",
    "tế",
    "công",
    "nghệ",
    "điện",
    "thoại",
    "internet",
    "an",
    "ninh",
    "công",
    "an",
    "điều",
    "tra",
    "vụ",
    "án",
    "tòa",
    "án",
    "xét",
    "xử",
    "hòa",
    "bình",
    "đàm",
    "phán",
    "ngoại",
    "giao",
    "hợp",
    "tác",
    "thủy",
    "điện",
    "sức",
    "khỏe",
    "cho",
    "biết",
    "hôm",
    "nay",
    "theo",
    "báo",
    "cáo",
    "trong",
    "khi",
    "đó",
    "ngoài",
    "ra",
    "tuy",
    "nhiên",
    "đồng",
    "thời",
    "ông",
    "bà",
    "cho",
    "rằng",
    "dự",
    "kiến",
    "sẽ",
]


def republish(text: str, rng: random.Random) -> str:
    """Return an edited copy of ``text``, as a news pipeline republishes a story."""
    words = text.split(" ")
    rate = rng.choice([0.0, 0.002, 0.005, 0.01, 0.02])
    for i in rng.sample(range(len(words)), int(len(words) * rate)):
        words[i] = rng.choice(_FILLERS)
    text = " ".join(words)
    if rng.random() < 0.3:
        text = "\n\n".join(textwrap.fill(p, rng.choice([60, 72, 80])) for p in text.split("\n"))
    if rng.random() < 0.2:
        text = text.upper()
    if rng.random() < 0.3:
        text = text.replace(",", " ,").replace(".", " . ")
    if rng.random() < 0.4:
        text = text + "\n" + rng.choice(CREDITS)
    if rng.random() < 0.3:
        for old, new in TONE_SWAPS.items():
            text = text.replace(old, new)
    if rng.random() < 0.2:
        text = unicodedata.normalize("NFD", text)
    return text


def _synthetic(rng: random.Random) -> Iterator[str]:
    while True:
        paragraphs = []
        for _ in range(rng.randint(3, 8)):
            sentences = [" ".join(rng.choices(_VOCABULARY, k=rng.randint(8, 25))).capitalize() + "." for _ in range(3)]
            paragraphs.append(" ".join(sentences))
        yield "\n".join(paragraphs)


def _validate(docs: int, dup_rate: float, seed: int) -> None:
    if docs < 0:
        raise UsageError(f"docs must not be negative, got {docs}", option="docs")
    if not 0.0 <= dup_rate < 1.0:
        raise UsageError(f"dup_rate must be in [0, 1), got {dup_rate}", option="dup_rate")
    # The range a scan accepts, so a dump's seed can be reused for its scan.
    if not 0 <= seed < 2**32:
        raise UsageError(f"seed must be in [0, 2**32), got {seed}", option="seed")


def _source_texts(sources: SourcePaths, on_skip: Callable[[Skipped], None] | None) -> Iterator[str]:
    """The texts of ``sources`` in input order, or an error before any is used.

    Raises:
        InputError: a source does not exist.
        UsageError: the sources hold no document.
    """

    def texts() -> Iterator[str]:
        for item in read_documents(sources):
            if isinstance(item, Document):
                yield item.text
            elif on_skip is not None:
                on_skip(item)

    stream = texts()
    first = next(stream, None)
    if first is None:
        names = ", ".join(os.fspath(s) for s in sources)
        raise UsageError(f"source {names} holds no documents")
    return itertools.chain([first], stream)


def generate_dump(
    out: IO[str],
    *,
    docs: int,
    dup_rate: float = 0.2,
    seed: int = 1,
    sources: SourcePaths = (),
    on_skip: Callable[[Skipped], None] | None = None,
) -> int:
    """Write a JSONL dump of ``docs`` documents to ``out``; return the count.

    Args:
        out: A text stream.
        docs: Number of documents.
        dup_rate: Probability that a document is an edited copy of an
            earlier original.
        seed: Random seed in [0, 2**32), as a scan takes (the output is a
            function of all arguments).
        sources: Files or folders of real text (any ``dedup`` input); empty
            means the built-in vocabulary.
        on_skip: Called with each source document that cannot be used.

    Raises:
        UsageError: ``docs`` negative, ``dup_rate`` outside [0, 1), ``seed``
            outside [0, 2**32), or ``sources`` given but holding no document
            (checked before anything is written).
        InputError: a source does not exist.
    """
    _validate(docs, dup_rate, seed)
    rng = random.Random(seed)
    texts: list[str] = []  # the originals, in memory (real sources are a few hundred MB at most)
    ids: list[str] = []
    real = _source_texts(sources, on_skip) if sources else None
    synthetic = _synthetic(random.Random(seed + 1))

    def next_original() -> str:
        if real is not None:
            for text in real:
                return text
            if len(texts) >= 3:
                picks = rng.sample(texts, 3)
                paragraphs = [p for t in picks for p in t.split("\n") if p.strip()]
                rng.shuffle(paragraphs)
                return "\n".join(paragraphs[: max(3, len(paragraphs) // 3)])
        return next(synthetic)

    for i in range(docs):
        doc_id = f"doc-{i}"
        if texts and rng.random() < dup_rate:
            k = rng.randrange(len(texts))
            record = {"id": doc_id, "text": republish(texts[k], rng), "cluster": ids[k]}
        else:
            text = next_original()
            texts.append(text)
            ids.append(doc_id)
            record = {"id": doc_id, "text": text, "cluster": doc_id}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return docs


CONTAINMENT_KINDS = ("story", "teaser", "wire", "local", "page", "unrelated")
"""The ``kind`` of a :func:`containment_corpus` record."""

_CONTINUED = ["(Continued on page 7)", "Read more inside.", "(Tiếp theo trang 5)", "Full story: page 3"]


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n") if p.strip()]


def _lightly(paragraphs: Sequence[str], rng: random.Random) -> str:
    """The paragraphs as one text, re-published (:func:`republish`) half of the time."""
    text = "\n".join(paragraphs)
    return republish(text, rng) if rng.random() < 0.5 else text


def containment_corpus(stories: Sequence[str], *, seed: int = 1) -> list[dict[str, str]]:
    """News in which short documents sit inside longer ones, for containment.

    Stories are used in order, each once, in groups: a *teaser* (the first
    paragraphs of a story) with its story; a *wire* story with a *local*
    article that embeds all or a contiguous part of it between paragraphs
    of another story; a story split over two *page* documents with the whole
    story; or an *unrelated* story alone. Half of the copies are edited as
    :func:`republish` edits (a few words changed, a credit line...), so
    containment spreads below 1.0. Paragraphs are the lines (or blank-line
    separated blocks) of a story. The order is shuffled; the result is a
    pure function of the arguments.

    Args:
        stories: Source texts of several paragraphs each (fewer are
            treated as one paragraph).
        seed: Random seed.

    Returns:
        Records ``{"id", "text", "kind", "story"}``: ``kind`` one of
        :data:`CONTAINMENT_KINDS`, ``story`` the id of the group's story
        (the truth is left to an exact oracle: real sources hold their own
        repeats).
    """
    rng = random.Random(seed)
    records: list[dict[str, str]] = []
    pool = list(stories)
    pos = 0
    while pos < len(pool):
        group = f"s{pos}"
        story = _paragraphs(pool[pos])
        kind = rng.choices(["teaser", "wire", "page", "unrelated"], weights=[25, 25, 15, 35])[0]
        if kind == "wire" and pos + 1 < len(pool):
            host = _paragraphs(pool[pos + 1])
            pos += 2
            cut = rng.randint(0, len(host))
            keep = max(1, round(len(story) * rng.choice([1.0, 1.0, 0.8, 0.6])))
            start = rng.randint(0, len(story) - keep)
            local = host[:cut] + story[start : start + keep] + host[cut:]
            records.append({"text": "\n".join(story), "kind": "wire", "story": group})
            records.append({"text": _lightly(local, rng), "kind": "local", "story": group})
            continue
        pos += 1
        if kind == "teaser":
            lead = story[: rng.randint(1, max(1, len(story) // 3))]
            records.append({"text": "\n".join(story), "kind": "story", "story": group})
            records.append({"text": _lightly([*lead, rng.choice(_CONTINUED)], rng), "kind": "teaser", "story": group})
        elif kind == "page" and len(story) >= 2:
            cut = rng.randint(1, len(story) - 1)
            records.append({"text": "\n".join(story), "kind": "story", "story": group})
            records.append(
                {"text": _lightly([*story[:cut], rng.choice(_CONTINUED)], rng), "kind": "page", "story": group}
            )
            records.append({"text": _lightly(story[cut:], rng), "kind": "page", "story": group})
        else:
            records.append({"text": "\n".join(story), "kind": "unrelated", "story": group})
    rng.shuffle(records)
    return [{"id": f"doc-{i}", **record} for i, record in enumerate(records)]


def write_dump(
    path: str | os.PathLike[str] | None,
    *,
    docs: int,
    dup_rate: float = 0.2,
    seed: int = 1,
    sources: SourcePaths = (),
    on_skip: Callable[[Skipped], None] | None = None,
) -> int:
    """Write a dump (see :func:`generate_dump`) to a file, whole or not at all.

    Args:
        path: Where to write; a ``.gz`` or ``.zst`` name is compressed
            (deterministically: the same arguments give the same bytes);
            None or ``"-"`` is stdout.
        docs: Number of documents.
        dup_rate: Probability that a document is an edited copy.
        seed: Random seed in [0, 2**32).
        sources: Files or folders of real text.
        on_skip: Called with each source document that cannot be used.

    Returns:
        The number of documents written.

    Raises:
        UsageError: as :func:`generate_dump`, or ``path`` is one of the
            source files (checked before anything is written).
        InputError: a source does not exist.
        OutputError: ``path`` cannot be written.
    """
    _validate(docs, dup_rate, seed)
    check_outputs([("OUT", path)], collect_inputs(sources).files if sources else [])
    with open_output(path, compress=True) as out:
        return generate_dump(out, docs=docs, dup_rate=dup_rate, seed=seed, sources=sources, on_skip=on_skip)
