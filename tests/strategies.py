"""Hypothesis strategies: news-like Vietnamese text and near-duplicate edits."""

from __future__ import annotations

import gzip
import json
import unicodedata

import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st

# Syllables of real Vietnamese news, including the oa/oe/uy endings whose
# tone-mark placement varies and words with đ.
SYLLABLES = [
    "mỹ",
    "và",
    "taliban",
    "nối",
    "lại",
    "đàm",
    "phán",
    "hòa",
    "bình",
    "đại",
    "diện",
    "đặc",
    "biệt",
    "của",
    "về",
    "giải",
    "afghanistan",
    "sứ",
    "zalmay",
    "khalilzad",
    "đã",
    "lên",
    "đường",
    "tới",
    "qatar",
    "với",
    "mệnh",
    "thúc",
    "đẩy",
    "các",
    "cuộc",
    "lực",
    "lượng",
    "thông",
    "cáo",
    "báo",
    "chí",
    "bộ",
    "ngoại",
    "giao",
    "cho",
    "biết",
    "tại",
    "thủ",
    "đô",
    "doha",
    "sẽ",
    "đây",
    "là",
    "một",
    "phần",
    "nỗ",
    "tổng",
    "thể",
    "nhằm",
    "tạo",
    "thuận",
    "lợi",
    "tiến",
    "trình",
    "qua",
    "đó",
    "chấm",
    "dứt",
    "xung",
    "đột",
    "kéo",
    "dài",
    "thủy",
    "điện",
    "khỏe",
    "quý",
    "hoàng",
    "người",
    "dân",
    "năm",
    "2020",
    "chính",
    "phủ",
    "tỉnh",
    "thành",
    "phố",
    "hà",
    "nội",
    "việt",
    "nam",
    "tin",
    "liên",
    "quan",
    "từ",
    "chối",
    "trực",
    "tiếp",
]

words = st.sampled_from(SYLLABLES)
sentences = st.lists(words, min_size=3, max_size=25).map(lambda ws: " ".join(ws).capitalize() + ".")
news_texts = st.lists(sentences, min_size=1, max_size=12).map(" ".join)
long_news_texts = st.lists(sentences, min_size=12, max_size=30).map(" ".join)

# Arbitrary Unicode, weighted toward the characters normalization cares about.
unicode_texts = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("oaeuyOAEUYàáảãạèéẻẽẹỳýỷỹỵòóỏõọùúủũụđĐ \n\t.,-_'\"\u0300\u0301\u0309\u0303\u0323")),
    ),
    max_size=80,
)


@st.composite
def near_duplicate(draw: st.DrawFn, text: str, max_edits: int = 3) -> str:
    """An edited copy of ``text``: a few words replaced, inserted or deleted."""
    tokens = text.split(" ")
    for _ in range(draw(st.integers(0, max_edits))):
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        i = draw(st.integers(0, max(len(tokens) - 1, 0)))
        if op == "replace" and tokens:
            tokens[i] = draw(words)
        elif op == "insert":
            tokens.insert(i, draw(words))
        elif op == "delete" and len(tokens) > 1:
            del tokens[i]
    return " ".join(tokens)


# Lines that repeat: a small pool of 4+ word sentences, so documents share blocks.
_block_pool = st.lists(
    st.lists(words, min_size=4, max_size=8).map(" ".join), min_size=1, max_size=5, unique_by=lambda s: s.lower()
)


@st.composite
def line_documents(draw: st.DrawFn) -> list[str]:
    """A few documents whose lines come from one small pool (so blocks repeat
    inside and across documents), with ``\\n`` or ``\\r\\n`` line ends and
    blank lines, ending with a line end or not."""
    pool = draw(_block_pool)
    line = st.one_of(st.sampled_from(pool), st.just(""))
    docs = []
    for _ in range(draw(st.integers(1, 4))):
        lines = draw(st.lists(line, max_size=8))
        ends = draw(st.lists(st.sampled_from(["\n", "\r\n"]), min_size=len(lines), max_size=len(lines)))
        text = "".join(a + b for a, b in zip(lines, ends, strict=True))
        docs.append(text if draw(st.booleans()) else text.removesuffix(ends[-1] if ends else ""))
    return docs


@st.composite
def jsonl_records(draw: st.DrawFn) -> list[bytes]:
    """JSONL lines as written by hand: records with a text of pool lines,
    keys in any order, odd spacing, 30-digit integers, NaN, a repeated text
    key; and lines that are not records."""
    pool = draw(_block_pool)
    space = st.sampled_from(["", " ", "  ", "\t"])
    out = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["record", "record", "record", "not json", "blank", "array"]))
        if kind == "not json":
            out.append(b"not json {")
            continue
        if kind == "blank":
            out.append(draw(space).encode())
            continue
        if kind == "array":
            out.append(b"[1, 2]")
            continue
        text = "\n".join(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=5)))
        fields = [
            ("text", json.dumps(text, ensure_ascii=draw(st.booleans()))),
            ("n", str(draw(st.integers(-(10**30), 10**30)))),
            ("x", draw(st.sampled_from(["NaN", "-Infinity", "1.50", "1e400", "null", '[1, {"a": 2}]']))),
        ]
        if draw(st.booleans()):
            fields.append(("id", json.dumps(draw(st.sampled_from(["a", "b", 5])))))
        fields = draw(st.permutations(fields))
        if draw(st.booleans()):
            fields.insert(0, ("text", '"overridden by the later text key"'))
        s = [draw(space) for _ in range(4)]
        body = ",".join(f'{s[0]}"{k}"{s[1]}:{s[2]}{v}{s[3]}' for k, v in fields)
        out.append(("{" + body + "}").encode())
    return out


# Hostile files for the command line: odd names (non-UTF-8 bytes, spaces,
# brackets), and contents a real dump throws at a reader.
_EXTENSIONS = [b".txt", b".jsonl", b".md", b".csv", b".jsonl.gz", b".txt.zst", b".html", b""]
_NAME_BYTES = st.binary(min_size=1, max_size=12).map(lambda b: b.replace(b"/", b"_").replace(b"\x00", b"_"))


@st.composite
def file_names(draw: st.DrawFn) -> bytes:
    """A file name as bytes: arbitrary bytes (maybe not UTF-8) and an extension."""
    stem = draw(st.one_of(_NAME_BYTES, st.sampled_from([b"tin t\xe1\xbb\xa9c", b"[draft] a", b"x y", b"a\xff"])))
    if stem.startswith(b"."):
        stem = b"_" + stem
    return stem + draw(st.sampled_from(_EXTENSIONS))


def _jsonl_line(record: str) -> bytes:
    return record.encode("utf-8", "surrogatepass") + b"\n"


_JSON_RECORDS = st.sampled_from(
    [
        '{"id": 5, "text": "Mỹ và Taliban nối lại đàm phán hòa bình tại Doha"}',
        '{"id": "5", "text": "Mỹ và Taliban nối lại đàm phán hòa bình tại Doha"}',
        '{"id": "\\ud800", "text": "lone surrogate id \\udcff in text too"}',
        '{"id": 123456789012345678901234567890, "text": "a 30-digit id"}',
        '{"id": NaN, "text": "NaN as id"}',
        '{"text": "no id at all, the line number is the id"}',
        '{"text": 42}',
        '{"text": "   "}',
        "[1, 2, 3]",
        "{not json",
        "",
    ]
)


@st.composite
def file_contents(draw: st.DrawFn) -> bytes:
    """Bytes of a file: news text (UTF-8, CRLF, Latin-ish), JSONL with bad
    lines, random bytes, compressed or cut streams."""
    kind = draw(st.sampled_from(["text", "crlf", "jsonl", "random", "gzip", "cut-gzip", "empty", "latin"]))
    if kind == "text":
        return draw(news_texts).encode()
    if kind == "crlf":
        return "\r\n".join(draw(st.lists(sentences, min_size=1, max_size=6))).encode()
    if kind == "jsonl":
        return b"".join(_jsonl_line(r) for r in draw(st.lists(_JSON_RECORDS, max_size=8)))
    if kind == "random":
        return draw(st.binary(max_size=200))
    if kind == "latin":
        return draw(news_texts).encode("utf-8").replace(b"\xc3", b"\xe3")
    if kind == "empty":
        return b""
    blob = gzip.compress(b"".join(_jsonl_line(r) for r in draw(st.lists(_JSON_RECORDS, min_size=1, max_size=8))))
    return blob if kind == "gzip" else blob[: draw(st.integers(0, len(blob)))]


# Fragments of news sentences in scripts written without spaces (Thai,
# Chinese, Japanese kanji and kana), for the character-shingle fallback of a
# word scan; and texts mixing them with Vietnamese syllables, around the
# "more than half the letters" line.
UNSPACED_FRAGMENTS = [
    "นายกรัฐมนตรี",
    "เดินทางไปเยือน",
    "ประเทศญี่ปุ่น",
    "เพื่อหารือเรื่อง",
    "ความร่วมมือทางเศรษฐกิจ",
    "กรมอุตุนิยมวิทยา",
    "ประกาศเตือนประชาชน",
    "国务院总理",
    "今天在北京",
    "会见了来访的",
    "越南政府代表团",
    "双方就加强经贸合作",
    "交换了意见",
    "気象庁によりますと",
    "台風十号は",
    "今夜から明日にかけて",
    "九州南部に接近する",
    "見込みです",
    "カタカナ",
]
unspaced_sentences = st.lists(st.sampled_from(UNSPACED_FRAGMENTS), min_size=1, max_size=8).map(
    lambda fs: "".join(fs) + "。"
)
unspaced_texts = st.lists(unspaced_sentences, min_size=1, max_size=6).map(" ".join)
mixed_script_texts = st.lists(st.one_of(words, st.sampled_from(UNSPACED_FRAGMENTS)), max_size=12).map(" ".join)


@st.composite
def scan_corpora(draw: st.DrawFn) -> list[tuple[str, str]]:
    """``(id, text)`` documents for a scan: stories and their near-duplicate
    copies, ids that repeat (some spelled as another's fallback location),
    and texts without words (empty, punctuation only)."""
    originals = draw(st.lists(news_texts, min_size=1, max_size=6))
    texts: list[str] = []
    for _ in range(draw(st.integers(2, 30))):
        kind = draw(st.sampled_from(["original", "copy", "copy", "wordless"]))
        if kind == "wordless":
            texts.append(draw(st.sampled_from(["", " ", "...", "— !"])))
        else:
            text = draw(st.sampled_from(originals))
            texts.append(text if kind == "original" else draw(near_duplicate(text)))
    ids = draw(st.lists(st.sampled_from(["a", "b", "c", "a#2", "1", "2"]), min_size=len(texts), max_size=len(texts)))
    return list(zip(ids, texts, strict=True))


@st.composite
def containment_corpora(draw: st.DrawFn) -> list[str]:
    """Stories with documents inside others: leads of a story, a story
    embedded in a longer one, a story cut in two, and unrelated stories."""
    stories = draw(st.lists(st.lists(sentences, min_size=2, max_size=10), min_size=1, max_size=5))
    docs = [" ".join(s) for s in stories]
    for story in stories:
        kind = draw(st.sampled_from(["lead", "embedded", "halves", "none"]))
        cut = draw(st.integers(1, len(story) - 1))
        if kind == "lead":
            docs.append(" ".join(story[:cut]))
        elif kind == "embedded":
            docs.append(" ".join([*draw(st.lists(sentences, min_size=1, max_size=8)), *story]))
        elif kind == "halves":
            docs.extend([" ".join(story[:cut]), " ".join(story[cut:])])
    return draw(st.permutations(docs))


@st.composite
def block_corpora(draw: st.DrawFn) -> list[tuple[str, str]]:
    """``(id, text)`` documents whose lines and paragraphs repeat exactly and
    nearly (lines of a small pool, and edited copies of them), with ids that
    repeat."""
    pool = draw(_block_pool)
    edited = [draw(near_duplicate(line, max_edits=1)) for line in pool]
    line = st.one_of(st.sampled_from(pool), st.sampled_from(edited), st.just(""))
    texts = ["\n".join(draw(st.lists(line, max_size=8))) for _ in range(draw(st.integers(1, 8)))]
    ids = draw(st.lists(st.sampled_from(["a", "b", "a#2", "1"]), min_size=len(texts), max_size=len(texts)))
    return list(zip(ids, texts, strict=True))


# JSONL lines for the compiled parser: valid objects with the fields in any
# order, ids of every JSON type, texts with escapes, NFD Vietnamese, Python
# whitespace and surrogate pairs; and the ways a line can be something else
# (duplicate keys, escaped keys, lone surrogates, invalid UTF-8, bad
# numbers, nesting, truncation), each of which Python must decide.
_JSON_SCALARS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=6),
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
)
_JSONL_TEXTS = st.one_of(
    news_texts,
    news_texts.map(lambda t: unicodedata.normalize("NFD", t)),
    unicode_texts,
    st.text(alphabet=st.sampled_from(list(" \t\r\n\x0b\x1c\x85\xa0\u2000\u2028\u3000\u200bab\U0001f600")), max_size=8),
)


@st.composite
def jsonl_lines(draw: st.DrawFn) -> bytes:
    """One JSONL line (without its newline), mostly a valid record."""
    import json

    fields: list[tuple[str, object]] = [("text", draw(_JSONL_TEXTS))]
    if draw(st.booleans()):
        fields.append(("id", draw(st.one_of(_JSON_VALUES, st.just(""), st.just("-0")))))
    for _ in range(draw(st.integers(0, 2))):
        fields.append((draw(st.sampled_from(["tags", "url", "text", "id", "x"])), draw(_JSON_VALUES)))
    fields = draw(st.permutations(fields))
    ascii_only = draw(st.booleans())
    sep = draw(st.sampled_from([", ", ",", " ,\t"]))
    line = "{" + sep.join(f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=ascii_only)}" for k, v in fields) + "}"
    raw = line.encode("utf-8", "surrogatepass")
    edit = draw(st.sampled_from(["none"] * 6 + ["key", "lone", "bytes", "cut", "space", "minus0", "big"]))
    if edit == "key":
        raw = raw.replace(b'"text"', b'"te\\u0078t"', 1)
    elif edit == "lone":
        raw = raw.replace(b'"text": "', b'"text": "\\ud83d', 1)
    elif edit == "bytes":
        raw = raw.replace(b'"text": "', b'"text": "\xed\xa0\x80\xc0\xff', 1)
    elif edit == "cut":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif edit == "space":
        raw = b" \t" + raw + b" \r"
    elif edit == "minus0":
        raw = raw.replace(b"{", b'{"id": -0, ', 1)
    elif edit == "big":
        raw = raw.replace(b"{", b'{"n": 1e999, "m": -0.5E+3, ', 1)
    return raw


# Texts to split into blocks: lines of news (some NFD, so NFC falls back to
# Python), arbitrary Unicode, and Python whitespace only (blank lines), ended
# by "\n", "\r\n", a "\r" before one, or nothing at the very end.
_BLOCK_LINES = st.one_of(
    news_texts,
    news_texts.map(lambda t: unicodedata.normalize("NFD", t)),
    unicode_texts.filter(lambda t: "\n" not in t),
    st.text(alphabet=st.sampled_from(list(" \t\r\x0b\x0c\x1c\x85\xa0\u2000\u2028\u3000\u200b\udc80a")), max_size=4),
)


@st.composite
def block_texts(draw: st.DrawFn) -> str:
    """One text of lines and blank lines with mixed line ends."""
    lines = draw(st.lists(_BLOCK_LINES, max_size=10))
    ends = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r\r\n", "\n\n"]), min_size=len(lines), max_size=len(lines)))
    text = "".join(a + b for a, b in zip(lines, ends, strict=True))
    return text if draw(st.booleans()) else text[: len(text) - draw(st.integers(0, 2))]


# UTF-8 "soup" for the compiled kernels, which take bytes: news text (NFC and
# NFD, so some documents need Python's NFC), unspaced scripts, lone and paired
# surrogates as "surrogatepass" writes them, and bytes that are not UTF-8
# (stray continuations, truncated sequences, overlong forms).
_SOUP_PIECES = st.one_of(
    news_texts.map(lambda t: t.encode()),
    news_texts.map(lambda t: unicodedata.normalize("NFD", t).encode()),
    mixed_script_texts.map(lambda t: t.encode()),
    st.sampled_from(["\ud800", "\udc00", "\ud83d\ude00", "\ud800x", " \udfff "]).map(
        lambda t: t.encode("utf-8", "surrogatepass")
    ),
    st.sampled_from([b"\x80", b"\xc3", b"\xe1\xbb", b"\xc0\xaf", b"\xe0\x80\x80", b"\xf4\x90\x80\x80", b"\xff"]),
    st.binary(max_size=8),
)
utf8_soup = st.lists(_SOUP_PIECES, max_size=8).map(b"".join)


# Pieces of a JSON string's bytes as written: ASCII runs, valid UTF-8 of
# every length (and the edges of the ranges), escapes, and byte sequences
# that are not strict UTF-8 (overlong, surrogate, past U+10FFFF, cut, stray
# continuation bytes): what the compiled string scan must judge as Python does.
JSON_STRING_PIECES = [
    b"a",
    b"tin ",
    b"x" * 15,
    b"\xc3\xa9",
    b"\xe1\xba\xa1",
    b"\xe2\x82\xac",
    b"\xf0\x9d\x84\x9e",
    b"\xf4\x8f\xbf\xbf",
    b"\xe0\xa0\x80",
    b"\xed\x9f\xbf",
    b"\xee\x80\x80",
    b"\xf0\x90\x80\x80",
    b"\xc2\x80",
    b"\\n",
    b"\\\\",
    b'\\"',
    b"\\u00e9",
    b"\\ud83d\\ude00",
    b"\\u0000",
]
JSON_STRING_BAD_PIECES = [
    b"\xc0\x80",
    b"\xc1\xbf",
    b"\xe0\x9f\xbf",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xf0\x8f\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\xff",
    b"\x80",
    b"\xbf",
    b"\xc3",
    b"\xe1\xba",
    b"\xf0\x9d\x84",
    b"\xc3\xc3\xa9",
    b"\xe1\xba\xa1\x80",
    b"\x1f",
    b"\\ude00",
    b"\\x",
]


@st.composite
def json_string_bytes(draw: st.DrawFn) -> bytes:
    """The bytes of a JSON string's value as written (between its quotes),
    mostly valid, long enough to cross the scan's 16-byte chunks."""
    pieces = draw(st.lists(st.sampled_from(JSON_STRING_PIECES), max_size=40))
    if draw(st.integers(0, 3)) == 0:
        bad = draw(st.sampled_from(JSON_STRING_BAD_PIECES))
        pieces.insert(draw(st.integers(0, len(pieces))), bad)
    return b"".join(pieces)


# Text for the kernel's NFC (UAX #15 in dedup/_kernels.pyx): Vietnamese in NFD
# and in NFC side by side, combining marks stacked in odd orders (classes out
# of order, repeated; runs long enough for the linear sort), marks after
# digits, punctuation and spaces and at a text's start, Hangul jamo and
# syllables, composition exclusions, singletons and the scripts whose second
# halves are starters, lone and paired surrogates.
NFC_MARKS = [chr(c) for c in range(0x300, 0x370)] + [
    "\u05b0", "\u05bc", "\u05c1", "\u093c", "\u0e38", "\u0f71", "\u0f72", "\u0f74", "\u0f80",
    "\u1dc0", "\u20d0", "\u302a", "\u3099", "\U0001d165", "\U0001d16e",
]  # fmt: skip
_NFC_ODD = [
    "\u1100", "\u1161", "\u11a8", "\u11c3", "\uac00", "\uac01", "\u0344", "\u0f73", "\u0958", "\ufb2c",
    "\U0001d160", "\u212b", "\u2126", "\u0b47", "\u0b3e", "\u0b57", "\u1b05", "\u1b35", "\u0dd9", "\u0dcf",
    "\u0dca", "\u3046", "\u0cc6", "\u0cc2", "\u0cd5", "\U00011131", "\U00011127", "\u00c5", "\u01fa", "\u1e69",
]  # fmt: skip
_NFC_PIECES = st.one_of(
    news_texts.map(lambda t: unicodedata.normalize("NFD", t)),
    news_texts,
    st.lists(st.sampled_from(SYLLABLES), min_size=1, max_size=6).map(
        lambda ws: unicodedata.normalize("NFD", " ".join(ws).upper())
    ),
    st.lists(st.sampled_from(NFC_MARKS), min_size=1, max_size=6).map("".join),
    st.lists(
        st.sampled_from(NFC_MARKS[:8] + NFC_MARKS[0x23:0x28] + ["\u0345", "\u031b"]), min_size=30, max_size=70
    ).map("".join),
    st.sampled_from(list("aAeEoOuUyYiIđĐơưăâêô09 .-\n")),
    st.sampled_from(_NFC_ODD),
    st.sampled_from(["\ud800", "\udc00", "\ud83d\ude00", "\udbff\udfff"]),
    st.characters(codec="utf-8"),
)
nfc_texts = st.lists(_NFC_PIECES, max_size=14).map("".join)
# The same as bytes, with bytes that are not UTF-8 between the pieces.
nfc_soup = st.lists(
    st.one_of(
        nfc_texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.sampled_from([b"\x80", b"\xc3", b"\xe1\xbb", b"\xcc", b"\xe0\x80\x80", b"\xf4\x90\x80\x80", b"\xff"]),
        st.binary(max_size=4),
    ),
    max_size=6,
).map(b"".join)


# Ids as a report may meet them: any code point, lone surrogates included
# (a file name that is not UTF-8, an escaped "\ud800" in a JSONL id), with
# quotes, backslashes and control characters that JSON escapes.
# (A list joined, not st.text: text() merges its alphabet into one range of
# code points, where the few special ones are almost never drawn.)
report_ids = st.lists(
    st.sampled_from('"\\\n\x00\x1f\x7f\ud800\udce9é') | st.characters(codec=None, exclude_categories=()), max_size=8
).map("".join)


@st.composite
def report_clusters(draw: st.DrawFn) -> list[tuple[list[str], list[float], int]]:
    """Clusters as ``(ids, similarities, kept position)``: similarities any
    float in [0, 1] (their rounding to 6 decimals is part of the format)."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        ids = draw(st.lists(report_ids, min_size=2, max_size=5, unique=True))
        sims = draw(st.lists(st.floats(0.0, 1.0), min_size=len(ids), max_size=len(ids)))
        out.append((ids, sims, draw(st.integers(0, len(ids) - 1))))
    return out


@st.composite
def edit_chains(draw: st.DrawFn) -> list[str]:
    """Stories each followed by a chain of copies, every copy an edit of the
    one before: at a low threshold the chain's ends can be less similar than
    the threshold while each link is above it (a cluster through a chain)."""
    docs: list[str] = []
    for text in draw(st.lists(long_news_texts, min_size=1, max_size=3)):
        docs.append(text)
        for _ in range(draw(st.integers(1, 4))):
            docs.append(draw(near_duplicate(docs[-1], max_edits=6)))
    return docs


# Table cells as a scan shows them: ids and numbers with wide (CJK) and
# zero-width (combining) characters, Vietnamese in NFC and NFD.
table_cells = st.lists(
    st.sampled_from(["a", "Z", "0", "/", " ", "(keep)", "ệ", "e\u0323\u0302", "北", "京", "ｶ", "é", "😀"]),
    min_size=1,
    max_size=12,
).map("".join)


# Shingle-hash arrays for the per-document sort (tests/test_sort.py): uniform
# values as XXH64 gives them, and what it never gives: values in a narrow
# range (one bucket: the sorts' fallbacks), all equal, a few repeated, with
# 0 and 2**64 - 1 (the network's padding value) sprinkled in. Sizes up to
# 5,000, small ones (one 16-lane network, no buckets) often.
_EDGE_HASHES = [0, 1, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1]
_any_hash = st.sampled_from(_EDGE_HASHES) | st.integers(0, 2**64 - 1)


@st.composite
def hash_arrays(draw: st.DrawFn) -> npt.NDArray[np.uint64]:
    n = draw(st.integers(0, 40) | st.integers(0, 5000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = draw(st.sampled_from(["uniform", "narrow", "equal", "few"]))
    if shape == "uniform":
        values = rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)
    elif shape == "narrow":
        width, shift = draw(st.integers(1, 40)), draw(st.integers(0, 24))
        values = rng.integers(0, 2**width, n, dtype=np.uint64) << np.uint64(shift)
    elif shape == "equal":
        values = np.full(n, draw(_any_hash), dtype=np.uint64)
    else:
        values = rng.choice(np.array(draw(st.lists(_any_hash, min_size=1, max_size=8)), dtype=np.uint64), n)
    edges = draw(st.lists(st.sampled_from(_EDGE_HASHES), max_size=min(n, 8)))
    values[rng.choice(n, len(edges), replace=False)] = np.array(edges, dtype=np.uint64)
    return values
