"""Text tables: the look of rich's default table, drawn line by line."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from dedup.table import TextTable
from tests.strategies import table_cells


def _rich(table: TextTable, width: int) -> str:
    """The same table rendered by rich, to a file (no styles)."""
    out = io.StringIO()
    drawn = Table(*table.headers, title=table.title)
    start = 0
    for end in [*table.section_ends, len(table.rows)]:
        for row in table.rows[start:end]:
            drawn.add_row(*row)
        if end > start:
            drawn.add_section()
        start = max(start, end)
    Console(file=out, width=width, highlight=False, markup=False).print(drawn)
    return out.getvalue()


@given(st.lists(st.lists(table_cells, min_size=3, max_size=3), min_size=1, max_size=8), st.data())
def test_a_table_that_fits_is_drawn_as_rich_draws_it(rows: list[list[str]], data: st.DataObject) -> None:
    """Same characters as rich's table, to the byte, whenever every cell fits
    (wide CJK characters, combining marks, Vietnamese in NFC and NFD)."""
    ends = sorted(set(data.draw(st.lists(st.integers(1, len(rows)), max_size=3))))
    table = TextTable("3 clusters", ["cluster", "document", "similarity"], rows, ends)
    assert "\n".join(table.lines(200)) + "\n" == _rich(table, 200)


@given(st.lists(st.lists(table_cells, min_size=2, max_size=2), min_size=1, max_size=6), st.integers(15, 40))
def test_a_table_too_wide_folds_its_cells_and_loses_nothing(rows: list[list[str]], space: int) -> None:
    # No spaces: a piece's padding is then told apart from its text.
    long_rows = [[cell.replace(" ", "_") * 4, cell.replace(" ", "_")] for cell, _ in rows]
    table = TextTable("pairs", ["a", "b"], long_rows, [])
    lines = table.lines(space)
    body = lines[4:-1]
    assert all(cell_len(line) <= space for line in lines[1:])  # a title wider than the table may stick out
    # Every cell comes back whole: its pieces, read down its column, in order.
    widths = table.widths(space)
    column_text = ["", ""]
    for line in body:
        cells = line[1:-1].split("│")
        assert [cell_len(c) for c in cells] == [w + 2 for w in widths]
        for i, cell in enumerate(cells):
            column_text[i] += cell[1:].rstrip(" ")
    assert column_text == ["".join(r[0] for r in long_rows), "".join(r[1] for r in long_rows)]
