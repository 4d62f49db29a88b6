"""The embedded demo ERP: a deterministic, seeded generator of a distributor's data.

Why a generator and not a fixture file: the pipeline, its tests and its benchmark need
realistic data at any scale (a few hundred customers for a first try, 20,000 customers
and ~30 million sales lines for the benchmark) without shipping data. The world it
simulates follows DOMAIN.md: a long-tailed customer base, uniform supply prices with
promotions, returns, cost to serve, receivables with good and bad payers, late
corrections, and a few planted customers (archetypes) whose behaviour the tiering must
see through.

How it stays deterministic and fast:
- Everything is generated in calendar-month chunks, each seeded from (seed, year, month),
  so a day's rows never depend on which range was asked for (`month.generate_month`, a
  pure function of the world and the month).
- A fact that spans months (a return, a payment of an earlier invoice) is produced by
  the chunk that owns its cause and found later by filtering on its date.
- Within a chunk everything is vectorised numpy; customers and products are integer
  codes until the frame handed out is built (`frames`), or the files written (`drops`).

Modules: `calendar` (day offsets, the story's dates), `world` (products, customers,
archetypes), `month` (orders, lines, returns, invoices), `receivables` (payments),
`costs` (cost to serve), `frames` (contract frames), `source` (the `DemoSource` facade),
`drops` (the file-drop layout written straight to Parquet).
"""

from customer_tiering.sources.demo.calendar import DEMO_EPOCH
from customer_tiering.sources.demo.source import DemoSource
from customer_tiering.sources.demo.world import ARCHETYPES

__all__ = ["ARCHETYPES", "DEMO_EPOCH", "DemoSource"]
