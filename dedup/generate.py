"""News-like dumps with known near-duplicate clusters, for benchmarks and tests.

Each record is ``{"id", "text", "cluster"}``: documents sharing ``cluster``
are one story and its republished copies (the truth a scan should recover).
A copy is made by the edits news pipelines make (:func:`republish`): a few
words changed, re-wrapping, upper-casing, spaced punctuation, an appended
credit line, the other tone-mark style, NFD. Originals come from real source
text when given (read like any ``dedup`` input), else from a built-in
Vietnamese vocabulary; once the sources run out, new originals are
composites of paragraphs from three of them. The output is a pure function
of the arguments: the same seed gives the same bytes.

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> generate_dump(out, docs=5, dup_rate=0.4, seed=3)
    5
    >>> [json.loads(line)["cluster"] for line in out.getvalue().splitlines()]
    ['doc-0', 'doc-0', 'doc-2', 'doc-2', 'doc-4']
"""

from __future__ import annotations

import json
import os
import random
import textwrap
import unicodedata
from collections.abc import Iterator, Sequence
from typing import IO

from dedup.document import Document
from dedup.io import read_documents

__all__ = ["generate_dump", "republish"]

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


def generate_dump(
    out: IO[str],
    *,
    docs: int,
    dup_rate: float = 0.2,
    seed: int = 1,
    sources: Sequence[str | os.PathLike[str]] = (),
) -> int:
    """Write a JSONL dump of ``docs`` documents to ``out``; return the count.

    Args:
        out: A text stream.
        docs: Number of documents.
        dup_rate: Probability that a document is an edited copy of an
            earlier original.
        seed: Random seed (the output is a function of all arguments).
        sources: Files or folders of real text (any ``dedup`` input).

    Raises:
        ValueError: ``docs`` negative or ``dup_rate`` outside [0, 1).
    """
    if docs < 0:
        raise ValueError(f"docs must not be negative, got {docs}")
    if not 0.0 <= dup_rate < 1.0:
        raise ValueError(f"dup-rate must be in [0, 1), got {dup_rate}")
    rng = random.Random(seed)
    texts: list[str] = []  # the originals, in memory (real sources are a few hundred MB at most)
    ids: list[str] = []
    real = (d.text for d in read_documents(list(sources)) if isinstance(d, Document)) if sources else None
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
