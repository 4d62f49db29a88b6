"""The files source: file drops in a landing folder, and the demo export that writes them.

Layout (fixed by DESIGN.md): `<landing>/<table>/<YYYY-MM-DD>.<csv|parquet|xlsx>`.
Fact tables: one file per business day with that day's rows; a header-only file means
"no rows that day"; a missing file means "not delivered" and refuses the day. Master
tables: full snapshots; the latest file dated on or before a business day applies.
CSV may be UTF-8 (with or without BOM) or GBK, detected. An optional
`<landing>/columns.yml` maps an export's own headers onto the contract, per table.

Rows keep the day of the file they came in (`_business_date`), so validation can tell
when a file holds rows dated on another day. Files are read as they are now: `known_at`
is accepted for the common interface, and a late correction is a replaced file.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow
import yaml

from customer_tiering.config import FILE_FORMATS
from customer_tiering.contract import BUSINESS_DATE, TABLES
from customer_tiering.errors import ConfigError
from customer_tiering.sources import DeliveryRefused, Source
from customer_tiering.sources.conform import conform

COLUMNS_FILE = "columns.yml"
# Encodings tried in order: UTF-8 (a BOM is dropped), then GB18030, the superset of GBK
# that Chinese ERPs and Excel on Chinese Windows write.
_ENCODINGS = ("utf-8-sig", "gb18030")
_UNREADABLE = (
    ValueError,
    OSError,
    KeyError,
    zipfile.BadZipFile,
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    pyarrow.ArrowException,
)


def decode(raw: bytes) -> str:
    """CSV bytes as text, whichever of the supported encodings they are in."""
    for encoding in _ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("not UTF-8 or GBK text")


def read_file(path: Path) -> pd.DataFrame:
    """One delivered file as strings (CSV, Excel) or its own types (Parquet). Text keeps
    ids as the ERP wrote them (`000123` would otherwise be read as the number 123);
    `conform` then makes Parquet's integer ids their decimal text."""
    suffix = path.suffix.lstrip(".")
    if suffix == "csv":
        return pd.read_csv(io.StringIO(decode(path.read_bytes())), dtype=str)
    if suffix == "parquet":
        return pd.read_parquet(path)
    return pd.read_excel(path, dtype=str, engine="openpyxl")


class FilesSource:
    """Input tables from file drops under `landing`."""

    name = "files"

    def __init__(self, landing: Path) -> None:
        if not landing.is_dir():
            raise ConfigError(f"landing folder {landing} does not exist")
        self.landing = landing
        self.headers = self._header_maps()

    def _header_maps(self) -> dict[str, dict[str, str]]:
        """columns.yml: per table, export header -> contract column."""
        path = self.landing / COLUMNS_FILE
        if not path.exists():
            return {}
        try:
            maps = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
        unknown = sorted(set(maps) - set(TABLES)) if isinstance(maps, dict) else ["<not a map>"]
        if unknown:
            raise ConfigError(f"{path}: unknown table(s) {', '.join(map(str, unknown))}")
        return {table: {str(k): str(v) for k, v in (m or {}).items()} for table, m in maps.items()}

    def delivered(self, table: str) -> dict[date, Path]:
        """The files delivered for `table`, by business day."""
        found: dict[date, Path] = {}
        for path in sorted((self.landing / table).glob("*.*")):
            try:
                day = date.fromisoformat(path.stem)
            except ValueError:
                continue  # not a day file (notes, temp files)
            if path.suffix.lstrip(".") not in FILE_FORMATS:
                continue
            if day in found:
                reason = f"two files for one day: {found[day].name}, {path.name}"
                raise DeliveryRefused(table, [day], reason, [found[day], path])
            found[day] = path
        return found

    def _read(self, table: str, day: date, path: Path) -> pd.DataFrame:
        """One file as delivered, its headers mapped onto the contract."""
        try:
            frame = read_file(path)
        except _UNREADABLE as exc:
            reason = f"file {path} cannot be read: {type(exc).__name__}: {exc}"
            raise DeliveryRefused(table, [day], reason, [path]) from exc
        return frame.rename(columns=self.headers.get(table, {}))

    def pull_range(
        self, table: str, start: date, end: date, known_at: date | None = None
    ) -> pd.DataFrame:
        """Fact tables: the files of every day start..end (all must be delivered). Master
        tables: the latest snapshot on or before `start` plus any dated inside the range."""
        files = self.delivered(table)
        if TABLES[table].is_master:
            before = [day for day in files if day <= start]
            if not before:
                reason = f"no snapshot in {self.landing / table} dated on or before {start}"
                raise DeliveryRefused(table, [start], reason, [])
            days = [max(before), *(day for day in files if start < day <= end)]
        else:
            days = list(pd.date_range(start, end).date)
            missing = [day for day in days if day not in files]
            if missing:
                reason = f"not delivered: no file {table}/<day>.({'|'.join(FILE_FORMATS)})"
                raise DeliveryRefused(table, missing, reason, [])
        delivered = [self._read(table, day, files[day]) for day in days]
        # Conformed once for the range, not per file: a day of a sparse source is a few
        # rows, and conforming each file cost more than reading it. Header-only files add
        # no rows, and are left out so that their untyped columns type nothing.
        with_rows = [frame for frame in delivered if len(frame)] or delivered[:1]
        frame = conform(table, pd.concat(with_rows, ignore_index=True))
        day_stamps = pd.Series([pd.Timestamp(day) for day in days])
        frame[BUSINESS_DATE] = day_stamps.repeat([len(f) for f in delivered]).to_numpy()
        return frame


def export(source: Source, start: date, end: date, out: Path, file_format: str) -> int:
    """Write `source`'s tables for start..end in the file-drop layout under `out`: a file
    per fact table per day (header-only on a day without rows) and one per master
    snapshot. Returns the number of files written."""
    if file_format not in FILE_FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FILE_FORMATS)}")
    written = 0
    for table, spec in TABLES.items():
        frame = source.pull_range(table, start, end, known_at=end)
        if spec.is_master:
            dated = pd.to_datetime(frame[BUSINESS_DATE]).dt.date
            days = sorted(set(dated))
        else:
            dated = pd.to_datetime(frame[spec.date_column]).dt.date
            days = list(pd.date_range(start, end).date)
        folder = out / table
        folder.mkdir(parents=True, exist_ok=True)
        columns = list(spec.columns)
        groups = dict(iter(frame[columns].groupby(dated.to_numpy())))
        for day in days:
            rows = groups.get(day, frame[columns].iloc[:0])
            write_file(rows, folder / f"{day.isoformat()}.{file_format}")
            written += 1
    return written


def write_file(frame: pd.DataFrame, path: Path) -> None:
    """One drop file; dates written as YYYY-MM-DD, as an ERP export would."""
    dates = frame.select_dtypes("datetime").columns
    frame = frame.assign(**{c: frame[c].dt.strftime("%Y-%m-%d") for c in dates})
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_excel(path, index=False, engine="openpyxl")
