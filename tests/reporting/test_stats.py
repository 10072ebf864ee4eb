"""Statistics: counts only, a cell of 3 hidden, and not recoverable from row or column totals."""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linprog

from bot.reporting import stats

GRID = {("A", "sms"): 3, ("A", "whatsapp"): 10, ("A", "telegram"): 12,
        ("B", "sms"): 8, ("B", "whatsapp"): 9, ("B", "telegram"): 15,
        ("C", "sms"): 20, ("C", "whatsapp"): 6, ("C", "telegram"): 7}


def facts_for(grid: dict[tuple[str, str], int]) -> list[dict[str, list[str]]]:
    out = []
    for (region, channel), n in grid.items():
        out += [{"region": [region], "channel": [channel]} for _ in range(n)]
    return out


def feasible_range(table: stats.Table, target: tuple[str, str]) -> tuple[float, float]:
    """Min and max of a hidden entry given everything published (LP over the hidden entries)."""
    hidden = sorted(table.hidden)
    index = {k: i for i, k in enumerate(hidden)}
    a_eq, b_eq = [], []
    for line in table.lines():
        # Each line: its inner cells sum to its total (the total is the last entry of the line).
        *cells, total = line
        row = np.zeros(len(hidden))
        rhs = 0.0
        for k in cells:
            if k in index:
                row[index[k]] += 1
            else:
                rhs -= table.counts[k]
        if total in index:
            row[index[total]] -= 1
        else:
            rhs += table.counts[total]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    bounds = [(0, 4) if table.hidden[k] == stats.PRIMARY else (5, None) for k in hidden]
    c = np.zeros(len(hidden))
    c[index[target]] = 1
    low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    high = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert low.status == 0 and high.status == 0
    return low.fun, -high.fun


def test_cell_of_three_is_suppressed_through_totals() -> None:
    table = stats.crosstab("region", "channel", facts=facts_for(GRID))
    assert table.counts[("A", "sms")] == 3 and table.shown("A", "sms") == "<5"
    # Totals are right before suppression (the table is the data).
    assert table.counts[("A", stats.TOTAL)] == 25 and table.counts[(stats.TOTAL, "sms")] == 31
    # No row or column (with its total) has exactly one hidden entry ...
    for line in table.lines():
        assert sum(k in table.hidden for k in line) != 1, line
    # ... and so the 3 cannot be worked out: it can take more than one value given what is published.
    low, high = feasible_range(table, ("A", "sms"))
    assert low < 3 < high or (low <= 3 <= high and high - low >= 1)
    for key in table.hidden:
        lo, hi = feasible_range(table, key)
        assert hi - lo >= 1, key
    # Without secondary suppression the cell would follow from its row total: the check can fail.
    naive = stats.build(facts_for(GRID), "region", "channel")
    naive.hidden = {k: stats.PRIMARY for k, v in naive.counts.items() if v < 5}
    assert feasible_range(naive, ("A", "sms")) == (3, 3)


def test_one_way_table_and_small_total() -> None:
    table = stats.crosstab("channel", facts=facts_for({("A", "sms"): 2, ("A", "whatsapp"): 30, ("A", "telegram"): 40}))
    assert table.shown("sms", "count") == "<5"
    assert sum(k in table.hidden for k in table.lines()[0]) >= 2
    tiny = stats.crosstab("channel", facts=facts_for({("A", "sms"): 1, ("A", "whatsapp"): 2}))
    assert all(tiny.shown(r, "count") == "<5" for r in tiny.rows + [stats.TOTAL])
    big = stats.crosstab("channel", facts=facts_for({("A", "sms"): 7, ("A", "whatsapp"): 9}))
    assert big.hidden == {} and big.shown(stats.TOTAL, "count") == "16"


def test_bad_dimension_is_refused() -> None:
    with pytest.raises(ValueError):
        stats.build([], "phone_number")
    with pytest.raises(ValueError):
        stats.build([], "region", "region")


def test_export_from_cases(engine: Any, desk: Any, submit: Any, make_officer: Any) -> None:
    from bot.reporting import desk as svc

    officer = make_officer(team_id=desk.team_id)
    t0 = datetime.now(timezone.utc)
    ids = [submit(channel="whatsapp" if i < 6 else "telegram", statement="private words")[1].case_id for i in range(8)]
    for case_id in ids[:6]:
        v = svc.transition(case_id, officer.id, "acknowledged", version=1, engine=engine)
        svc.transition(case_id, officer.id, "closed", version=v, outcome="support_given", engine=engine)
    text = stats.export_csv(engine=engine, since=t0 - timedelta(minutes=1))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert "private words" not in text and "Kibera" not in text
    by = {(r["table"], r["row"], r["column"]): r["value"] for r in rows}
    # telegram (2) is hidden; whatsapp is hidden too, or telegram = total - whatsapp.
    assert (by[("channel", "whatsapp", "count")], by[("channel", "telegram", "count")]) == ("*", "<5")
    assert by[("channel", "total", "count")] == "8"
    assert by[("incident_type", "physical_assault", "count")] == "8"
    assert by[("region", "Nairobi", "count")] == "8"
    assert (by[("outcome", "support_given", "count")], by[("outcome", "open", "count")]) == ("*", "<5")
    assert by[("time_to_contact", "none", "count")] == "8"
    assert {r["table"] for r in rows} >= {"month_by_incident_type", "region_by_outcome", "age_band"}


def test_cli_stats_and_case_commands(engine: Any, desk: Any, submit: Any, capsys: Any, tmp_path: Any) -> None:
    from bot.cli import main
    from bot.reporting.models import ReportCase
    from bot.store.db import session_scope
    from tests.reporting.conftest import audit_rows

    _, case = submit(statement="private words", place=None)
    assert main(["stats", "export", "--format", "csv", "--rows", "channel"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "table,row,column,value" and "channel,sms,count,<5" in out
    assert main(["stats", "export", "--rows", "phone"]) == 1
    assert main(["stats", "export", "-o", str(tmp_path / "s.csv")]) == 0
    assert "month_by_incident_type" in (tmp_path / "s.csv").read_text()
    assert len(audit_rows(engine, "stats_export")) == 2
    assert main(["case", "list"]) == 0
    assert case.reference in capsys.readouterr().out
    assert main(["case", "show", case.reference.lower()]) == 0
    shown = capsys.readouterr().out
    assert "status            new" in shown and "private words" not in shown
    assert main(["case", "show", "XX-XXX" if case.reference != "XX-XXX" else "XX-XXW"]) == 1
    assert main(["case", "desks"]) == 0 and "Central desk" in capsys.readouterr().out
    assert main(["roster", "team-add", "Night team"]) == 0
    assert main(["case", "route", case.reference, "Night team"]) == 0
    with session_scope(engine) as s:
        night = s.get(ReportCase, case.case_id).team_id
    assert night != desk.team_id
    assert main(["case", "desk-team", "no-such-service", "Night team"]) == 1
    assert main(["case", "expire", "--days", "0"]) == 1
    assert main(["case", "expire", "--days", "30"]) == 0 and "shredded 0" in capsys.readouterr().out


def test_case_keys_rotate_and_still_decrypt(engine: Any, desk: Any, submit: Any, make_officer: Any,
                                            monkeypatch: Any, capsys: Any) -> None:
    from bot.cli import main
    from bot.reporting import desk as svc
    from bot.reporting.models import CaseKey
    from bot.settings import get_settings
    from bot.store.db import session_scope

    _, case = submit(statement="rotate me")
    old = get_settings()
    monkeypatch.setenv("HAVEN_OLD_MASTER_KEYS", f"{old.master_key_id}:{os.environ['HAVEN_MASTER_KEY']}")
    monkeypatch.setenv("HAVEN_MASTER_KEY_ID", "k2")
    monkeypatch.setenv("HAVEN_MASTER_KEY", "cm90YXRlZC1tYXN0ZXIta2V5LTAwMDAwMDAwMDAwMDA")
    get_settings.cache_clear()
    assert main(["case", "rotate-keys"]) == 0 and "re-wrapped 1 case key" in capsys.readouterr().out
    with session_scope(engine) as s:
        assert s.get(CaseKey, case.case_id).key_id == "k2"
    officer = make_officer(team_id=desk.team_id)
    assert svc.case_detail(case.case_id, officer.id, engine=engine).statement == "rotate me"


def test_time_to_first_contact_bands_in_sql(engine: Any, desk: Any, submit: Any) -> None:
    from bot.reporting.models import ReportCase
    from bot.store.db import session_scope

    offsets = [None, timedelta(minutes=20), timedelta(hours=5), timedelta(hours=30), timedelta(days=5)]
    for offset in offsets:
        for _ in range(5):
            case_id = submit()[1].case_id
            with session_scope(engine) as s:
                row = s.get(ReportCase, case_id)
                row.first_contact_at = row.submitted_at + offset if offset else None
    table = stats.crosstab("time_to_contact", engine=engine)
    assert {r: table.shown(r, "count") for r in table.rows} == {"<1h": "5", "1-24h": "5", "1-3d": "5", ">3d": "5", "none": "5"}
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    assert stats.crosstab("month", "channel", engine=engine).shown(month, "sms") == "25"
