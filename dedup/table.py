"""Tables for people (``--format table``), drawn as plain lines of text.

The look of a rich table with its default box, without rich laying out
every cell: rich measured, wrapped and styled each of the tens of
thousands of cells of a large scan one by one, which took as long as the
scan itself. Here the column widths are measured once (in terminal cells,
with rich's own width tables: wide CJK characters take two, combining marks
none) and each row is one formatted string. Only the title and the header
are styled, by the caller.

A table wider than the space it is given narrows its widest columns, and a
cell longer than its column is folded onto the following lines: nothing is
cut off.

Example:
    >>> table = TextTable("1 cluster", ["cluster", "document"], [["0", "a.txt"], ["0", "b.txt"]], [2])
    >>> print("\\n".join(line.rstrip() for line in table.lines(80)))
          1 cluster
    ┏━━━━━━━━━┳━━━━━━━━━━┓
    ┃ cluster ┃ document ┃
    ┡━━━━━━━━━╇━━━━━━━━━━┩
    │ 0       │ a.txt    │
    │ 0       │ b.txt    │
    └─────────┴──────────┘
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, get_character_cell_size

__all__ = ["TextTable"]

_MIN_COLUMN = 4
"""Narrowest a column is made to fit the width (in cells)."""


@dataclass
class TextTable:
    """A titled table with a header row and sections of rows.

    Attributes:
        title: Shown centred above the table.
        headers: Column names.
        rows: Cells as shown (already printable: no control characters),
            one list per row, as many as ``headers``.
        section_ends: Row counts after which a section ends (a rule is
            drawn between sections), ascending; the last may equal
            ``len(rows)``.
    """

    title: str
    headers: list[str]
    rows: list[list[str]]
    section_ends: list[int]

    def widths(self, space: int) -> list[int]:
        """Each column's width in cells: its widest cell, the widest
        columns narrowed until the table fits ``space`` cells (or every
        column is down to the minimum)."""
        return _fit(self._sizes(), self.headers, space)

    def _columns(self) -> list[tuple[str, ...]]:
        """The cells column by column."""
        return list(zip(*self.rows, strict=True)) or [() for _ in self.headers]

    def _sizes(self) -> list[list[int]]:
        """Each column's cells' widths in cells."""
        return [list(map(cell_len, column)) for column in self._columns()]

    def lines(self, space: int) -> list[str]:
        """The table as lines of text, at most ``space`` cells wide where
        the columns can be narrowed that far: the title, the top border,
        the header (``lines[2]``), the header rule, the rows with a rule
        between sections, and the bottom border."""
        sizes = self._sizes()
        widths = _fit(sizes, self.headers, space)
        total = sum(widths) + 3 * len(widths) + 1
        title_pad = max(total - cell_len(self.title), 0)
        out = [" " * (title_pad // 2) + self.title + " " * (title_pad - title_pad // 2)]
        out.append("┏" + "┳".join("━" * (w + 2) for w in widths) + "┓")
        out.extend(_row(self.headers, widths, "┃"))
        out.append("┡" + "╇".join("━" * (w + 2) for w in widths) + "┩")
        # Column by column: each cell padded to its column's width (the
        # rows with a cell to fold are redone one by one below).
        padded = [
            [f" {cell}{' ' * (width - size + 1)}" for cell, size in zip(column, column_sizes, strict=True)]
            for column, column_sizes, width in zip(self._columns(), sizes, widths, strict=True)
        ]
        body = ["│" + "│".join(cells) + "│" for cells in zip(*padded, strict=True)]
        folded = False
        for column_sizes, width in zip(sizes, widths, strict=True):
            for number, size in enumerate(column_sizes):
                if size > width:
                    body[number] = "\n".join(_row(self.rows[number], widths, "│"))
                    folded = True
        rule = "├" + "┼".join("─" * (w + 2) for w in widths) + "┤"
        start = 0
        for end in [*self.section_ends, len(body)]:
            if end > start:
                if start > 0:
                    out.append(rule)
                out.extend(body[start:end])
                start = end
        out.append("└" + "┴".join("─" * (w + 2) for w in widths) + "┘")
        return "\n".join(out).split("\n") if folded else out


def _fit(sizes: list[list[int]], headers: Sequence[str], space: int) -> list[int]:
    """Column widths for cells of these widths (see :meth:`TextTable.widths`)."""
    widths = [max(cell_len(h), max(column, default=0)) for h, column in zip(headers, sizes, strict=True)]
    room = space - (3 * len(widths) + 1)
    while sum(widths) > room:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        if widths[widest] <= _MIN_COLUMN:
            break
        widths[widest] -= 1
    return widths


def _row(cells: Sequence[str], widths: Sequence[int], bar: str) -> list[str]:
    """One row, on as many lines as its longest folded cell takes."""
    folded = [_fold(cell, width) for cell, width in zip(cells, widths, strict=True)]
    height = max(len(f) for f in folded)
    lines = []
    for i in range(height):
        parts = []
        for pieces, width in zip(folded, widths, strict=True):
            piece = pieces[i] if i < len(pieces) else ""
            parts.append(" " + piece + " " * (width - cell_len(piece) + 1))
        lines.append(bar + bar.join(parts) + bar)
    return lines


def _fold(text: str, width: int) -> list[str]:
    """``text`` in pieces of at most ``width`` cells (one piece if it fits)."""
    if cell_len(text) <= width:
        return [text]
    pieces, piece, used = [], "", 0
    for char in text:
        size = get_character_cell_size(char)
        if used + size > width and piece:
            pieces.append(piece)
            piece, used = "", 0
        piece += char
        used += size
    pieces.append(piece)
    return pieces
