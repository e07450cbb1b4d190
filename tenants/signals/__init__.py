"""Signals (*signalen*) reported by partners, the cell's case settings and the identities they name."""
