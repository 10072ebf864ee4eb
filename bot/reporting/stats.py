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

from sqlalchemy import case, func, select
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


def _expressions(dialect: str) -> dict[str, Any]:
    """SQL for each dimension (month and time-to-contact bands differ by backend)."""
    if dialect == "postgresql":
        month = func.to_char(ReportCase.submitted_at, "YYYY-MM")
        hours = func.extract("epoch", ReportCase.first_contact_at - ReportCase.submitted_at) / 3600.0
    else:
        month = func.strftime("%Y-%m", ReportCase.submitted_at)
        hours = (func.julianday(ReportCase.first_contact_at) - func.julianday(ReportCase.submitted_at)) * 24.0
    band = case(
        (ReportCase.first_contact_at.is_(None), "none"), (hours < 1, "<1h"), (hours < 24, "1-24h"), (hours < 72, "1-3d"),
        else_=">3d",
    )
    return {
        "incident_type": func.coalesce(ReportCase.incident_types, ""), "month": month,
        "region": func.coalesce(ReportCase.region, "unknown"), "age_band": func.coalesce(ReportCase.age_band, "not_given"),
        "channel": ReportCase.channel, "outcome": func.coalesce(ReportCase.outcome, "open"), "time_to_contact": band,
    }


def case_facts(engine: Optional[Engine] = None, since: Optional[datetime] = None, until: Optional[datetime] = None,
               dims: Sequence[str] = DIMENSIONS) -> list[dict[str, Any]]:
    """Counts of cases by the given dimensions (GROUP BY in the database): category values only."""
    engine = engine or get_engine()
    exprs = _expressions(engine.dialect.name)
    cols = [exprs[d].label(d) for d in dims]
    stmt = select(*cols, func.count().label("n")).select_from(ReportCase).group_by(*[exprs[d] for d in dims])
    if since is not None:
        stmt = stmt.where(ReportCase.submitted_at >= since)
    if until is not None:
        stmt = stmt.where(ReportCase.submitted_at < until)
    out = []
    with session_scope(engine) as session:
        for row in session.execute(stmt):
            fact: dict[str, Any] = {"_n": int(row[-1])}
            for d, value in zip(dims, row):
                if d == "incident_type":
                    fact[d] = [t for t in str(value or "").split(",") if t] or ["not_given"]
                else:
                    fact[d] = [str(value)]
            out.append(fact)
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


def build(facts: Sequence[dict[str, Any]], rows_dim: str, cols_dim: Optional[str] = None) -> Table:
    """Count facts into a table with totals (unsuppressed)."""
    if rows_dim not in DIMENSIONS or (cols_dim is not None and (cols_dim not in DIMENSIONS or cols_dim == rows_dim)):
        raise ValueError(f"dimensions are {', '.join(DIMENSIONS)} (two different ones)")
    cells: Counter[tuple[str, str]] = Counter()
    for fact in facts:
        weight = int(fact.get("_n", 1))
        for r in fact[rows_dim]:
            for c in (fact[cols_dim] if cols_dim else ["count"]):
                cells[(r, c)] += weight
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
             facts: Optional[Sequence[dict[str, Any]]] = None) -> Table:
    """A suppressed table straight from the cases."""
    if facts is None:
        if rows_dim not in DIMENSIONS or (cols_dim is not None and cols_dim not in DIMENSIONS):
            raise ValueError(f"dimensions are {', '.join(DIMENSIONS)} (two different ones)")
        facts = case_facts(engine, since, until, [d for d in (rows_dim, cols_dim) if d])
    return suppress(build(facts, rows_dim, cols_dim))


def table_rows(table: Table) -> list[dict[str, Any]]:
    name = table.rows_dim if table.cols_dim is None else f"{table.rows_dim}_by_{table.cols_dim}"
    cols = table.cols + ([TOTAL] if table.cols_dim else [])
    return [{"table": name, "row": r, "column": c, "value": table.shown(r, c)} for r in table.rows + [TOTAL] for c in cols]


def export_csv(tables: Sequence[tuple[str, Optional[str]]] = DEFAULT_TABLES, *, engine: Optional[Engine] = None,
               since: Optional[datetime] = None, until: Optional[datetime] = None) -> str:
    """CSV (table,row,column,value) of suppressed tables (one GROUP BY query per table)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["table", "row", "column", "value"], lineterminator="\n")
    writer.writeheader()
    for rows_dim, cols_dim in tables:
        writer.writerows(table_rows(crosstab(rows_dim, cols_dim, engine=engine, since=since, until=until)))
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
