"""The demo's output is pinned: the same seed gives the same bytes, release after release.

Why: the demo generator is rewritten for speed (issue 12) and split into modules (issue
15); both must be pure refactors. The digests below were taken from the generator before
either change (commit 34731f6), at the default scale and at the benchmark's, so any
change to a value, a dtype, a column or a row order shows up here. If a change to the
data is ever intended, re-record them with `python tests/test_demo_checksum.py` and say
so in the commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import date

import numpy as np
import pandas as pd
import pytest

from customer_tiering.sources.demo import DemoSource

Case = tuple[str, Callable[[DemoSource], pd.DataFrame]]
FACTS = ("sales_lines", "cost_to_serve", "ar_invoices", "ar_payments")


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 over column names, dtypes and values (text joined, numbers as raw bytes)."""
    h = hashlib.sha256()
    for name, column in frame.items():
        h.update(f"{name}:{column.dtype}:{len(column)}\n".encode())
        if pd.api.types.is_string_dtype(column.dtype):
            h.update("\x1f".join(column.tolist()).encode())
        else:
            h.update(np.ascontiguousarray(column.to_numpy()).tobytes())
    return h.hexdigest()[:16]


def _month(table: str, start: date, end: date, known: date | None = None) -> Case:
    label = f"{table} {start}..{end}" + (f" known {known}" if known else "")
    return label, lambda s: s.pull_range(table, start, end, known)


def _small_cases() -> Iterator[Case]:
    for start, end in (
        (date(2024, 1, 1), date(2024, 1, 31)),
        (date(2024, 12, 1), date(2025, 1, 15)),
    ):
        for table in FACTS:
            yield _month(table, start, end)
    yield _month("ar_payments", date(2025, 10, 1), date(2025, 10, 31))
    yield _month("sales_lines", date(2026, 12, 1), date(2026, 12, 31))
    yield _month("sales_lines", date(2024, 3, 1), date(2024, 3, 10), date(2024, 3, 5))
    yield (
        "customers range",
        lambda s: s.pull_range("customers", date(2025, 5, 20), date(2025, 6, 20)),
    )
    yield "products", lambda s: s.pull("products", date(2024, 6, 3))
    yield "prices", lambda s: s.prices(date(2024, 11, 25), date(2025, 1, 5))
    yield "archetypes", lambda s: s.archetypes()
    yield (
        "late days",
        lambda s: pd.DataFrame(
            {"day": pd.to_datetime(s.late_days(date(2024, 1, 1), date(2026, 12, 31)))}
        ),
    )


def _bench_cases() -> Iterator[Case]:
    for table in FACTS:
        yield _month(table, date(2024, 2, 1), date(2024, 2, 29))
    yield "customers", lambda s: s.pull("customers", date(2024, 2, 29))


SCALES = {
    "default": (dict(seed=42), _small_cases),
    "benchmark": (dict(seed=42, customers=20_000, lines_per_day=27_400), _bench_cases),
}

PINNED = {
    "default": {
        "sales_lines 2024-01-01..2024-01-31": "e9ef0ead70f321c0",
        "cost_to_serve 2024-01-01..2024-01-31": "9127b0a5892b711e",
        "ar_invoices 2024-01-01..2024-01-31": "353874643ec85820",
        "ar_payments 2024-01-01..2024-01-31": "b1cef6f711fee258",
        "sales_lines 2024-12-01..2025-01-15": "af7c1d0243f7ed4a",
        "cost_to_serve 2024-12-01..2025-01-15": "a47856a4ceacf108",
        "ar_invoices 2024-12-01..2025-01-15": "88708db9e2385355",
        "ar_payments 2024-12-01..2025-01-15": "19b6c46da214bcfc",
        "ar_payments 2025-10-01..2025-10-31": "87cf0d6daf843f8f",
        "sales_lines 2026-12-01..2026-12-31": "0e48ae0fc3711eed",
        "sales_lines 2024-03-01..2024-03-10 known 2024-03-05": "b672c189bdd694cf",
        "customers range": "25ece95109fc1526",
        "products": "e0a97d58b02674d2",
        "prices": "4a3d4a4692016e86",
        "archetypes": "1dd5222a9c7ee34d",
        "late days": "dc0139421f71036f",
    },
    "benchmark": {
        "sales_lines 2024-02-01..2024-02-29": "e0ec42307b2d0a96",
        "cost_to_serve 2024-02-01..2024-02-29": "e78ec69a9288ee1b",
        "ar_invoices 2024-02-01..2024-02-29": "f45a2fa8166dbe64",
        "ar_payments 2024-02-01..2024-02-29": "de66e43bee02ef76",
        "customers": "97fa1cbc7bd8935c",
    },
}


def digests(scale: str) -> dict[str, str]:
    kwargs, cases = SCALES[scale]
    source = DemoSource(**kwargs)
    return {label: frame_digest(make(source)) for label, make in cases()}


@pytest.mark.parametrize("scale", list(SCALES))
def test_demo_output_is_pinned(scale: str) -> None:
    assert digests(scale) == PINNED[scale]


if __name__ == "__main__":
    for scale in SCALES:
        print(f"    {scale!r}: {{")
        for label, digest in digests(scale).items():
            print(f"        {label!r}: {digest!r},")
        print("    },")
