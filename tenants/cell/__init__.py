"""The cell's organisation: its form, tables, seats, partner inventory and the law's minimum."""
