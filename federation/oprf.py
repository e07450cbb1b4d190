"""The oblivious pseudorandom function of RFC 9497, OPRF mode, suite ristretto255-SHA512.

The federation turns a match key (a normalised name, a birth date...) into a token that only
the key custodian's secret can produce, without the custodian ever seeing the key: the
platform *blinds* the key, the custodian *evaluates* the blinded element with its secret, and
the platform *finalizes* (unblinds and hashes) the answer::

    platform                                   custodian (own process, own secret k)
    r, B = blind(key)          ---- B ---->
                               <--- Z ----     Z = blind_evaluate(k, B)
    token = finalize(key, r, Z)                  (= H(key, k * HashToGroup(key)))

The group arithmetic comes from libsodium's ristretto255 functions (the ``rbcl`` wheel bundles
libsodium, so nothing is compiled here); this module adds the RFC's encodings:
``expand_message_xmd`` (RFC 9380), the domain-separation tags, key derivation and the final
hash. :mod:`tests.test_oprf` checks every step against the RFC's test vectors (appendix A.1.1).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import rbcl

SUITE = "ristretto255-SHA512"
MODE_OPRF = 0x00
CONTEXT = b"OPRFV1-" + bytes([MODE_OPRF]) + b"-" + SUITE.encode()
ELEMENT_BYTES = 32
SCALAR_BYTES = 32
OUTPUT_BYTES = 64  # SHA-512
MAX_INPUT = 2**16 - 1


class OprfError(ValueError):
    """An input the protocol refuses: an invalid element, an input too long, a zero key."""


def _i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def expand_message_xmd(message: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1 with SHA-512 (b = 64 bytes, s = 128 bytes)."""
    if len(dst) > 255:
        raise OprfError("domain separation tag too long")
    blocks = -(-length // 64)
    if blocks > 255:
        raise OprfError("requested output too long")
    dst_prime = dst + _i2osp(len(dst), 1)
    b0 = hashlib.sha512(bytes(128) + message + _i2osp(length, 2) + b"\x00" + dst_prime).digest()
    b = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
    output = b
    for index in range(2, blocks + 1):
        b = hashlib.sha512(bytes(x ^ y for x, y in zip(b0, b, strict=True)) + _i2osp(index, 1) + dst_prime).digest()
        output += b
    return output[:length]


def hash_to_group(message: bytes) -> bytes:
    """HashToGroup: 64 uniform bytes mapped onto ristretto255 (RFC 9380 hash_to_ristretto255)."""
    uniform = expand_message_xmd(message, b"HashToGroup-" + CONTEXT, 64)
    return rbcl.crypto_core_ristretto255_from_hash(uniform)


def hash_to_scalar(message: bytes, dst: bytes | None = None) -> bytes:
    """HashToScalar: 64 uniform bytes reduced modulo the group order (little-endian)."""
    uniform = expand_message_xmd(message, dst or b"HashToScalar-" + CONTEXT, 64)
    return rbcl.crypto_core_ristretto255_scalar_reduce(uniform)


def _is_zero(scalar: bytes) -> bool:
    return hmac.compare_digest(scalar, bytes(SCALAR_BYTES))


def derive_key(seed: bytes, info: bytes) -> bytes:
    """DeriveKeyPair (section 3.2.1): the custodian's secret scalar from a 32-byte seed."""
    if len(seed) != 32:
        raise OprfError("the seed is 32 bytes")
    derive_input = seed + _i2osp(len(info), 2) + info
    for counter in range(256):
        secret = hash_to_scalar(derive_input + _i2osp(counter, 1), b"DeriveKeyPair" + CONTEXT)
        if not _is_zero(secret):
            return secret
    raise OprfError("no key could be derived")  # pragma: no cover - probability 2**-2000


def random_key() -> bytes:
    """A fresh secret scalar (never zero)."""
    while True:
        secret = rbcl.crypto_core_ristretto255_scalar_random()
        if not _is_zero(secret):
            return secret


def _check_element(element: bytes) -> bytes:
    if len(element) != ELEMENT_BYTES or not rbcl.crypto_core_ristretto255_is_valid_point(element):
        raise OprfError("not a valid ristretto255 element")
    if hmac.compare_digest(element, bytes(ELEMENT_BYTES)):
        raise OprfError("the identity element is refused")
    return element


@dataclass(frozen=True)
class Blinded:
    """What the platform keeps (``blind``) and what it sends (``element``) for one input."""

    blind: bytes
    element: bytes


def blind(value: bytes, blind_scalar: bytes | None = None) -> Blinded:
    """Blind (section 3.3.1); ``blind_scalar`` only for test vectors, else a random one."""
    if len(value) > MAX_INPUT:
        raise OprfError("input too long")
    point = hash_to_group(value)
    if hmac.compare_digest(point, bytes(ELEMENT_BYTES)):
        raise OprfError("invalid input")  # pragma: no cover - probability negligible
    r = blind_scalar if blind_scalar is not None else random_key()
    return Blinded(r, rbcl.crypto_scalarmult_ristretto255(r, point))


def blind_evaluate(secret: bytes, blinded_element: bytes) -> bytes:
    """BlindEvaluate (the custodian's side): ``secret * blinded_element``."""
    return rbcl.crypto_scalarmult_ristretto255(secret, _check_element(blinded_element))


def finalize(value: bytes, blinded: Blinded, evaluated_element: bytes) -> bytes:
    """Finalize: unblind the custodian's answer and hash it with the input (64 bytes)."""
    inverse = rbcl.crypto_core_ristretto255_scalar_invert(blinded.blind)
    unblinded = rbcl.crypto_scalarmult_ristretto255(inverse, _check_element(evaluated_element))
    hash_input = _i2osp(len(value), 2) + value + _i2osp(len(unblinded), 2) + unblinded + b"Finalize"
    return hashlib.sha512(hash_input).digest()


def evaluate(secret: bytes, value: bytes) -> bytes:
    """The whole function computed by a holder of the secret (tests and the ephemeral
    custodian of ``livc federation link``): equal to ``finalize(blind(...))``."""
    point = hash_to_group(value)
    evaluated = rbcl.crypto_scalarmult_ristretto255(secret, point)
    hash_input = _i2osp(len(value), 2) + value + _i2osp(len(evaluated), 2) + evaluated + b"Finalize"
    return hashlib.sha512(hash_input).digest()
