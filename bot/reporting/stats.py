"""Statistics for monitoring and evaluation: counts only, small cells suppressed.

Dimensions: incident_type (a case with several types counts once per type), month, region
(admin level 1), age_band, channel, outcome, time_to_contact. Primary suppression: every cell or
total under 5 is shown as "<5". Secondary suppression: while a row or column (its total
included) has exactly one hidden entry, the smallest visible cell of that line is hidden too
(shown as "*"), so no hidden value is the difference of published numbers.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.reporting.models import AGE_BANDS, INCIDENT_TYPES, ReportCase
from bot.store.db import get_engine, session_scope

DIMENSIONS = ("incident_type", "month", "region", "age_band", "channel", "outcome", "time_to_contact")
THRESHOLD = 5
TOTAL = "total"
PRIMARY, SECONDARY = "<5", "*"
CONTACT_BANDS = ("<1h", "1-24h", "1-3d", ">3d", "none")
DEFAULT_TABLES: tuple[tuple[str, Optional[str]], ...] = (
    *((d, None) for d in DIMENSIONS), ("month", "incident_type"), ("region", "outcome"),
)


def _contact_band(submitted: datetime, first: Optional[datetime]) -> str:
    if first is None:
        return "none"
    hours = (first - submitted).total_seconds() / 3600
    return "<1h" if hours < 1 else "1-24h" if hours < 24 else "1-3d" if hours < 72 else ">3d"


def case_facts(engine: Optional[Engine] = None, since: Optional[datetime] = None, until: Optional[datetime] = None,
               batch: int = 5000) -> list[dict[str, list[str]]]:
    """One dict of dimension -> values per case (categories only; never text, never ids)."""
    cols = (ReportCase.incident_types, ReportCase.submitted_at, ReportCase.region, ReportCase.age_band,
            ReportCase.channel, ReportCase.outcome, ReportCase.first_contact_at)
    stmt = select(*cols)
    if since is not None:
        stmt = stmt.where(ReportCase.submitted_at >= since)
    if until is not None:
        stmt = stmt.where(ReportCase.submitted_at < until)
    out = []
    with session_scope(engine or get_engine()) as session:
        for types, submitted, region, age, channel, outcome, first in session.execute(stmt.execution_options(yield_per=batch)):
            out.append({
                "incident_type": [t for t in (types or "").split(",") if t] or ["not_given"],
                "month": [submitted.strftime("%Y-%m")], "region": [region or "unknown"],
                "age_band": [age or "not_given"], "channel": [channel], "outcome": [outcome or "open"],
                "time_to_contact": [_contact_band(submitted, first)],
            })
    return out


ORDER = {"incident_type": (*INCIDENT_TYPES, "not_given"), "age_band": (*AGE_BANDS, "not_given"),
         "time_to_contact": CONTACT_BANDS}


def _sorted(dim: str, values: Iterable[str]) -> list[str]:
    fixed = ORDER.get(dim)
    if fixed:
        return [v for v in fixed if v in values] + sorted(v for v in values if v not in fixed)
    return sorted(values)


@dataclass
class Table:
    """A one- or two-way table of counts with totals; `hidden` maps hidden keys to their mark."""

    rows_dim: str
    cols_dim: Optional[str]
    rows: list[str]
    cols: list[str]
    counts: dict[tuple[str, str], int]
    hidden: dict[tuple[str, str], str] = field(default_factory=dict)

    def keys(self) -> list[tuple[str, str]]:
        return list(self.counts)

    def shown(self, row: str, col: str) -> str:
        """The published value of a cell or total ("<5", "*" or the count)."""
        return self.hidden.get((row, col)) or str(self.counts[(row, col)])

    def lines(self) -> list[list[tuple[str, str]]]:
        """Every published equation: each row and column with its total."""
        rows, cols = self.rows + [TOTAL], self.cols
        if self.cols_dim is None:
            return [[(r, cols[0]) for r in rows]]
        cols = cols + [TOTAL]
        return [[(r, c) for c in cols] for r in rows] + [[(r, c) for r in rows] for c in cols]


def build(facts: Sequence[dict[str, list[str]]], rows_dim: str, cols_dim: Optional[str] = None) -> Table:
    """Count facts into a table with totals (unsuppressed)."""
    if rows_dim not in DIMENSIONS or (cols_dim is not None and (cols_dim not in DIMENSIONS or cols_dim == rows_dim)):
        raise ValueError(f"dimensions are {', '.join(DIMENSIONS)} (two different ones)")
    cells: Counter[tuple[str, str]] = Counter()
    for fact in facts:
        for r in fact[rows_dim]:
            for c in (fact[cols_dim] if cols_dim else ["count"]):
                cells[(r, c)] += 1
    rows = _sorted(rows_dim, {r for r, _ in cells})
    cols = _sorted(cols_dim, {c for _, c in cells}) if cols_dim else ["count"]
    counts = {(r, c): cells.get((r, c), 0) for r in rows for c in cols}
    for c in cols:
        counts[(TOTAL, c)] = sum(counts[(r, c)] for r in rows)
    if cols_dim:
        for r in rows + [TOTAL]:
            counts[(r, TOTAL)] = sum(counts[(r, c)] for c in cols)
    return Table(rows_dim, cols_dim, rows, cols, counts)


def suppress(table: Table, threshold: int = THRESHOLD) -> Table:
    """Primary (< threshold) then secondary suppression, in place; returns the table."""
    for key, value in table.counts.items():
        if value < threshold:
            table.hidden[key] = PRIMARY
    changed = True
    while changed:
        changed = False
        for line in table.lines():
            hidden = [k for k in line if k in table.hidden]
            if len(hidden) != 1:
                continue
            visible = [k for k in line if k not in table.hidden]
            # Prefer an inner cell (not a total), then the smallest count.
            pick = min(visible, key=lambda k: (TOTAL in k, table.counts[k], k))
            table.hidden[pick] = SECONDARY
            changed = True
    return table


def crosstab(rows_dim: str, cols_dim: Optional[str] = None, *, engine: Optional[Engine] = None,
             since: Optional[datetime] = None, until: Optional[datetime] = None,
             facts: Optional[Sequence[dict[str, list[str]]]] = None) -> Table:
    """A suppressed table straight from the cases."""
    return suppress(build(facts if facts is not None else case_facts(engine, since, until), rows_dim, cols_dim))


def table_rows(table: Table) -> list[dict[str, Any]]:
    name = table.rows_dim if table.cols_dim is None else f"{table.rows_dim}_by_{table.cols_dim}"
    cols = table.cols + ([TOTAL] if table.cols_dim else [])
    return [{"table": name, "row": r, "column": c, "value": table.shown(r, c)} for r in table.rows + [TOTAL] for c in cols]


def export_csv(tables: Sequence[tuple[str, Optional[str]]] = DEFAULT_TABLES, *, engine: Optional[Engine] = None,
               since: Optional[datetime] = None, until: Optional[datetime] = None) -> str:
    """CSV (table,row,column,value) of suppressed tables; one read of the cases for all."""
    facts = case_facts(engine, since, until)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["table", "row", "column", "value"], lineterminator="\n")
    writer.writeheader()
    for rows_dim, cols_dim in tables:
        writer.writerows(table_rows(crosstab(rows_dim, cols_dim, facts=facts)))
    return out.getvalue()


def chart(table: Table, width: int = 480, height: int = 140) -> list[dict[str, Any]]:
    """Bar geometry for a one-way table (suppressed bars are drawn at zero height, labelled)."""
    visible = [table.counts[(r, table.cols[0])] for r in table.rows if (r, table.cols[0]) not in table.hidden]
    peak = max(visible + [1])
    step = width / max(1, len(table.rows))
    bars = []
    for i, r in enumerate(table.rows):
        key = (r, table.cols[0])
        value = 0 if key in table.hidden else table.counts[key]
        h = round(value / peak * (height - 16), 1)
        bars.append({"x": round(i * step + 1, 1), "y": round(height - h, 1), "w": round(max(1.0, step - 2), 1), "h": h,
                     "label": f"{r}: {table.shown(*key)}", "name": r, "shown": table.shown(*key)})
    return bars
