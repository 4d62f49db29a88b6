"""Sources deliver the input contract's tables one business day (or a range) at a time.

Every source answers `pull_range(table, start, end, known_at)`: fact tables give the rows
dated in the range; master tables give full snapshots with a `_business_date` column.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Protocol

import pandas as pd

from customer_tiering.config import Settings
from customer_tiering.errors import ConfigError, InputRefused


class DeliveryRefused(InputRefused):
    """A source could not deliver a table for some days (file missing or unreadable):
    refused like a validation failure, and quarantined with whatever was received."""

    def __init__(self, table: str, days: list[date], reason: str, files: list[Path]) -> None:
        self.table, self.days, self.reason, self.files = table, days, reason, files
        shown = ", ".join(day.isoformat() for day in days[:5])
        more = f" and {len(days) - 5} more" if len(days) > 5 else ""
        super().__init__(f"{table} on {shown}{more}: {reason}")


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
    if settings.source == "files":
        from customer_tiering.sources.files import FilesSource

        if settings.landing is None:
            raise ConfigError("the files source needs a landing folder (--landing or landing:)")
        return FilesSource(settings.landing)
    from customer_tiering.sources.sql import SqlSource

    return SqlSource.from_environment(settings.sql_url_env, settings.sql_queries)
