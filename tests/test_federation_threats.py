"""The dictionary attack on the federation index (federation/THREAT_MODEL.md).

The attacker has the full token index of the enrolled people and a population register that
contains them among many others, but not the custodian's secret. Every way to compute a token
without the secret finds nobody; with the secret (a custodian colluding with the operator, the
residual risk the threat model names) everyone is found, so the attack itself works.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta

from livc.federation import oprf
from livc.federation.linkage import Record, ephemeral_custodian, tokens_for
from livc.federation.match_keys import match_keys

GIVEN = ["Jan", "Pieter", "Elodie", "Fatima", "Mohamed", "Youssef", "Ayse", "Mehmet", "Ramzan", "Aslan",
         "Lucas", "Camille", "Nathalie", "Kevin", "Grace", "Patrick", "Ines", "Sara", "Ilyas", "Noah"]
FAMILY = ["Peeters", "Janssens", "Van den Berghe", "De Smet", "El Amrani", "Benali", "Yilmaz", "Öztürk",
          "Kadyrov", "Dudayev", "Dubois", "Lambert", "Mbuyi", "Kabongo", "Claes", "Maes", "Wouters", "Martin"]


def register(size: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """A synthetic population register: (given name, family name, date of birth)."""
    rng = random.Random(seed)
    start = date(1960, 1, 1)
    people = {(rng.choice(GIVEN), rng.choice(FAMILY), (start + timedelta(days=rng.randrange(18000))).isoformat())
              for _ in range(size)}
    return sorted(people)


def index_of(people, secret: bytes) -> set[bytes]:
    """The federation index of ``people``: every token of every key type."""
    records = [Record.from_fields(str(i), given, family, born, None) for i, (given, family, born) in enumerate(people)]
    return {token for tokens in tokens_for(records, ephemeral_custodian(secret)) for token in tokens.values()}


def found(people, index: set[bytes], compute) -> set[tuple[str, str, str]]:
    """The people of the register whose computed tokens appear in the index."""
    return {person for person in people if any(compute(key) in index for key in match_keys(*person).values())}


def test_without_the_custodians_secret_the_dictionary_attack_reidentifies_nobody():
    population = register(1500)
    enrolled = random.Random(1).sample(population, 60)
    secret = oprf.random_key()  # the custodian's, never given to the attacker
    index = index_of(enrolled, secret)
    assert len(index) > 200

    guessed_keys = [oprf.derive_key(bytes(32), b""), oprf.derive_key(b"\xa3" * 32, b"test key"),
                    *(oprf.random_key() for _ in range(3))]
    one = (1).to_bytes(32, "little")  # the identity scalar: H(key) itself, no secret at all
    attacks = {
        "sha256": lambda key: hashlib.sha256(key).digest(),
        "sha512": lambda key: hashlib.sha512(key).digest(),
        "identity scalar": lambda key: oprf.evaluate(one, key),
        **{f"guessed key {i}": (lambda k: lambda key: oprf.evaluate(k, key))(k) for i, k in enumerate(guessed_keys)},
    }
    for name, compute in attacks.items():
        assert found(population, index, compute) == set(), name

    # The control: the same attack with the secret finds every enrolled person (and the test
    # would catch a design whose tokens can be computed without it).
    assert found(population, index, lambda key: oprf.evaluate(secret, key)) >= set(enrolled)


def test_tokens_of_another_epoch_or_deployment_share_nothing():
    people = register(200, seed=3)
    assert index_of(people, oprf.random_key()).isdisjoint(index_of(people, oprf.random_key()))
