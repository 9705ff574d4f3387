"""Small-cell suppression for the county view: primary, complementary, and consistent
across every published table.

What is published: only a fixed set of tables, each for one calendar month (months never
overlap) and one breakdown (district, provider, tier, language, IEP, grade): rows are the
breakdown's groups, columns a partition of the same referrals (or cases) into categories, with
row totals, column totals and the grand total. Every breakdown partitions the same population,
so the column totals and the grand total (the *margin*) are the same in every table of a month.

The rules (``t`` = the county's threshold, default 11):

1. Primary: a count with 0 < n < t is suppressed. A true zero is published: it says nobody is
   in the cell, which identifies nobody, and suppressing zeros would hide the rows that matter.
2. The margin is decided once, from the margin alone, so it is suppressed identically in
   every table of the month: small column totals, plus complementary column totals (the
   smallest others) until the suppressed ones add up to at least ``t``. A column whose total
   is suppressed is suppressed whole in every table.
3. Complementary, inside each table, repeated until nothing changes:
   - every line (row or column, with its total) whose total is published and holds suppressed
     counts must hold at least two, adding up to at least ``t``: what an attacker gets by
     subtracting the published counts from the total is then never a small count;
   - a line whose total is suppressed must hold at least one other suppressed count (else the
     total is the sum of the published ones);
   - no suppressed count may be a *bridge*: writing the table as rows x columns with the totals
     as one more row and column, each suppressed count is an edge between its row and its
     column, and a count is exactly derivable from published ones by adding and subtracting
     lines if and only if its edge is on no cycle. Bridges get another suppressed count that
     closes a cycle through them.
   Complementary picks take the smallest non-zero count available (the least information lost)
   and never touch the margin (rule 2 keeps it identical across tables).

Rates are published only when both their counts are; medians and percentiles only when the
count they are taken over is published. ``tests/platform/metrics/test_suppression.py`` checks
with random tables that no published count is small, no line's remainder is small, and no
small suppressed count is derivable from everything published in a month (all breakdowns
together, solved as one linear system).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

TOTAL = "__total__"  # the total row / column in a table's grid


@dataclass
class Published:
    """A table after suppression: ``None`` where a count is suppressed."""

    rows: list
    columns: list
    cells: dict[tuple, int | None]
    row_totals: dict[Hashable, int | None]
    column_totals: dict[Hashable, int | None]
    grand: int | None
    suppressed: set = field(default_factory=set)

    def cell(self, row, column) -> int | None:
        return self.cells.get((row, column))


def suppress_margin(column_totals: dict, threshold: int) -> set:
    """The columns whose totals are suppressed (rule 2), from the column totals alone; the
    grand total is then suppressed only when it is itself small."""
    hidden = {c for c, n in column_totals.items() if 0 < n < threshold}
    while hidden and sum(column_totals[c] for c in hidden) < threshold:
        left = sorted((n, str(c), c) for c, n in column_totals.items() if c not in hidden and n > 0)
        if not left:
            break
        hidden.add(left[0][2])
    return hidden


def suppress_table(
    rows: list, columns: list, cells: dict[tuple, int], threshold: int, margin: set | None = None
) -> Published:
    """Suppress one table (rules 1 and 3), with the margin's columns ``margin`` (rule 2; when
    None it is decided from this table's column totals)."""
    grid = _grid(rows, columns, cells)
    if margin is None:
        margin = suppress_margin({c: grid[(TOTAL, c)] for c in columns}, threshold)
    hidden = {pos for pos, n in grid.items() if 0 < n < threshold}
    hidden |= {(r, c) for (r, c), n in grid.items() if c in margin and n > 0 and r != TOTAL}
    hidden |= {(TOTAL, c) for c in margin}
    fixed = {(TOTAL, c) for c in [*columns, TOTAL]}  # the margin: never a complement
    while True:
        before = len(hidden)
        _complete_lines(grid, rows, columns, hidden, fixed, threshold)
        _close_bridges(grid, rows, columns, hidden, fixed)
        if len(hidden) == before:
            break
    return _published(grid, rows, columns, hidden)


def _grid(rows, columns, cells) -> dict[tuple, int]:
    grid = {(r, c): int(cells.get((r, c), 0)) for r in rows for c in columns}
    for r in rows:
        grid[(r, TOTAL)] = sum(grid[(r, c)] for c in columns)
    for c in [*columns, TOTAL]:
        grid[(TOTAL, c)] = sum(grid[(r, c)] for r in rows)
    return grid


def _lines(rows, columns):
    """Each line as (its total's position, its members' positions)."""
    for r in [*rows, TOTAL]:
        yield (r, TOTAL), [(r, c) for c in columns]
    for c in [*columns, TOTAL]:
        yield (TOTAL, c), [(r, c) for r in rows]


def _complete_lines(grid, rows, columns, hidden, fixed, threshold) -> None:
    changed = True
    while changed:
        changed = False
        for total, members in _lines(rows, columns):
            shut = [m for m in members if m in hidden]
            if total in hidden:
                need = len(shut) == 0 and grid[total] > 0
            else:
                remainder = sum(grid[m] for m in shut)
                need = bool(shut) and (len(shut) < 2 or remainder < threshold)
            if need and _add_smallest(grid, [*members, total], hidden, fixed):
                changed = True


def _add_smallest(grid, candidates, hidden, fixed) -> bool:
    """Suppress the smallest non-zero (else zero) open count among ``candidates``."""
    open_ = [p for p in candidates if p not in hidden and p not in fixed]
    if not open_:
        return False
    nonzero = [p for p in open_ if grid[p] > 0]
    pick = min(nonzero or open_, key=lambda p: (grid[p], str(p)))
    hidden.add(pick)
    return True


def _close_bridges(grid, rows, columns, hidden, fixed) -> None:
    for r, c in _bridges(hidden):
        if (r, c) not in hidden:
            continue
        reach = _reachable(hidden - {(r, c)}, ("col", c))
        same_row = [(r, c2) for (kind, c2) in reach if kind == "col" and (r, c2) in grid]
        reach = _reachable(hidden - {(r, c)}, ("row", r))
        same_col = [(r2, c) for (kind, r2) in reach if kind == "row" and (r2, c) in grid]
        if not _add_smallest(grid, same_row + same_col, hidden, fixed):
            members = [(r, c2) for c2 in [*columns, TOTAL]] + [(r2, c) for r2 in [*rows, TOTAL]]
            _add_smallest(grid, members, hidden, fixed)
        return  # one at a time: the added count may close other bridges too


def _edges(hidden):
    return [(("row", r), ("col", c)) for r, c in hidden]


def _reachable(hidden, start) -> set:
    adjacent: dict = {}
    for a, b in _edges(hidden):
        adjacent.setdefault(a, []).append(b)
        adjacent.setdefault(b, []).append(a)
    seen, stack = {start}, [start]
    while stack:
        for nxt in adjacent.get(stack.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _bridges(hidden) -> list[tuple]:
    """Suppressed counts on no cycle of the row/column graph (exactly derivable ones), by
    Tarjan's low-link search (iterative; the graph is simple: one edge per position)."""
    adjacent: dict = {}
    for pos in sorted(hidden, key=str):
        a, b = ("row", pos[0]), ("col", pos[1])
        adjacent.setdefault(a, []).append((b, pos))
        adjacent.setdefault(b, []).append((a, pos))
    order: dict = {}
    low: dict = {}
    found = []
    for root in adjacent:
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack = [(root, None, iter(adjacent[root]))]
        while stack:
            node, via, edges = stack[-1]
            advanced = False
            for nxt, pos in edges:
                if pos == via:
                    continue
                if nxt in order:
                    low[node] = min(low[node], order[nxt])
                else:
                    order[nxt] = low[nxt] = len(order)
                    stack.append((nxt, pos, iter(adjacent[nxt])))
                    advanced = True
                    break
            if advanced:
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if low[node] > order[parent]:
                    found.append(via)
    return found


def _published(grid, rows, columns, hidden) -> Published:
    def shown(pos):
        return None if pos in hidden else grid[pos]

    return Published(
        rows=list(rows),
        columns=list(columns),
        cells={(r, c): shown((r, c)) for r in rows for c in columns},
        row_totals={r: shown((r, TOTAL)) for r in rows},
        column_totals={c: shown((TOTAL, c)) for c in columns},
        grand=shown((TOTAL, TOTAL)),
        suppressed=set(hidden),
    )
