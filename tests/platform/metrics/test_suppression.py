"""Suppression, against an attacker who sees every table published for a month.

Random populations are cross-classified by two breakdowns and a category; both breakdowns'
tables are suppressed as the county view does (one margin for the month), and then every
published number is written as a linear function of the hidden population. A suppressed
count is exactly derivable iff its function lies in the span of the published ones: solved
exactly with fractions, over both tables at once (two overlapping queries)."""

from __future__ import annotations

from fractions import Fraction
from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from baton.platform.metrics.suppression import suppress_margin, suppress_table

THRESHOLD = 11
SMALL = st.one_of(st.integers(0, 3), st.integers(0, 14), st.integers(0, 40))


@st.composite
def populations(draw):
    g1 = draw(st.integers(1, 4))
    g2 = draw(st.integers(1, 3))
    cats = draw(st.integers(1, 4))
    counts = {key: draw(SMALL) for key in product(range(g1), range(g2), range(cats))}
    threshold = draw(st.sampled_from([THRESHOLD, THRESHOLD, 5, 20]))
    return g1, g2, cats, counts, threshold


def publish(g1, g2, cats, counts, threshold):
    """Both breakdowns' tables, as (published table, functional of each position)."""
    cols = list(range(cats))
    totals = {c: sum(n for (_a, _b, k), n in counts.items() if k == c) for c in cols}
    margin = suppress_margin(totals, threshold)
    tables = []
    for axis, size in ((0, g1), (1, g2)):
        rows = list(range(size))
        cells = {}
        for key, n in counts.items():
            cells[(key[axis], key[2])] = cells.get((key[axis], key[2]), 0) + n
        table = suppress_table(rows, cols, cells, threshold, margin)
        tables.append((table, _functionals(axis, rows, cols, list(counts))))
    return tables


def _functionals(axis, rows, cols, keys):
    """position -> the set of population cells it adds up (totals included)."""
    f = {}
    for r, c in product([*rows, "T"], [*cols, "T"]):
        f[(r, c)] = frozenset(
            k for k in keys if (r == "T" or k[axis] == r) and (c == "T" or k[2] == c)
        )
    return f


def _positions(table):
    for (r, c), v in table.cells.items():
        yield (r, c), v
    for r, v in table.row_totals.items():
        yield (r, "T"), v
    for c, v in table.column_totals.items():
        yield ("T", c), v
    yield ("T", "T"), table.grand


def _rank(vectors):
    rows = [list(v) for v in vectors]
    rank, width = 0, len(rows[0]) if rows else 0
    for col in range(width):
        pivot = next((i for i in range(rank, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for i in range(len(rows)):
            if i != rank and rows[i][col] != 0:
                factor = rows[i][col] / rows[rank][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[rank], strict=True)]
        rank += 1
    return rank


def true_value(cells, counts):
    return sum(counts[k] for k in cells)


@settings(max_examples=150, deadline=None)
@given(populations())
def test_nothing_small_is_published_or_derivable(population):
    g1, g2, cats, counts, threshold = population
    keys = list(counts)
    tables = publish(*population)
    known, hidden = [], []
    for table, functionals in tables:
        for pos, shown in _positions(table):
            value = true_value(functionals[pos], counts)
            vector = [Fraction(int(k in functionals[pos])) for k in keys]
            if shown is None:
                hidden.append((vector, value, pos))
            else:
                assert shown == value
                assert shown == 0 or shown >= threshold, ("small count published", pos, shown)
                known.append(vector)
        _check_line_remainders(table, threshold)
    base = _rank(known) if known else 0
    for vector, value, pos in hidden:
        if 0 < value < threshold:
            assert _rank([*known, vector]) > base, ("small count derivable", pos, value)


def _check_line_remainders(table, threshold):
    """Total minus the published members of any line is never a small count."""
    lines = [(table.row_totals[r], [table.cell(r, c) for c in table.columns]) for r in table.rows]
    lines += [
        (table.column_totals[c], [table.cell(r, c) for r in table.rows]) for c in table.columns
    ]
    lines.append((table.grand, list(table.column_totals.values())))
    lines.append((table.grand, list(table.row_totals.values())))
    for total, members in lines:
        if total is None or None not in members:
            continue
        remainder = total - sum(m for m in members if m is not None)
        assert remainder == 0 or remainder >= threshold, (total, members)


def test_a_known_table():
    rows, cols = ["a", "b", "c"], ["x", "y", "z"]
    values = [[30, 3, 20], [15, 40, 12], [2, 25, 30]]
    cells = {(r, c): values[i][j] for i, r in enumerate(rows) for j, c in enumerate(cols)}
    table = suppress_table(rows, cols, cells, 11)
    assert table.cell("a", "y") is None and table.cell("c", "x") is None  # primary
    assert table.row_totals == {"a": 53, "b": 67, "c": 57}
    assert table.column_totals == {"x": 47, "y": 68, "z": 62} and table.grand == 177
    shown = [[table.cell(r, c) for c in cols] for r in rows]
    assert shown == [[30, None, None], [None, 40, None], [None, None, 30]]


def test_zeros_are_published_and_a_small_margin_hides_its_column_everywhere():
    cells = {("a", "x"): 50, ("b", "x"): 40, ("a", "y"): 0, ("b", "y"): 4, ("a", "z"): 30}
    cells[("b", "z")] = 25
    table = suppress_table(["a", "b"], ["x", "y", "z"], cells, 11)
    assert table.cell("a", "y") == 0
    assert table.column_totals["y"] is None
    assert table.cell("b", "y") is None
    assert table.grand == 149


@st.composite
def tables(draw):
    rows = draw(st.integers(1, 7))
    cols = draw(st.integers(1, 6))
    cells = {(r, c): draw(SMALL) for r in range(rows) for c in range(cols)}
    return list(range(rows)), list(range(cols)), cells


@settings(max_examples=150, deadline=None)
@given(tables())
def test_one_larger_table_leaves_no_hidden_count_derivable(table):
    """Bigger single tables (up to 7 x 6 with totals): no hidden count on its own is
    recoverable from the published ones (the bridge rule), nothing small is published, and
    no line's remainder is small."""
    rows, cols, cells = table
    published = suppress_table(rows, cols, cells, THRESHOLD)
    keys = list(cells)
    functionals = _functionals(0, rows, cols, [(r, 0, c) for r, c in keys])
    counts = {(r, 0, c): n for (r, c), n in cells.items()}
    known, hidden = [], []
    order = list(counts)
    for pos, shown in _positions(published):
        vector = [Fraction(int(k in functionals[pos])) for k in order]
        if shown is None:
            hidden.append((vector, pos))
        else:
            assert shown == true_value(functionals[pos], counts)
            assert shown == 0 or shown >= THRESHOLD
            known.append(vector)
    _check_line_remainders(published, THRESHOLD)
    base = _rank(known) if known else 0
    for vector, pos in hidden:
        assert _rank([*known, vector]) > base, ("hidden count derivable", pos)


def test_a_bridge_between_two_cycles_is_found_and_closed():
    """Two hidden rectangles joined by one hidden count: that count alone is derivable."""
    from baton.platform.metrics import suppression as s

    left = {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")}
    right = {("c", "z"), ("c", "w"), ("d", "z"), ("d", "w")}
    hidden = left | right | {("a", "z")}
    assert s._bridges(hidden) == [("a", "z")]
    rows, cols = ["a", "b", "c", "d"], ["x", "y", "z", "w"]
    grid = s._grid(rows, cols, {(r, c): 20 for r in rows for c in cols})
    s._close_bridges(grid, rows, cols, hidden, fixed=set())
    assert s._bridges(hidden) == []
