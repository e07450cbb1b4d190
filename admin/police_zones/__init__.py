"""The police-zone directory as the administrators maintain it (pages, API, operations)."""
