"""The OPRF of RFC 9497 (OPRF mode, ristretto255-SHA512) against the RFC's own test vectors.

Vectors: RFC 9497 appendix A.1.1 (https://www.rfc-editor.org/rfc/rfc9497#appendix-A.1.1).
"""

from __future__ import annotations

import pytest

from livc.federation import oprf

SEED = bytes.fromhex("a3" * 32)
KEY_INFO = bytes.fromhex("74657374206b6579")  # "test key"
SECRET = bytes.fromhex("5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e")
BLIND = bytes.fromhex("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706")
VECTORS = [
    {
        "input": "00",
        "blinded": "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
        "evaluated": "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
        "output": "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3"
                  "ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
    },
    {
        "input": "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        "blinded": "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
        "evaluated": "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
        "output": "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4"
                  "f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
    },
]


def test_derive_key_pair_gives_the_rfc_secret():
    assert oprf.derive_key(SEED, KEY_INFO) == SECRET


@pytest.mark.parametrize("vector", VECTORS, ids=["vector-1", "vector-2"])
def test_blind_evaluate_finalize_match_the_rfc_vectors(vector):
    value = bytes.fromhex(vector["input"])
    blinded = oprf.blind(value, BLIND)
    assert blinded.element.hex() == vector["blinded"]
    evaluated = oprf.blind_evaluate(SECRET, blinded.element)
    assert evaluated.hex() == vector["evaluated"]
    assert oprf.finalize(value, blinded, evaluated).hex() == vector["output"]
    assert oprf.evaluate(SECRET, value).hex() == vector["output"]


def test_a_random_blind_gives_the_same_token_and_hides_the_input():
    value = b"name:vandenberghe|elodie"
    first, second = oprf.blind(value), oprf.blind(value)
    assert first.element != second.element  # the custodian sees unlinkable requests
    tokens = {oprf.finalize(value, b, oprf.blind_evaluate(SECRET, b.element)) for b in (first, second)}
    assert tokens == {oprf.evaluate(SECRET, value)}
    assert oprf.evaluate(oprf.random_key(), value) not in tokens  # another key, another token


def test_the_custodian_refuses_what_is_not_a_group_element():
    with pytest.raises(oprf.OprfError):
        oprf.blind_evaluate(SECRET, bytes(32))  # the identity
    with pytest.raises(oprf.OprfError):
        oprf.blind_evaluate(SECRET, b"\xff" * 32)  # not an encoding
    with pytest.raises(oprf.OprfError):
        oprf.blind_evaluate(SECRET, b"\x01" * 31)
