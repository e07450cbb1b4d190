"""Linking two sets of identities through OPRF tokens: keys, tokens, an equi-join, a decision.

The production path, step by step:

1. each record's typed match keys (:func:`.match_keys.identity_keys`), in memory only;
2. each key blinded (:func:`.oprf.blind`), the blinded elements evaluated by the key custodian
   (a callable ``evaluate_blinded(elements) -> elements``: the custodian service, or an
   in-process stand-in holding an ephemeral secret), and finalized into a token;
3. an equi-join on (key type, token): the right side's tokens in a dictionary, every left
   token looked up in it (a hash join, never a comparison of all pairs);
4. per pair, the key types that agree and the fields one side does not know, and the decision
   (:func:`.match_keys.decide`): an alert carries the pair's score and agreeing types, never a
   value.

:func:`read_csv` reads the evaluation contract's CSV (``livc federation link``).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from livc.federation import oprf
from livc.federation.match_keys import (
    CANDIDATE,
    RESIDUAL,
    DateError,
    Identity,
    NationalNumberError,
    contradicted,
    decide,
    identity_keys,
    key_class,
    score,
    unknown_fields,
)

HEADER = ("id", "given_names", "family_name", "date_of_birth", "national_number")
BATCH = 1000  # blinded elements per call to the custodian (its MAX_ELEMENTS)

EvaluateBlinded = Callable[[list[bytes]], list[bytes]]
"""The key custodian's side: blinded elements in, evaluated elements out, in the same order."""


class InputError(ValueError):
    """An input file that cannot be used; the message says where and why (never a value)."""


@dataclass(frozen=True)
class Record:
    """One person of one side: an identifier and the parsed identity."""

    id: str
    identity: Identity

    @classmethod
    def from_fields(
        cls,
        record_id: str,
        given_names: str | None,
        family_name: str | None,
        date_of_birth: str | None,
        national_number: str | None = None,
    ) -> Record:
        return cls(record_id, Identity.parse(given_names, family_name, date_of_birth, national_number))


@dataclass(frozen=True)
class Match:
    """A pair alerted on: its strength, the key types that agreed, the fields one side lacked."""

    left_id: str
    right_id: str
    score: float
    agreeing: tuple[str, ...]
    unknown: tuple[str, ...]


# --- reading the contract's CSV ----------------------------------------------------------------


def read_csv(path: str | Path) -> list[Record]:
    """Records from a CSV file with the header ``id,given_names,family_name,date_of_birth,
    national_number`` (UTF-8; dates YYYY-MM-DD, YYYY-MM or YYYY; number and date may be empty).

    Raises :class:`InputError` naming the file and line of the first problem.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _read_rows(path, csv.reader(handle))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a CSV file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except csv.Error as error:
        raise InputError(f"{path}: not a readable CSV file ({error})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror})") from None


def _read_rows(path: Path, rows) -> list[Record]:
    """``rows``: a :func:`csv.reader`, whose ``line_num`` tells the line a row ended on."""
    header = next(rows, None)
    if header is None:
        raise InputError(f"{path}: empty file, expected the header {','.join(HEADER)}")
    names = [name.strip().lower() for name in header]
    if sorted(names) != sorted(HEADER):
        raise InputError(
            f"{path} line 1: the header must be {','.join(HEADER)} (found {','.join(names)})"
        )
    position = {name: names.index(name) for name in HEADER}
    records: list[Record] = []
    seen: set[str] = set()
    for row in rows:
        line = rows.line_num
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(HEADER):
            raise InputError(f"{path} line {line}: {len(row)} fields, expected {len(HEADER)}")
        fields = {name: row[index].strip() for name, index in position.items()}
        record_id = fields["id"]
        if not record_id:
            raise InputError(f"{path} line {line}: the id is empty")
        if record_id in seen:
            raise InputError(f"{path} line {line}: the id {record_id!r} is used twice")
        seen.add(record_id)
        try:
            records.append(Record.from_fields(
                record_id, fields["given_names"], fields["family_name"],
                fields["date_of_birth"], fields["national_number"],
            ))  # fmt: skip
        except DateError:
            raise InputError(
                f"{path} line {line}: bad date_of_birth (expected YYYY-MM-DD, YYYY-MM or YYYY)"
            ) from None
        except NationalNumberError:
            raise InputError(f"{path} line {line}: bad national_number (expected 11 digits)") from None
    return records


# --- tokens through the OPRF ---------------------------------------------------------------------


def ephemeral_custodian(secret: bytes | None = None) -> EvaluateBlinded:
    """An in-process key custodian with its own secret (a fresh one unless given): what
    ``livc federation link`` uses, and tests. The real custodian is a separate service."""
    key = secret if secret is not None else oprf.random_key()

    def evaluate_blinded(elements: list[bytes]) -> list[bytes]:
        return [oprf.blind_evaluate(key, element) for element in elements]

    return evaluate_blinded


def custodian_evaluator(custodian, cell: str) -> EvaluateBlinded:
    """``evaluate_blinded`` through a key custodian (:class:`.custodian_client.Custodian`: the
    service or the in-process one) on behalf of ``cell``, every call pinned to the epoch of the
    first, so that all the tokens of one linkage come from one key."""
    epoch: int | None = None

    def evaluate_blinded(elements: list[bytes]) -> list[bytes]:
        nonlocal epoch
        used, evaluated = custodian.evaluate(cell, elements, epoch)
        epoch = used
        return evaluated

    return evaluate_blinded


def tokens_for(
    records: Sequence[Record],
    evaluate_blinded: EvaluateBlinded,
    batch: int = BATCH,
    batch_linkage: bool = False,
) -> list[dict[str, bytes]]:
    """Each record's tokens by key type: its keys blinded, evaluated by the custodian, finalized.

    The same key (two records of one side sharing a name and birth date) is blinded once.
    ``batch_linkage``: also the keys of :data:`.match_keys.BATCH_TYPES` (two whole sets linked
    in one run; never for what is enrolled).
    """
    keyed = [identity_keys(record.identity, batch_linkage) for record in records]
    distinct = list(dict.fromkeys(key for keys in keyed for key in keys.values()))
    token_of: dict[bytes, bytes] = {}
    for start in range(0, len(distinct), batch):
        values = distinct[start:start + batch]
        blinded = [oprf.blind(value) for value in values]
        evaluated = evaluate_blinded([item.element for item in blinded])
        if len(evaluated) != len(values):
            raise oprf.OprfError("the custodian answered a different number of elements")
        for value, item, element in zip(values, blinded, evaluated, strict=True):
            token_of[value] = oprf.finalize(value, item, element)
    return [{key_type: token_of[key] for key_type, key in keys.items()} for keys in keyed]


# --- the join and the decision -------------------------------------------------------------------


def matches(
    left: Sequence[Record], right: Sequence[Record], evaluate_blinded: EvaluateBlinded
) -> list[Match]:
    """The pairs (one record of each side) alerted on, in the order of the left then the right
    records; each pair once."""
    left_tokens = tokens_for(left, evaluate_blinded, batch_linkage=True)
    right_tokens = tokens_for(right, evaluate_blinded, batch_linkage=True)
    return decide_pairs(left, right, agreeing_pairs(left_tokens, right_tokens))


def agreeing_pairs(
    left_tokens: Sequence[dict[str, bytes]], right_tokens: Sequence[dict[str, bytes]]
) -> dict[tuple[int, int], set[str]]:
    """(left index, right index) -> the key types on which the two agree: a hash join on equal
    (key type, token), so only pairs sharing a token are ever looked at."""
    index: dict[tuple[str, bytes], list[int]] = defaultdict(list)
    for position, tokens in enumerate(right_tokens):
        for key_type, token in tokens.items():
            index[(key_class(key_type), token)].append(position)
    agreeing: dict[tuple[int, int], set[str]] = defaultdict(set)
    for position, tokens in enumerate(left_tokens):
        for key_type, token in tokens.items():
            kind = key_class(key_type)
            for other in index.get((kind, token), ()):
                agreeing[(position, other)].add(kind)
    return agreeing


def decide_pairs(
    left: Sequence[Record], right: Sequence[Record], agreeing: dict[tuple[int, int], set[str]]
) -> list[Match]:
    """Apply the decision rule to every pair that shares a token, one to one: each record takes
    part in at most one alerted pair.

    Registry against registry, a person is in each register at most once, so the pairs are
    assigned greedily: first the pairs alerted on their own (a strong type or a score of at
    least :data:`.match_keys.THRESHOLD`), highest score first; then, among the records still
    free, the weaker pairs, each alerted when it is the sole candidate of both its records among
    the free ones. Ties are broken by the order of the records (left, then right).

    Then the **residual** step: a pair of two records still free is alerted, with the score
    :data:`.match_keys.RESIDUAL` (below every other alert), when it is the only pair of both
    its records that shares any token at all (counting every pair, assigned or not), unless the
    national numbers contradict it. Each person is in each register once, so two records that
    have only each other are most likely one person: a given name replaced (what the twin rule
    refuses: the family name and the date agree, the given names differ), a date missing or
    wrong beyond a swap (the whole name agrees, ``name_only`` of
    :data:`.match_keys.BATCH_TYPES`), a name replaced and the other mistyped. Where a set holds
    a look-alike of someone the other set lacks (a twin, a namesake born days apart), such an
    alert is wrong: cut at :data:`.match_keys.CANDIDATE` to read the alerts without this step.

    The production matcher (one case against the enrolled index, :mod:`.matching`) has neither
    step: it alerts on the rule of :func:`.match_keys.decide` alone.
    """
    known_left = [record.identity.known for record in left]
    known_right = [record.identity.known for record in right]
    pairs: list[tuple[float, int, int, frozenset[str], bool]] = []
    for (i, j), types in agreeing.items():
        unknown = unknown_fields(known_left[i], known_right[j])
        contradiction = contradicted(known_left[i], known_right[j], types)
        pairs.append((score(types, unknown), i, j, unknown, contradiction))
    pairs.sort(key=lambda pair: (-pair[0], pair[1], pair[2]))
    taken_left: set[int] = set()
    taken_right: set[int] = set()
    chosen: list[tuple[int, int, float, frozenset[str]]] = []
    weak: list[tuple[float, int, int, frozenset[str], bool]] = []
    for total, i, j, unknown, contradiction in pairs:
        decided = decide(agreeing[(i, j)], unknown, contradiction=contradiction)
        if decided is None:
            weak.append((total, i, j, unknown, contradiction))
            continue
        if i in taken_left or j in taken_right:
            continue
        taken_left.add(i)
        taken_right.add(j)
        chosen.append((i, j, decided, unknown))
    free = [pair for pair in weak if pair[1] not in taken_left and pair[2] not in taken_right]
    candidates_left: dict[int, int] = defaultdict(int)
    candidates_right: dict[int, int] = defaultdict(int)
    for total, i, j, _, _ in free:
        if total >= CANDIDATE:
            candidates_left[i] += 1
            candidates_right[j] += 1
    for total, i, j, unknown, contradiction in free:
        sole = candidates_left[i] == 1 and candidates_right[j] == 1
        decided = decide(agreeing[(i, j)], unknown, sole_candidate=sole, contradiction=contradiction)
        if decided is not None:
            chosen.append((i, j, decided, unknown))
            taken_left.add(i)
            taken_right.add(j)
    # The residual step: two free records that have only each other.
    pairs_left = Counter(i for _, i, _, _, _ in pairs)
    pairs_right = Counter(j for _, _, j, _, _ in pairs)
    for _, i, j, unknown, contradiction in pairs:
        alone = pairs_left[i] == 1 and pairs_right[j] == 1
        if alone and not contradiction and i not in taken_left and j not in taken_right:
            chosen.append((i, j, RESIDUAL, unknown))
    chosen.sort(key=lambda pair: (pair[0], pair[1]))
    return [
        Match(left[i].id, right[j].id, decided, tuple(sorted(agreeing[(i, j)])), tuple(sorted(unknown)))
        for i, j, decided, unknown in chosen
    ]


def link(
    left: Sequence[Record], right: Sequence[Record], evaluate_blinded: EvaluateBlinded
) -> list[tuple[str, str, float]]:
    """``(left_id, right_id, score)`` for every pair alerted on."""
    return [(match.left_id, match.right_id, match.score) for match in matches(left, right, evaluate_blinded)]
