"""Onboarding a municipality, intermunicipal cell or police zone, and the cell's set-up wizard."""
