"""The business days one run processes: shared by the command line and the DAG, and light
enough for the DAG file to import at parse time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Window:
    """The business days start..end (inclusive) of one run, and whether tier history is
    recomputed from the first loaded day (full_refresh, after a change of rules)."""

    start: date
    end: date
    full_refresh: bool = False

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")

    @property
    def key(self) -> str:
        """The run's name: the day, or `start_end` for a range."""
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def to_xcom(self) -> dict[str, Any]:
        """A JSON-able form, handed from task to task."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "full_refresh": self.full_refresh,
        }

    @classmethod
    def from_xcom(cls, data: Mapping[str, Any]) -> Window:
        return cls(
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            full_refresh=bool(data.get("full_refresh", False)),
        )
