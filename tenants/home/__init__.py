"""A cell's landing page and each member's dashboard (reads the domains below it)."""
