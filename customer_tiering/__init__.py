"""Customer tiering for goods distributors: which customers matter, and why."""

__version__ = "0.1.0"
