"""Failures the command line maps onto its documented exit codes.

A scheduler retries exit 1 (something broke) but never exit 3 (the input was refused:
retrying cannot fix the data), so each failure class carries its own code.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INPUT_REFUSED = 3


class TieringError(Exception):
    """Base of the pipeline's own failures."""

    exit_code = EXIT_FAILURE


class ConfigError(TieringError):
    """Bad settings or command-line usage."""

    exit_code = EXIT_USAGE


class InputRefused(TieringError):
    """A batch failed validation or a delivery is missing; nothing of it was loaded and
    nothing of the run was published."""

    exit_code = EXIT_INPUT_REFUSED


class TransformError(TieringError):
    """dbt failed to build or test the models."""


class WarehouseBusy(TieringError):
    """Another run held the warehouse lock for longer than the run would wait; a retry
    (exit 1) is the right answer."""
