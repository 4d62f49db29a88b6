"""The business days one run processes: shared by the command line and the DAG, and light
enough for the DAG file to import at parse time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

# How a long window is cut for pull -> validate -> load: calendar months, or N days.
ChunkSize = Literal["month"] | int


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

    def chunks(self, size: ChunkSize) -> list[Window]:
        """The window cut into consecutive pieces that each fit in memory: calendar months
        ("month": the first and last piece may be partial) or `size` days each. A run
        pulls, validates and loads one piece before the next, so its memory does not grow
        with the window."""
        pieces: list[Window] = []
        start = self.start
        while start <= self.end:
            if size == "month":
                following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
            else:
                following = start + timedelta(days=size)
            end = min(following - timedelta(days=1), self.end)
            pieces.append(replace(self, start=start, end=end))
            start = end + timedelta(days=1)
        return pieces

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
