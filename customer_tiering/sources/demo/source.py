"""DemoSource: the demo ERP as a source, a thin facade over the month steps.

Why a facade: `generate_month` is a pure function of the world and a month; this class
only decides which months a pull needs, caches them within a memory budget, cuts the
rows dated in the asked days (and known by `known_at`) and hands them out as frames.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date

import numpy as np
import pandas as pd

from customer_tiering.config import DEMO_MIN_CUSTOMERS
from customer_tiering.contract import FACT_TABLES, TABLES, TableSpec
from customer_tiering.sources.demo.calendar import (
    day_of,
    month_of,
    month_start,
    months_between,
    to_date,
)
from customer_tiering.sources.demo.frames import (
    fact_frame,
    master_frame,
    prices_frame,
    snapshot_days,
)
from customer_tiering.sources.demo.month import Arrays, generate_month, month_prices
from customer_tiering.sources.demo.world import (
    ARCHETYPES,
    MAX_PAY_LAG,
    MAX_RETURN_LAG,
    World,
    build_world,
    str_array,
)

# How many days after the month that caused it a fact row can be dated.
LAG = {
    "sales_lines": MAX_RETURN_LAG,
    "cost_to_serve": 0,
    "ar_invoices": 0,
    "ar_payments": MAX_PAY_LAG,
}
_CACHED_LINES = 3_000_000  # sales lines worth of month chunks kept per table (~0.2 GB)
_THREADS = 2  # months generated at once during a range pull (the machines have 2 cores)
_AHEAD = 2  # months generated ahead of the one being handed out


class _LRU:
    """A small least-recently-used cache: chunks are cheap to rebuild but not free."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[object, Arrays] = OrderedDict()

    def get(self, key: object) -> Arrays | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: object, value: Arrays) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


class DemoSource:
    """The demo ERP: deterministic in (seed, customers, lines_per_day) and the arguments.

    Facts exist from DEMO_EPOCH on; pulling a day may generate earlier months (payments
    arrive up to ~10 months after their invoice) and caches them.

    Planted customers (see `archetypes()`): C00001-05 steady_big, C00006 group_buyer (one
    order on 2024-12-20), C00007 chicken_rib (price squeezed ~12%, heavy fees), C00008-09
    bad_payer, C00010-11 churner (silent from 2025-06-01), C00012-13 grower (+10%/month),
    C00014-15 price_chaser, C00016 blocked (from 2025-06-01); the rest small_steady or new.
    `prices()` gives the uniform supply price and promotion calendar, `late_days()` the
    days whose delivery is completed only by a pull known three days later. Returns are
    credited at the price paid, so only positive lines follow the day's uniform price."""

    name = "demo"

    def __init__(self, seed: int = 42, customers: int = 400, lines_per_day: int = 300) -> None:
        if customers < DEMO_MIN_CUSTOMERS:
            raise ValueError(f"the demo needs at least {DEMO_MIN_CUSTOMERS} customers")
        if lines_per_day < 1:
            raise ValueError("lines_per_day must be at least 1")
        if seed < 0:
            raise ValueError("seed must be zero or positive")
        self.seed = int(seed)
        self.customers = int(customers)
        self.lines_per_day = int(lines_per_day)
        self.world: World = build_world(self.seed, self.customers, self.lines_per_day)
        # Chunk tables are cached per table: payments need a year of chunks, lines only two.
        room = int(np.clip(_CACHED_LINES // (31 * self.lines_per_day), 3, 48))
        self._chunks = {t: _LRU(max(room, 14) if t == "ar_payments" else room) for t in FACT_TABLES}
        self._views = _LRU(max(4, room))
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[int, Future[dict[str, Arrays]]] = {}

    # ------------------------------------------------------------------ public interface
    def pull(self, table: str, day: date, known_at: date | None = None) -> pd.DataFrame:
        """One business day of `table` as the ERP would deliver it on `known_at` (default: day).
        Fact tables: the rows dated `day`. Master tables (customers, products): the full
        snapshot valid on `day`."""
        spec = _spec(table)
        d = day_of(day)
        if spec.is_master:
            return master_frame(self.world, table, np.array([d]), with_business_date=False)
        known = day_of(known_at) if known_at is not None else d
        return self._facts(table, d, d, known)

    def pull_range(
        self, table: str, start: date, end: date, known_at: date | None = None
    ) -> pd.DataFrame:
        """Fact tables: exactly the concatenation of pull(table, d, known_at or end) for d in
        start..end, in that order, computed without a per-day loop.
        Master tables: a `_business_date` column is added and only the snapshots of `start`
        and of each later day whose snapshot differs from the previous day's are returned."""
        spec = _spec(table)
        s, e = day_of(start), day_of(end)
        if s > e:
            raise ValueError(f"start {start} is after end {end}")
        if spec.is_master:
            snaps = snapshot_days(self.world, table, s, e)
            return master_frame(self.world, table, snaps, with_business_date=True)
        known = day_of(known_at) if known_at is not None else e
        return self._facts(table, s, e, known)

    def archetypes(self) -> pd.DataFrame:
        """Ground truth for tests: which planted behaviour each customer follows.
        Not part of the delivered data (a real ERP knows no such thing)."""
        c = self.world.customers
        names = str_array(ARCHETYPES)
        return pd.DataFrame(
            {"customer_id": c.ids, "archetype": names.take(c.arch.astype(np.int64))}
        )

    def prices(self, start: date, end: date) -> pd.DataFrame:
        """The uniform supply price of every product on every day start..end, with the
        promotion calendar: columns product_id, date, list_price, unit_price, promo.
        What everyone except the planted chicken-rib customer pays; for tests and reports."""
        s, e = max(day_of(start), 0), day_of(end)
        frames = [
            prices_frame(self.world, month_start(mi), *month_prices(self.world, mi), s, e)
            for mi in months_between(s, e)
        ]
        if not frames:
            n_p = self.world.products.list_price.size
            none = np.zeros((n_p, 0))
            return prices_frame(self.world, 0, none, none.astype(bool), 0, -1)
        return pd.concat(frames, ignore_index=True)

    def late_days(self, start: date, end: date) -> list[date]:
        """Days start..end whose delivery on the day lacks some orders (with their invoices
        and freight) that only arrive with a pull known on day + 3 or later."""
        s, e = max(day_of(start), 0), day_of(end)
        days: set[int] = set()
        for mi in months_between(s, e):
            lines = self._chunk("sales_lines", mi)
            late = lines["entered"] > lines["day"]
            days.update(int(d) for d in np.unique(lines["day"][late]))
        return [to_date(d) for d in sorted(days) if s <= d <= e]

    def month_rows(self, table: str, mi: int) -> Arrays:
        """Rows of fact `table` dated in month `mi` (months since 2024-01), as the internal
        integer-coded arrays in (date, key) order, every late row included (each carries
        `entered`, the day it is first known), read-only. For writers that stream month
        by month."""
        hit = self._views.get((table, mi))
        if hit is not None:
            return hit
        d0, d1 = month_start(mi), month_start(mi + 1)
        owners = range(max(0, int(month_of(d0 - LAG[table]))), mi + 1)
        self._prefetch(table, owners)
        parts = []
        for j in owners:
            chunk = self._chunk(table, j)
            inside = (chunk["day"] >= d0) & (chunk["day"] < d1)
            parts.append(chunk if inside.all() else {k: v[inside] for k, v in chunk.items()})
        view = (
            parts[0]
            if len(parts) == 1
            else {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        )
        day = view["day"]
        if (day[1:] < day[:-1]).any():
            # Chunks hold their rows in id order and later chunks have larger ids, so a
            # stable sort on the day alone gives (date, key) order.
            order = np.argsort(day, kind="stable")
            view = {k: v[order] for k, v in view.items()}
        for values in view.values():
            values.flags.writeable = False  # shared with the caches
        self._views.put((table, mi), view)
        return view

    def streaming(self, table: str, months: Iterable[int]) -> Iterator[int]:
        """Yield `months` in order while the next ones of `table` are generated on worker
        threads (month steps are pure and numpy releases the GIL), so a long range gains
        from a second core when one is free. The chunks are the same as without threads."""
        months = list(months)
        if len(months) < 2:  # nothing to overlap with: no threads
            yield from months
            return
        with self._threads():
            for at, mi in enumerate(months):
                self._prefetch(table, months[at : at + 1 + _AHEAD])
                yield mi

    # ------------------------------------------------------------------ internals
    @contextmanager
    def _threads(self) -> Iterator[None]:
        """A pool of month generators for the duration of a range pull (none outside, so a
        DemoSource holds no threads between pulls and survives a fork)."""
        if self._pool is not None:
            yield
            return
        with ThreadPoolExecutor(_THREADS, thread_name_prefix="demo-month") as pool:
            self._pool = pool
            try:
                yield
            finally:
                self._pool = None
                for future in self._pending.values():
                    future.cancel()
                self._pending.clear()

    def _prefetch(self, table: str, months: Iterable[int]) -> None:
        """Start generating the months of `table` not cached yet (only inside _threads)."""
        if self._pool is None:
            return
        for mi in months:
            if mi not in self._pending and mi not in self._chunks[table].items:
                self._pending[mi] = self._pool.submit(generate_month, self.world, mi)

    def _chunk(self, table: str, mi: int) -> Arrays:
        """One table of month chunk `mi`, generating (and caching) the whole chunk if needed."""
        hit = self._chunks[table].get(mi)
        if hit is None:
            future = self._pending.pop(mi, None)
            chunk = future.result() if future is not None else generate_month(self.world, mi)
            for name, arrays in chunk.items():
                self._chunks[name].put(mi, arrays)
            hit = self._chunks[table].get(mi)
            assert hit is not None
        return hit

    def _facts(self, table: str, s: int, e: int, known: int) -> pd.DataFrame:
        """Rows dated s..e (day offsets) known by `known`, in (date, key) order."""
        pieces: list[Arrays] = []
        months = months_between(max(s, 0), e)
        for mi in self.streaming(table, months):
            view = self.month_rows(table, mi)
            lo, hi = np.searchsorted(view["day"], [s, e + 1])
            keep = view["entered"][lo:hi] <= known
            pieces.append({k: v[lo:hi][keep] for k, v in view.items()})
        if not pieces:
            pieces = [{k: v[:0] for k, v in self._chunk(table, 0).items()}]
        rows = (
            pieces[0]
            if len(pieces) == 1
            else {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
        )
        return fact_frame(self.world, table, rows)


def _spec(table: str) -> TableSpec:
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    return TABLES[table]
