"""A small known-good warehouse for the input-guard tests, built once per test session
(once for all pytest-xdist workers: tests.conftest.build_once).

Two weeks of small-scale demo data are exported in the file-drop layout and loaded
through the files source (one full pipeline run, dbt included). Tests copy the warehouse
and the landing folder, inject one fault into the next business day and check that the
run is refused before anything is loaded.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from customer_tiering import pipeline
from customer_tiering.config import DemoSettings, Settings
from customer_tiering.sources.demo import DemoSource
from customer_tiering.sources.files import FilesSource, export
from tests.conftest import build_once, shared_dir, table_checksum, warehouse_tables

SCALE = DemoSettings(seed=7, customers=60, lines_per_day=40)
FIRST, LOADED_UNTIL, NEXT_DAY = date(2024, 1, 1), date(2024, 1, 14), date(2024, 1, 15)

CHECKSUMS = "checksums.json"
_root: list[Path] = []  # the root this process built in or found built


def demo_source() -> DemoSource:
    return DemoSource(seed=SCALE.seed, customers=SCALE.customers, lines_per_day=SCALE.lines_per_day)


def good_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the known-good state is built: one folder for the whole session."""
    return shared_dir(tmp_path_factory) / "good"


def _make(root: Path) -> None:
    landing = root / "landing"
    export(demo_source(), FIRST, NEXT_DAY, landing, "csv")
    settings = Settings(
        source="files",
        landing=landing,
        warehouse=root / "good" / "tiers.duckdb",
        quarantine=root / "good_quarantine",
        demo=SCALE,
    )
    pipeline.run(settings, FIRST, LOADED_UNTIL, source=FilesSource(landing))
    (root / CHECKSUMS).write_text(json.dumps(checksums(settings.warehouse)), encoding="utf-8")


def build(root: Path) -> tuple[Path, Path]:
    """(warehouse, landing) of the known-good state, built on first use in `root`."""
    build_once(root, _make)
    _root[:] = [root]
    return root / "good" / "tiers.duckdb", root / "landing"


def good_checksums() -> dict[str, str]:
    """`checksums` of the known-good warehouse, which every copy starts from."""
    assert _root, "build() the good warehouse first"
    return json.loads((_root[0] / CHECKSUMS).read_text(encoding="utf-8"))


def copy_state(root: Path, target: Path) -> Settings:
    """Settings on a private copy of the good warehouse and landing folder."""
    warehouse, landing = build(root)
    (target / "warehouse").mkdir(parents=True)
    shutil.copy2(warehouse, target / "warehouse" / warehouse.name)
    shutil.copytree(landing, target / "landing")
    return Settings(
        source="files",
        landing=target / "landing",
        warehouse=target / "warehouse" / warehouse.name,
        quarantine=target / "quarantine",
        demo=SCALE,
    )


def checksums(warehouse: Path) -> dict[str, str]:
    """Content checksum of every raw and published table (load timestamps left out)."""
    return {table: table_checksum(warehouse, table) for table in warehouse_tables(warehouse)}
