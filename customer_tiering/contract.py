"""The input contract: what every source must deliver per business day.

One description serves the sources (which columns to produce), validation (which
columns and types to expect) and the raw load (which warehouse types to cast to), so
the contract is written down once.

Every id (`*_id`: the table keys and the references between tables) is text: ERP document
numbers look like `SO-2024-000123` or `INV/2024/0042`, leading zeros matter, and an
integer id is its decimal text. Money is DECIMAL with a fixed scale, never a binary float.
"""

from __future__ import annotations

from dataclasses import dataclass

MONEY = "DECIMAL(18,2)"
QUANTITY = "DECIMAL(18,3)"


@dataclass(frozen=True)
class TableSpec:
    """One input table: its key, its business-date column and its typed columns."""

    name: str
    key: str
    columns: dict[str, str]  # column -> DuckDB type, in contract order
    date_column: str | None  # the column that dates a fact row; None for master tables

    @property
    def id_columns(self) -> tuple[str, ...]:
        """The key and the references to other tables: text, compared as delivered."""
        return tuple(name for name in self.columns if name.endswith("_id"))

    @property
    def is_master(self) -> bool:
        """Master tables arrive as full snapshots; facts arrive one business day at a time."""
        return self.date_column is None


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "customers",
            "customer_id",
            {
                "customer_id": "VARCHAR",
                "name": "VARCHAR",
                "region": "VARCHAR",
                "channel": "VARCHAR",
                "created_date": "DATE",
                "credit_limit": MONEY,
                "blocked": "BOOLEAN",
            },
            None,
        ),
        TableSpec(
            "products",
            "product_id",
            {
                "product_id": "VARCHAR",
                "name": "VARCHAR",
                "category": "VARCHAR",
                "list_price": MONEY,
                "unit_cost": MONEY,
            },
            None,
        ),
        TableSpec(
            "sales_lines",
            "line_id",
            {
                "line_id": "VARCHAR",
                "order_id": "VARCHAR",
                "order_date": "DATE",
                "customer_id": "VARCHAR",
                "product_id": "VARCHAR",
                "quantity": QUANTITY,
                "unit_price": MONEY,
                "discount_amount": MONEY,
                "net_amount": MONEY,
                "cost_amount": MONEY,
            },
            "order_date",
        ),
        TableSpec(
            "cost_to_serve",
            "entry_id",
            {
                "entry_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "entry_date": "DATE",
                "kind": "VARCHAR",
                "amount": MONEY,
            },
            "entry_date",
        ),
        TableSpec(
            "ar_invoices",
            "invoice_id",
            {
                "invoice_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "invoice_date": "DATE",
                "due_date": "DATE",
                "amount": MONEY,
            },
            "invoice_date",
        ),
        TableSpec(
            "ar_payments",
            "payment_id",
            {
                "payment_id": "VARCHAR",
                "customer_id": "VARCHAR",
                "invoice_id": "VARCHAR",
                "payment_date": "DATE",
                "amount": MONEY,
            },
            "payment_date",
        ),
    )
}

MASTER_TABLES = tuple(name for name, spec in TABLES.items() if spec.is_master)
FACT_TABLES = tuple(name for name, spec in TABLES.items() if not spec.is_master)
COST_KINDS = ("rebate", "freight", "promotion", "channel_fee", "samples", "service")

# Columns the raw load adds to every contract table.
BUSINESS_DATE = "_business_date"  # the business day whose delivery the row came in
LOADED_AT = "_loaded_at"
