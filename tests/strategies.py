"""Hypothesis strategies: news-like Vietnamese text and near-duplicate edits."""

from __future__ import annotations

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
