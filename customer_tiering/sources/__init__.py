"""Sources deliver the input contract's tables one business day (or a range) at a time.

Every source answers `pull_range(table, start, end, known_at)`: fact tables give the rows
dated in the range; master tables give full snapshots with a `_business_date` column.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

import pandas as pd

from customer_tiering.config import Settings
from customer_tiering.errors import ConfigError


class Source(Protocol):
    """What the pipeline needs from a place that holds the distributor's data."""

    name: str

    def pull_range(
        self, table: str, start: date, end: date, known_at: date | None = None
    ) -> pd.DataFrame:
        """Rows of `table` for business days start..end as delivered on `known_at`."""
        ...


def open_source(settings: Settings) -> Source:
    """The source named in the settings, configured from them."""
    if settings.source == "demo":
        from customer_tiering.sources.demo import DemoSource

        return DemoSource(
            seed=settings.demo.seed,
            customers=settings.demo.customers,
            lines_per_day=settings.demo.lines_per_day,
        )
    raise ConfigError(f"source {settings.source!r} is not available yet")
