"""Single sign-on per cell through OpenID Connect (placeholder until the SSO work lands)."""

from __future__ import annotations


def provider_for_tenant():
    """The current cell's enabled OIDC provider, or None."""
    return None


def logout_redirect(row):
    """Where to send the browser to end the provider's session too (RP-initiated logout)."""
    return None
