"""A tenant's lifecycle: suspension, reactivation and offboarding (export, crypto-shredding, verification)."""
