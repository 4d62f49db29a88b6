"""The files source through the command line: file drops written by `demo export`, then
missing, malformed and truncated deliveries refused (exit 3, quarantined, warehouse
unchanged), GBK CSV and Excel exports with Chinese headers loaded, and ERP document
numbers (letters, dashes, slashes, leading zeros) kept as the text they are."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from customer_tiering import cli, pipeline
from customer_tiering.config import Settings
from customer_tiering.contract import TABLES
from customer_tiering.errors import EXIT_INPUT_REFUSED, EXIT_OK
from customer_tiering.quarantine import RESULT_FILE, SUMMARY_FILE
from customer_tiering.sources.files import FilesSource, decode, write_file
from tests.good_warehouse import (
    FIRST,
    LOADED_UNTIL,
    NEXT_DAY,
    SCALE,
    build,
    checksums,
    copy_state,
    demo_source,
    good_checksums,
    good_root,
)

DAY = NEXT_DAY.isoformat()


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Settings:
    return copy_state(good_root(tmp_path_factory), tmp_path)


def tiering(settings: Settings, *args: str) -> int:
    """`tiering <args>` in-process, with the test's quarantine folder and demo scale."""
    config = settings.warehouse.parent.parent / "tiering.yml"
    config.write_text(
        json.dumps({"quarantine": str(settings.quarantine), "demo": SCALE.__dict__}),
        encoding="utf-8",
    )
    return cli.main(["--config", str(config), *args])


def run_next_day(settings: Settings) -> int:
    return tiering(
        settings,
        *("run", "--date", DAY, "--source", "files"),
        *("--landing", str(settings.landing), "--warehouse", str(settings.warehouse)),
    )


def drop_file(settings: Settings, table: str, suffix: str = "csv") -> Path:
    return settings.landing / table / f"{DAY}.{suffix}"


def assert_refused(settings: Settings, capsys: pytest.CaptureFixture[str], table: str) -> str:
    """Run the next day, expect a refusal of `table`; return the error output."""
    assert run_next_day(settings) == EXIT_INPUT_REFUSED
    assert checksums(settings.warehouse) == good_checksums()
    error = capsys.readouterr().err
    folder = settings.quarantine / table / DAY
    assert (folder / RESULT_FILE).exists() and (folder / SUMMARY_FILE).exists()
    return " ".join(error.split())  # rich wraps long lines


def test_missing_delivery_is_refused(settings: Settings, capsys) -> None:
    drop_file(settings, "ar_payments").unlink()
    error = assert_refused(settings, capsys, "ar_payments")
    assert f"ar_payments on {DAY}: not delivered" in error
    summary = (settings.quarantine / "ar_payments" / DAY / SUMMARY_FILE).read_text()
    assert "not delivered" in summary and "nothing (not delivered)" in summary

    assert tiering(settings, "quarantine", "list") == EXIT_OK
    listing = " ".join(capsys.readouterr().out.split())
    assert "ar_payments" in listing and DAY in listing and "not delivered" in listing


@pytest.mark.parametrize(
    "name,content",
    [
        ("unterminated quote", b'line_id,order_id,order_date\n"1,2,2024-01-15\n'),
        ("binary garbage", bytes(range(256)) * 4),
        ("empty file", b""),
    ],
)
def test_malformed_csv_is_refused_and_kept(
    settings: Settings, capsys, name: str, content: bytes
) -> None:
    drop_file(settings, "sales_lines").write_bytes(content)
    error = assert_refused(settings, capsys, "sales_lines")
    assert f"sales_lines on {DAY}: file" in error and "cannot be read" in error
    kept = settings.quarantine / "sales_lines" / DAY / f"{DAY}.csv"
    assert kept.read_bytes() == content


def test_truncated_parquet_is_refused(settings: Settings, capsys) -> None:
    csv = drop_file(settings, "ar_invoices")
    parquet = drop_file(settings, "ar_invoices", "parquet")
    pd.read_csv(csv).to_parquet(parquet)
    csv.unlink()
    parquet.write_bytes(parquet.read_bytes()[:200])
    error = assert_refused(settings, capsys, "ar_invoices")
    assert "cannot be read" in error


def test_csv_cut_mid_row_is_refused_by_validation(settings: Settings, capsys) -> None:
    path = drop_file(settings, "sales_lines")
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.rindex(",", 0, len(text) - 40)], encoding="utf-8")
    error = assert_refused(settings, capsys, "sales_lines")
    assert "expect_column_values_to_not_be_null(cost_amount) [fail]: 1 failing row(s)" in error


def test_gbk_csv_and_chinese_excel_load_after_a_refused_attempt(settings: Settings, capsys) -> None:
    """A refused day is fixed at the source and rerun: it loads, the quarantine keeps the
    refused attempt. The fix delivers the customers snapshot as GBK CSV with Chinese names
    and the sales lines as an Excel export with Chinese headers mapped by columns.yml."""
    sales = drop_file(settings, "sales_lines")
    good_sales = pd.read_csv(sales, dtype=str)
    sales.write_bytes(b'"broken')
    assert run_next_day(settings) == EXIT_INPUT_REFUSED

    customers = demo_source().pull_range("customers", NEXT_DAY, NEXT_DAY)[
        list(TABLES["customers"].columns)
    ]
    customers.loc[0, "name"] = "华北食品贸易有限公司"
    customers.assign(created_date=customers["created_date"].dt.strftime("%Y-%m-%d")).to_csv(
        drop_file(settings, "customers"), index=False, encoding="gbk"
    )
    headers = {"line_id": "行号", "order_date": "单据日期", "customer_id": "客户编号"}
    headers |= {"net_amount": "金额", "quantity": "数量"}
    good_sales.rename(columns=headers).to_excel(
        drop_file(settings, "sales_lines", "xlsx"), index=False
    )
    sales.unlink()
    mapping = {"sales_lines": {chinese: column for column, chinese in headers.items()}}
    (settings.landing / "columns.yml").write_text(
        json.dumps(mapping, ensure_ascii=False), encoding="utf-8"
    )

    assert run_next_day(settings) == EXIT_OK, capsys.readouterr().err[-3000:]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        name = con.execute(
            "select name from raw.customers where customer_id = ? and _business_date = ?",
            [customers.loc[0, "customer_id"], NEXT_DAY],
        ).fetchone()[0]
        loaded = con.execute(
            "select count(*), sum(net_amount)::double from raw.sales_lines"
            " where _business_date = ?",
            [NEXT_DAY],
        ).fetchone()
    assert name == "华北食品贸易有限公司"
    assert loaded == (len(good_sales), pytest.approx(good_sales["net_amount"].astype(float).sum()))
    assert (settings.quarantine / "sales_lines" / DAY / RESULT_FILE).exists()


@pytest.mark.parametrize("file_format", ["csv", "parquet", "xlsx"])
def test_demo_export_round_trips(tmp_path: Path, file_format: str, capsys) -> None:
    """`demo export` writes what the files source reads back as the demo ERP's data."""
    start, end = date(2024, 2, 3), date(2024, 2, 5)
    out = tmp_path / "landing"
    config = tmp_path / "tiering.yml"
    config.write_text(json.dumps({"demo": SCALE.__dict__}), encoding="utf-8")
    args = ["--start", str(start), "--end", str(end), "--out", str(out), "--format", file_format]
    assert cli.main(["--config", str(config), "demo", "export", *args]) == EXIT_OK
    files, demo = FilesSource(out), demo_source()
    for table, spec in TABLES.items():
        columns = list(spec.columns)
        expected = demo.pull_range(table, start, end, known_at=end)[columns]
        actual = files.pull_range(table, start, end)[columns]
        pd.testing.assert_frame_equal(actual, expected, check_dtype=False)


def test_csv_encodings_are_detected() -> None:
    text = "客户编号,名称\nC1,华北\n"
    for raw in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("gbk")):
        assert decode(raw) == text


# The demo's ids rewritten as a real ERP numbers its documents. Each keeps the order of
# the demo id it replaces, so ties broken by id fall the same way and tiers must match.
ERP_IDS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "line_id": lambda ids: "LN/" + ids.str[:4] + "/" + ids.str[4:],  # LN/2024/0100000031
    "order_id": lambda ids: "SO-" + ids.str[:4] + "-" + ids.str[4:],  # SO-2024-0100000012
    "entry_id": lambda ids: "CTS-" + ids.str[:6] + "/" + ids.str[6:],
    "invoice_id": lambda ids: "INV/" + ids.str[:4] + "/" + ids.str[4:],
    "payment_id": lambda ids: "PAY-" + ids,
    "customer_id": lambda ids: "0" + ids.str[1:],  # C00012 -> 000012: only digits, zeros lead
    "product_id": lambda ids: "SKU-" + ids,
}
NUMERIC_CUSTOMER = {"customer_id", "reference_customer_id"}


def rewrite_ids(landing: Path, out: Path) -> None:
    """A copy of the CSV drops under `landing` with every id rewritten by ERP_IDS."""
    shutil.copytree(landing, out)
    for path in out.glob("*/*.csv"):
        frame = pd.read_csv(path, dtype=str)
        frame = frame.assign(**{c: ERP_IDS[c](frame[c]) for c in frame if c in ERP_IDS})
        frame.to_csv(path, index=False)


def published(warehouse: Path) -> dict[str, pd.DataFrame]:
    """Every mart, rows sorted, customer and product ids mapped back to the demo's."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
                " order by 1"
            ).fetchall()
        ]
        frames = {name: con.execute(f"select * from marts.{name}").df() for name in names}
    return {
        name: frame.sort_values(list(frame.columns)).reset_index(drop=True)
        for name, frame in frames.items()
    }


def test_erp_document_numbers_load_and_tier_like_numeric_ids(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """The good warehouse's two weeks again, every id an ERP string: it loads, the text
    stays as delivered (000012 in raw and in the marts), and every published table equals
    the one built from numeric ids once the customer and product codes are mapped back."""
    numeric_warehouse, landing = build(good_root(tmp_path_factory))
    rewrite_ids(landing, tmp_path / "landing")
    settings = Settings(
        source="files",
        landing=tmp_path / "landing",
        warehouse=tmp_path / "erp" / "tiers.duckdb",
        quarantine=tmp_path / "quarantine",
        demo=SCALE,
    )
    pipeline.run(settings, FIRST, LOADED_UNTIL, source=FilesSource(settings.landing))

    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        line = con.execute(
            "select line_id, order_id, customer_id, product_id from raw.sales_lines"
            " where customer_id = '000001' order by line_id limit 1"
        ).fetchone()
        payment = con.execute(
            "select payment_id, invoice_id from raw.ar_payments order by payment_id limit 1"
        ).fetchone()
        types = con.execute(
            "select table_name, column_name, data_type from information_schema.columns"
            " where table_schema = 'raw'"
        ).fetchall()
    assert line[0].startswith("LN/2024/01") and line[1].startswith("SO-2024-01")
    assert line[2:] == ("000001", line[3]) and line[3].startswith("SKU-P")
    assert payment[0].startswith("PAY-2024") and payment[1].startswith("INV/2024/")
    id_types = {(t, c): data_type for t, c, data_type in types if c.endswith("_id")}
    assert set(id_types) == {(t, c) for t, spec in TABLES.items() for c in spec.id_columns}
    assert set(id_types.values()) == {"VARCHAR"}

    erp, numeric = published(settings.warehouse), published(numeric_warehouse)
    assert set(erp) == set(numeric) and len(erp["customer_tiers"]) > 30
    assert erp["customer_tiers"]["customer_id"].str.fullmatch(r"0\d{5}").all()
    for name, frame in erp.items():
        undo = {c: "C" + frame[c].str[1:] for c in NUMERIC_CUSTOMER & set(frame)}
        if "product_id" in frame:
            undo["product_id"] = frame["product_id"].str.removeprefix("SKU-")
        mapped = frame.assign(**undo).sort_values(list(frame.columns)).reset_index(drop=True)
        pd.testing.assert_frame_equal(mapped, numeric[name], obj=name)


def test_ids_arrive_as_text_from_every_file_format(tmp_path: Path) -> None:
    """Parquet integer ids become their decimal text; text ids keep their leading zeros in
    CSV, Excel and Parquet alike."""
    day = date(2024, 2, 5)
    lines = demo_source().pull_range("sales_lines", day, day)[list(TABLES["sales_lines"].columns)]
    lines = lines.assign(order_date=lines["order_date"].dt.strftime("%Y-%m-%d"))
    folder = tmp_path / "landing" / "sales_lines"
    folder.mkdir(parents=True)

    as_integers = lines.astype({"line_id": "int64", "order_id": "int64"})
    as_integers.to_parquet(folder / f"{day}.parquet", index=False)
    read = FilesSource(tmp_path / "landing").pull_range("sales_lines", day, day)
    assert read["line_id"].dtype == "str" and read["order_id"].dtype == "str"
    assert read["line_id"].tolist() == lines["line_id"].tolist()

    erp = lines.assign(line_id=["000123", *("0" + lines["line_id"][1:])], order_id="SO-0042")
    for suffix in ("csv", "xlsx", "parquet"):
        for old in folder.iterdir():
            old.unlink()
        write_file(erp, folder / f"{day}.{suffix}")
        read = FilesSource(tmp_path / "landing").pull_range("sales_lines", day, day)
        assert read["line_id"].tolist() == erp["line_id"].tolist(), suffix
        assert read["line_id"][0] == "000123" and set(read["order_id"]) == {"SO-0042"}


def test_a_range_of_mixed_files_reads_as_its_days_one_by_one(tmp_path: Path) -> None:
    """A range is conformed once, not file by file: integer ids in one day's Parquet,
    text ids with leading zeros in the next day's CSV, a header-only day and an Excel day
    must read as the days pulled one at a time, each row keeping its file's day."""
    days = [date(2024, 2, 5), date(2024, 2, 6), date(2024, 2, 7), date(2024, 2, 8)]
    columns = list(TABLES["sales_lines"].columns)
    lines = demo_source().pull_range("sales_lines", days[0], days[-1])[columns]
    lines = lines.assign(order_date=lines["order_date"].dt.strftime("%Y-%m-%d"))
    folder = tmp_path / "landing" / "sales_lines"
    folder.mkdir(parents=True)
    on_day = {day: lines[lines["order_date"] == day.isoformat()] for day in days}
    as_integers = on_day[days[0]].astype({"line_id": "int64", "order_id": "int64"})
    as_integers.to_parquet(folder / f"{days[0]}.parquet", index=False)
    erp_ids = on_day[days[1]].assign(line_id="00" + on_day[days[1]]["line_id"], order_id="SO-7")
    write_file(erp_ids, folder / f"{days[1]}.csv")
    write_file(on_day[days[2]].iloc[:0], folder / f"{days[2]}.csv")
    write_file(on_day[days[3]], folder / f"{days[3]}.xlsx")

    source = FilesSource(tmp_path / "landing")
    ranged = source.pull_range("sales_lines", days[0], days[-1])
    one_by_one = pd.concat(
        [source.pull_range("sales_lines", day, day) for day in days], ignore_index=True
    )
    pd.testing.assert_frame_equal(ranged, one_by_one)
    assert ranged["line_id"].str.startswith("00").sum() == len(erp_ids) > 0
    per_day = ranged.groupby(ranged["_business_date"].dt.date).size().to_dict()
    assert per_day == {day: len(on_day[day]) for day in days if day != days[2]}
    assert all(len(on_day[day]) for day in days)
