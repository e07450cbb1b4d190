"""Retention: what is due for erasure, the nightly sweep, reminders, and the retention page."""
