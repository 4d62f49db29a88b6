"""The tier report (rendered in a real headless Chromium), `explain` and `whatif`, against
one small demo warehouse built by the real pipeline (shared by every test here; a test
that writes beside it works on a copy)."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from PIL import Image, ImageStat
from rich.console import Console

from customer_tiering import cli, pipeline, publish, published, report, whatif
from customer_tiering.config import DemoSettings, Settings
from customer_tiering.errors import EXIT_OK, EXIT_USAGE
from customer_tiering.explain import explain
from customer_tiering.report import LATEST, report_dir
from customer_tiering.report import data as report_data
from tests.conftest import apt_lock

FIRST, AS_OF = date(2024, 1, 8), date(2024, 2, 15)
# The as-of date 30 days before AS_OF (every day is loaded).
EARLIER = AS_OF - timedelta(days=30)
CHROMIUM = Path("/usr/bin/chromium")
TIERS = ("A", "B", "C", "D")


def settings_for(folder: Path) -> Settings:
    return Settings(
        warehouse=folder / "tiers.duckdb",
        quarantine=folder / "quarantine",
        demo=DemoSettings(seed=5, customers=60, lines_per_day=40),
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """FIRST..AS_OF published (and its report written) by one pipeline run."""
    settings = settings_for(tmp_path_factory.mktemp("report"))
    pipeline.run(settings, FIRST, AS_OF)
    return settings


@pytest.fixture
def copied(built: Settings, tmp_path: Path) -> Settings:
    """A copy of the warehouse folder, for a test that writes beside it."""
    shutil.copytree(built.warehouse.parent, tmp_path / "wh")
    return settings_for(tmp_path / "wh")


def query(settings: Settings, sql: str, params: list[object] | None = None) -> list[tuple]:
    """Rows from the warehouse itself (not the snapshot the code under test reads)."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def said(err: str) -> str:
    """Console output as one line (rich wraps long lines at the console's width)."""
    return " ".join(err.split())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the report ---------------------------------------------------------------------------


# HTML elements without an end tag.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Elements(HTMLParser):
    """Every element's tag and attributes, with the data-chart container it sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], str | None]] = []
        self.stack: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        inside = values.get("data-chart") or (self.stack[-1] if self.stack else None)
        self.elements.append((tag, values, inside))
        if tag not in VOID:
            self.stack.append(inside)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """`<x/>`: an element that holds nothing."""
        values = {name: value or "" for name, value in attrs}
        inside = values.get("data-chart") or (self.stack[-1] if self.stack else None)
        self.elements.append((tag, values, inside))

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self.stack:
            self.stack.pop()


def elements(html: str) -> list[tuple[str, dict[str, str], str | None]]:
    parser = Elements()
    parser.feed(html)
    return parser.elements


def rows_of(html: str, table_id: str) -> list[dict[str, str]]:
    """The data attributes of each row of one table."""
    found, inside = [], False
    for tag, attrs, _ in elements(html):
        if tag == "table":
            inside = attrs.get("id") == table_id
        elif inside and tag in ("tr", "td") and any(k.startswith("data-") for k in attrs):
            found.append({k[5:]: v for k, v in attrs.items() if k.startswith("data-")})
    return found


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's chromium, installed if missing (the tests run as root)."""
    with apt_lock():
        if not CHROMIUM.exists():
            subprocess.run(
                "apt-get update -qq"
                " && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
                shell=True,
                check=True,
                capture_output=True,
                timeout=900,
            )
    return CHROMIUM


def browse(chromium: Path, page: Path, profile: Path, *what: str) -> subprocess.CompletedProcess:
    """Load `page` in headless Chromium, nothing but the file."""
    return subprocess.run(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=15000",
            *what,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )


def test_a_build_writes_the_report_and_latest(built: Settings) -> None:
    folder = report_dir(built.warehouse)
    page = folder / f"{AS_OF}.html"
    assert page.exists() and (folder / LATEST).read_bytes() == page.read_bytes()
    html = page.read_text(encoding="utf-8")
    assert f'data-as-of="{AS_OF}"' in html
    # Self-contained: plotly.js inline, nothing loaded from elsewhere.
    assert "Plotly.newPlot" in html and not re.search(r"<script[^>]+src=", html)
    assert not list(folder.glob(".*.tmp"))


def test_the_report_draws_every_chart_in_chromium(
    built: Settings, chromium: Path, tmp_path: Path
) -> None:
    page = report_dir(built.warehouse) / f"{AS_OF}.html"
    charts = {inside for tag, attrs, inside in elements(page.read_text()) if "data-chart" in attrs}
    # Every section of the issue has its chart with this data.
    assert {
        "tiers",
        "pareto",
        "migration",
        "ageing",
        "alerts",
        "rebates",
        "new-customers",
    } <= charts
    dom = browse(chromium, page, tmp_path / "profile", "--dump-dom").stdout
    drawn = {inside for tag, attrs, inside in elements(dom) if tag == "svg" and inside}
    assert drawn == charts, f"charts without an svg: {charts - drawn}"
    shot = tmp_path / "report.png"
    browse(chromium, page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,3000")
    with Image.open(shot) as image:
        assert ImageStat.Stat(image.convert("L")).stddev[0] > 20, "the screenshot is blank"
        colours = image.convert("RGB").resize((320, 750)).getcolors(maxcolors=1 << 20)
        assert len(colours) > 50, "the screenshot has no charts' colours"


def test_the_report_figures_equal_the_warehouse(built: Settings) -> None:
    html = (report_dir(built.warehouse) / f"{AS_OF}.html").read_text()
    expected = {
        tier: (str(customers), f"{contribution:.2f}")
        for tier, customers, contribution in query(
            built,
            "select tier, count(*), sum(contribution) from marts.customer_tier_history"
            " where as_of_date = ? group by tier",
            [AS_OF],
        )
    }
    shown = {
        row["tier"]: (row["customers"], row["contribution"])
        for row in rows_of(html, "tier-summary")
        if row["customers"] != "0"
    }
    assert shown == expected
    cuts = {row["cut"]: row for row in rows_of(html, "cuts")}
    for cut, column in (
        ("cumulative_share", "share_cut_tier"),
        ("customer_count", "count_cut_tier"),
    ):
        counted = dict(
            query(
                built,
                f"select {column}, count(*) from marts.customer_tier_history"
                " where as_of_date = ? group by 1",
                [AS_OF],
            )
        )
        assert {tier: int(cuts[cut][tier.lower()]) for tier in TIERS} == {
            tier: counted.get(tier, 0) for tier in TIERS
        }
    moves = query(
        built,
        "select coalesce(b.tier, 'not tiered'), coalesce(a.tier, 'not tiered'), count(*)"
        " from (select * from marts.customer_tier_history where as_of_date = ?) b"
        " full join (select * from marts.customer_tier_history where as_of_date = ?) a"
        " using (customer_id) group by all",
        [EARLIER, AS_OF],
    )
    cells = {(c["from"], c["to"]): int(c["customers"]) for c in rows_of(html, "migration")}
    assert {key: n for key, n in cells.items() if n} == {(f, t): n for f, t, n in moves}
    ageing = query(
        built,
        "select h.tier, sum(r.open_balance) from marts.receivables_aging r"
        " join marts.customer_tier_history h using (customer_id, as_of_date)"
        " where r.as_of_date = ? group by 1",
        [AS_OF],
    )
    assert {row["tier"]: row["open-balance"] for row in rows_of(html, "ageing")} == {
        tier: f"{balance:.2f}" for tier, balance in ageing
    }
    alerts = query(
        built,
        "select customer_id, alert_type from marts.customer_alerts where as_of_date = ?",
        [AS_OF],
    )
    shown_alerts = {(r["customer-id"], r["alert-type"]) for r in rows_of(html, "alerts")}
    assert shown_alerts == set(alerts)


def test_an_alert_is_raised_on_the_first_day_of_its_unbroken_run(built: Settings) -> None:
    """raised_on, against a walk in plain Python: back over the history's as-of dates
    from the day shown while the alert holds."""
    history_dates = [
        d
        for (d,) in query(
            built, "select distinct as_of_date from marts.customer_tier_history order by 1"
        )
    ]
    held = set(
        query(built, "select customer_id, alert_type, as_of_date from marts.customer_alerts")
    )
    raised_days = set()
    for day in (EARLIER, AS_OF):
        dates = [d for d in history_dates if d <= day]
        expected = {}
        for customer_id, alert_type, _ in {row for row in held if row[2] == day}:
            first = len(dates) - 1
            while first > 0 and (customer_id, alert_type, dates[first - 1]) in held:
                first -= 1
            expected[customer_id, alert_type] = dates[first]
        with published.reading(built, "test") as con:
            shown = report_data.alerts(con, day)
        raised = {
            (row.customer_id, row.alert_type): row.raised_on.date() for row in shown.itertuples()
        }
        assert raised == expected, day
        raised_days |= set(expected.values())
    # Runs that start after the first day, on different days: the walk back stops at gaps.
    assert len(raised_days - {history_dates[0]}) > 1


def test_report_writes_any_day_in_history(copied: Settings, capsys) -> None:
    latest = report_dir(copied.warehouse) / LATEST
    before = latest.read_bytes()
    day = AS_OF - timedelta(days=10)
    code = cli.main(["report", "--date", str(day), "--warehouse", str(copied.warehouse)])
    out = capsys.readouterr().out
    page = report_dir(copied.warehouse) / f"{day}.html"
    assert code == EXIT_OK and str(page) in out
    assert f'data-as-of="{day}"' in page.read_text()
    assert latest.read_bytes() == before  # latest.html stays the latest day's


def test_a_build_with_nobody_tiered_writes_no_report(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    snapshot = publish.bi_snapshot_path(settings.warehouse)
    snapshot.parent.mkdir(parents=True)
    with duckdb.connect(str(snapshot)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.customer_tier_history (as_of_date date, customer_id text)")
    # The publication the snapshot holds, as a publish writes it beside the file.
    publish.snapshot_marker(snapshot).write_text("2024-02-15T00:00:00", encoding="utf-8")
    line = report.write_for_build(settings, AS_OF)
    assert line == f"no tier report as of {AS_OF}: no customer is tiered on that day"
    assert not report_dir(settings.warehouse).exists()


@pytest.mark.parametrize("day", ["2023-12-31", "2024-03-01"])
def test_report_for_a_day_without_history_exits_2(built: Settings, capsys, day: str) -> None:
    code = cli.main(["report", "--date", day, "--warehouse", str(built.warehouse)])
    assert code == EXIT_USAGE
    assert f"no tier results as of {day}" in said(capsys.readouterr().err)


# --- explain ------------------------------------------------------------------------------


def history_row(settings: Settings, customer_id: str) -> dict[str, object]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        cursor = con.execute(
            "select * from marts.customer_tier_history where customer_id = ? and as_of_date = ?",
            [customer_id, AS_OF],
        )
        values = cursor.fetchone()
        return dict(zip([c[0] for c in cursor.description], values, strict=True))


def test_explain_tells_the_rows_own_story(built: Settings) -> None:
    # The largest contributor, and the customer with the most reason codes.
    (top,), (ruled,) = (
        query(built, sql, [AS_OF])[0]
        for sql in (
            "select customer_id from marts.customer_tier_history where as_of_date = ?"
            " order by contribution_rank limit 1",
            "select customer_id from marts.customer_tier_history where as_of_date = ?"
            " order by length(coalesce(reason_codes, '')) desc, customer_id limit 1",
        )
    )
    tiered = query(
        built, "select count(*) from marts.customer_tier_history where as_of_date = ?", [AS_OF]
    )[0][0]
    for customer_id in (top, ruled):
        row = history_row(built, customer_id)
        text = "\n".join(explain(built, customer_id))
        assert f"{customer_id} {row['customer_name']}" in text and f"as of {AS_OF}" in text
        assert f"tier {row['tier']} · plain ABC tier {row['abc_tier']}" in text
        assert f"VIP level {row['vip_level'] or '—'}" in text
        assert f"rank {row['contribution_rank']} of {tiered} on {row['basis']}" in text
        assert f"contribution {row['contribution']:,.2f}" in text
        assert f"share {row['share']:.1%}" in text
        assert f"the customer_count cut would make it {row['count_cut_tier']}" in text
        for code in (row["reason_codes"] or "").split(";"):
            assert not code or f"\n  {code}: " in text
        plan = query(
            built,
            "select training_cadence, visit_cadence from marts.customer_service_plan"
            " where customer_id = ?",
            [customer_id],
        )
        assert f"training {plan[0][0]}" in text and f"visits {plan[0][1]}" in text
        for day, source, target in query(
            built,
            "select as_of_date, from_tier, to_tier from marts.tier_transitions"
            " where customer_id = ? order by as_of_date desc limit 5",
            [customer_id],
        ):
            assert f"  {day}  {source} → {target}" in text
    ruled_row = history_row(built, ruled)
    assert ruled_row["reason_codes"], "the demo warehouse has a customer moved by a rule"


@pytest.mark.parametrize(
    "args,message",
    [
        (["NOBODY"], "unknown customer 'NOBODY'"),
        (["C00001", "--date", "2023-06-30"], "no tier results as of 2023-06-30"),
    ],
)
def test_explain_exits_2_for_an_unknown_customer_or_day(
    built: Settings, capsys, args: list[str], message: str
) -> None:
    code = cli.main(["explain", *args, "--warehouse", str(built.warehouse)])
    assert code == EXIT_USAGE
    assert message in said(capsys.readouterr().err)


# --- whatif -------------------------------------------------------------------------------


def test_whatif_recomputes_without_touching_the_warehouse(built: Settings) -> None:
    snapshot = publish.bi_snapshot_path(built.warehouse)
    files = [built.warehouse, snapshot, report_dir(built.warehouse) / LATEST]
    hashes = [sha256(path) for path in files]
    result = whatif.recompute(built, {"abc_cut_method": "customer_count"}, AS_OF)
    assert [sha256(path) for path in files] == hashes
    published = {
        customer: (tier, count_cut)
        for customer, tier, count_cut in query(
            built,
            "select customer_id, tier, count_cut_tier from marts.customer_tier_history"
            " where as_of_date = ?",
            [AS_OF],
        )
    }
    # The published side is the warehouse's; the recomputed plain ABC is the count cut the
    # published rows already said it would be.
    assert dict(zip(result.before["customer_id"], result.before["tier"], strict=True)) == {
        customer: tier for customer, (tier, _) in published.items()
    }
    assert dict(zip(result.after["customer_id"], result.after["abc_tier"], strict=True)) == {
        customer: count_cut for customer, (_, count_cut) in published.items()
    }
    grid = whatif.matrix(result)
    assert grid.to_numpy().sum() == len(published)
    console = Console(record=True, width=160)
    whatif.print_result(result, console)
    printed = console.export_text()
    changed = sum(
        1
        for customer, tier in zip(result.after["customer_id"], result.after["tier"], strict=True)
        if published[customer][0] != tier
    )
    assert f"{changed} of {len(published)} customers would change tier" in printed
    assert "What if abc_cut_method=customer_count (as of 2024-02-15)" in printed
    for row in whatif.movers(result).itertuples():
        assert f"{row.tier_before} → {row.tier_after}" in printed and row.customer_id in printed


@pytest.mark.parametrize(
    "sets,message",
    [
        (
            ["window_day=180"],
            "whatif --set: rules.window_day: unknown rule (did you mean window_days?)",
        ),
        (["window_days=abc"], "rules.window_days: must be a whole number of days >= 1, got 'abc'"),
        (["tier_basis=volume"], "rules.tier_basis: must be one of revenue, gross_profit"),
        (["abc_a_cumulative_share=0.99"], "must be less than abc_b_cumulative_share (0.95)"),
        (["window_days"], "expected NAME=VALUE"),
        (["as_of_date=2024-01-01"], "is set by each run"),
    ],
)
def test_whatif_checks_rules_like_tiering_yml(
    built: Settings, capsys, sets: list[str], message: str
) -> None:
    args = [part for value in sets for part in ("--set", value)]
    code = cli.main(["whatif", *args, "--warehouse", str(built.warehouse)])
    assert code == EXIT_USAGE
    assert message in said(capsys.readouterr().err)
