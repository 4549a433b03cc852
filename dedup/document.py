"""The units that flow through the pipeline: documents, and documents skipped.

Example:
    >>> Skipped("dump.jsonl", 7, "line is not JSON").describe()
    'skipped dump.jsonl:7: line is not JSON'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Document", "DocumentLike", "Skipped", "as_document"]


@dataclass(frozen=True)
class Document:
    """One input document.

    Attributes:
        id: Its id (relative path, JSONL id field, or ``FILE:LINE``).
        text: Its text as read.
    """

    id: str
    text: str


@dataclass(frozen=True)
class Skipped:
    """An input that is not in the result, and why.

    Attributes:
        path: The file (as named in ids), or the document id.
        line: 1-based line in a JSONL file, or None for a whole file.
        reason: Short human-readable reason.
    """

    path: str
    line: int | None
    reason: str

    @property
    def location(self) -> str:
        """``PATH`` or ``PATH:LINE``."""
        return self.path if self.line is None else f"{self.path}:{self.line}"

    def describe(self) -> str:
        """The one-line stderr report: ``skipped PATH[:LINE]: REASON``."""
        return f"skipped {self.location}: {self.reason}"


DocumentLike = str | tuple[str, str] | Document | Skipped
"""What the library accepts as a document: a text (its id is its position),
an ``(id, text)`` pair, or a Document / Skipped from :func:`dedup.read_documents`."""


def as_document(item: DocumentLike, position: int) -> Document | Skipped:
    """Turn any :data:`DocumentLike` into a Document (or pass a Skipped through)."""
    if isinstance(item, (Document, Skipped)):
        return item
    if isinstance(item, str):
        return Document(str(position), item)
    doc_id, text = item
    return Document(str(doc_id), text)
