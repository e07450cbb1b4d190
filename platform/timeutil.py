"""Time in one convention: naive UTC datetimes in the database, aware ones nowhere else."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as naive UTC with microseconds: what both SQLite and PostgreSQL store unchanged."""
    return datetime.now(UTC).replace(tzinfo=None)
