"""Keys derived from the platform's secret, and the helpers that use them.

One configured secret (``LIVC_SECRET_KEY``) is stretched with HKDF into independent keys per
purpose, so a key used to sign cookies is never the key that encrypts a TOTP secret or keys the
look-up digests. Rotating the secret key therefore also invalidates enrolled authenticators:
the operator notes in the README say so.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def derived_key(purpose: str, length: int = 32) -> bytes:
    """A key for ``purpose`` derived from the app's secret key."""
    secret = current_app.config["SECRET_KEY"].encode()
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"livc", info=purpose.encode()).derive(secret)


def keyed_digest(purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under the key for ``purpose``, hex: a look-up key, not a secret."""
    return hmac.new(derived_key(purpose), value.encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    """A single-use secret for a link or a session: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database keeps of a token: its SHA-256 (the token itself has full entropy)."""
    return hashlib.sha256(token.encode()).hexdigest()
