"""The key custodian: a service of its own, over real HTTP, and the platform's clients of it.

The service runs as ``livc custodian serve`` in a subprocess with its own data folder (key
file, clients, audit), started like the demo server of the browser tests. Tests that need
other settings (a one-second token lifetime, Redis) serve ``create_custodian_app`` from a
thread of this process, still over real HTTP. Tokens are checked against the RFC 9497 OPRF
computed directly from the epoch's seed, read from the custodian's key file.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from browser_support import Server, clean_env, console_script, free_port, start_server
from custodian_helpers import threaded_custodian
from livc.federation import oprf
from livc.federation.custodian.service import create_custodian_app
from livc.federation.custodian.settings import (
    MAX_ELEMENTS,
    CustodianConfigurationError,
    CustodianError,
    decode_element,
    encode_element,
    load_custodian_settings,
)
from livc.federation.custodian.storage import ClientRegistry, KeyStore
from livc.federation.custodian_client import (
    CustodianAuthError,
    CustodianClient,
    CustodianUnavailable,
    InProcessCustodian,
    InvalidElement,
    RateLimited,
    RetiredEpoch,
    UnknownEpoch,
    custodian_for,
)
from livc.platform.db import db
from livc.platform.settings import ConfigurationError, Settings, load_settings

RATE = 1500  # elements per minute per cell in the shared service
VALUES = [b"given|family|1990-01-02", b"nn:85073003328", b"soundex:M530|Y210", b"year:1990"]


# --- helpers ---------------------------------------------------------------------------------


def seed_of(data_dir: Path, epoch: int) -> bytes | None:
    """An epoch's seed, read straight from the custodian's key file (None once retired)."""
    keys = json.loads((data_dir / "keys.json").read_text())
    (entry,) = [item for item in keys["epochs"] if item["epoch"] == epoch]
    return None if entry["seed"] is None else base64.urlsafe_b64decode(entry["seed"])


def expected_tokens(data_dir: Path, epoch: int, values: list[bytes]) -> list[bytes]:
    """The OPRF of each value under the epoch's key, computed here from the seed (RFC 9497)."""
    key = oprf.derive_key(seed_of(data_dir, epoch), b"livc custodian epoch %d" % epoch)
    return [oprf.evaluate(key, value) for value in values]


def run_livc(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """``livc custodian ARGS`` with the custodian's own data folder (and no platform settings)."""
    return subprocess.run(
        [str(console_script("livc")), "custodian", *args],
        env=clean_env(custodian_data_dir=str(data_dir)),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def add_client(data_dir: Path, client_id: str = "platform") -> str:
    """Register a client through the command line; the secret it prints (once)."""
    result = run_livc(data_dir, "clients", "add", client_id)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def start_custodian(folder: Path, port: int | None = None, **settings: str) -> Server:
    """``livc custodian serve`` on the key file that ``livc custodian init`` made (or kept)."""
    initialised = run_livc(folder / "custodian", "init")
    assert initialised.returncode == 0, initialised.stderr
    port = port or free_port()
    env = clean_env(custodian_data_dir=str(folder / "custodian"), **{f"custodian_{k}": v for k, v in settings.items()})
    args = [str(console_script("livc")), "custodian", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return start_server(args, folder, port, env)


def bearer(url: str, client_id: str, secret: str) -> dict[str, str]:
    answer = requests.post(f"{url}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def blinded_elements(count: int) -> list[bytes]:
    return [oprf.blind(b"value %d" % index).element for index in range(count)]


# --- the shared service ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[tuple[Server, Path, str]]:
    """``livc custodian serve``: the server, its data folder, the platform client's secret."""
    folder = tmp_path_factory.mktemp("custodian")
    data_dir = folder / "custodian"
    secret = add_client(data_dir)
    server = start_custodian(folder, elements_per_minute=str(RATE))
    yield server, data_dir, secret
    server.stop()


@pytest.fixture
def client(service) -> Iterator[CustodianClient]:
    server, _, secret = service
    custodian = CustodianClient(server.base_url, "platform", secret)
    yield custodian
    custodian.close()


def test_round_trip_gives_the_oprf_of_the_current_epoch(service, client):
    _, data_dir, _ = service
    epoch, tokens = client.tokens("demo-leuven", VALUES)
    assert epoch == 1 and client.epochs().current == 1
    assert tokens == expected_tokens(data_dir, 1, VALUES)
    assert len(set(tokens)) == len(VALUES) and all(len(token) == 64 for token in tokens)
    # Blinding is random each time; the tokens are not.
    assert client.tokens("demo-herko", VALUES) == (1, tokens)
    # The in-process custodian on the same seed computes the same function.
    assert InProcessCustodian(seed_of(data_dir, 1)).tokens("x", VALUES) == (1, tokens)


def test_the_secret_stays_in_the_custodians_files(service):
    _, data_dir, secret = service
    keys = data_dir / "keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "clients.json").stat().st_mode) == 0o600
    clients = (data_dir / "clients.json").read_text()
    assert secret not in clients and "secret_sha256" in clients  # only a hash of the secret


def test_the_platforms_settings_hold_no_custodian_secret(tmp_path, monkeypatch):
    fields = set(Settings.model_fields)
    assert {name for name in fields if "custodian" in name} == {
        "custodian_url",
        "custodian_client_id",
        "custodian_client_secret",
    }
    assert not [name for name in fields if any(word in name for word in ("seed", "oprf", "epoch"))]
    # The custodian's own variables mean nothing to the platform.
    monkeypatch.setenv("LIVC_CUSTODIAN_DATA_DIR", str(tmp_path / "custodian"))
    monkeypatch.setenv("LIVC_CUSTODIAN_KEY_FILE", str(tmp_path / "custodian" / "keys.json"))
    settings = load_settings({"data_dir": str(tmp_path / "data")})
    assert "keys.json" not in repr(settings.model_dump())
    configured = load_settings(
        {"custodian_url": "https://custodian.example/", "custodian_client_id": "platform", "custodian_client_secret": "s3cr3t-" * 6}
    )
    assert configured.custodian_url == "https://custodian.example"
    assert "s3cr3t" not in repr(configured)
    client = custodian_for(configured)
    assert isinstance(client, CustodianClient) and "s3cr3t" not in repr(client)


def test_the_platforms_settings_check_the_custodian_credentials():
    with pytest.raises(ConfigurationError, match="LIVC_CUSTODIAN_CLIENT_ID"):
        load_settings({"custodian_url": "https://custodian.example"})
    with pytest.raises(ConfigurationError, match="LIVC_CUSTODIAN_CLIENT_SECRET"):
        load_settings({"custodian_url": "https://custodian.example", "custodian_client_id": "platform"})
    with pytest.raises(ConfigurationError, match="LIVC_CUSTODIAN_URL"):
        load_settings({"custodian_url": "custodian.example", "custodian_client_id": "p", "custodian_client_secret": "s"})
    assert load_settings({"custodian_url": "", "custodian_client_id": ""}).custodian_url is None


def test_production_needs_the_custodian_service(tmp_path):
    production = Settings.model_construct(env="production", data_dir=tmp_path, custodian_url=None)
    with pytest.raises(ConfigurationError, match="LIVC_CUSTODIAN_URL"):
        custodian_for(production)
    assert not (tmp_path / "custodian").exists()


def test_the_database_holds_no_custodian_secret(sqlite_app):
    """The demo's in-process custodian keeps its seed in its own key file, not in a table."""
    settings = sqlite_app.extensions["livc.settings"]
    custodian = custodian_for(settings)
    assert isinstance(custodian, InProcessCustodian)
    epoch, tokens = custodian.tokens("demo-leuven", VALUES)
    data_dir = settings.data_dir / "custodian"
    assert tokens == expected_tokens(data_dir, epoch, VALUES)
    with sqlite_app.app_context():
        columns = [f"{table.name}.{column.name}" for table in db.metadata.tables.values() for column in table.columns]
        assert not [name for name in columns if "seed" in name]
        seed = seed_of(data_dir, epoch)
        database = Path(db.engine.url.database).read_bytes()
        for form in (seed, base64.urlsafe_b64encode(seed), seed.hex().encode()):
            assert form not in database
    # The same folder (the demo's custodian state) keeps the same tokens across restarts.
    assert custodian_for(settings).tokens("demo-herko", VALUES) == (epoch, tokens)


def test_wrong_client_credentials_get_401(service):
    server, _, secret = service
    url = f"{server.base_url}/oauth/token"
    grant = {"grant_type": "client_credentials"}
    wrong = requests.post(url, data=grant, auth=("platform", "not-the-secret"), timeout=10)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic ")
    unknown = requests.post(url, data=grant, auth=("nobody", secret), timeout=10)
    assert unknown.status_code == 401 and unknown.json() == wrong.json()  # no hint which was wrong
    posted = requests.post(url, data={**grant, "client_id": "platform", "client_secret": "wrong"}, timeout=10)
    assert posted.status_code == 401
    right = requests.post(url, data={**grant, "client_id": "platform", "client_secret": secret}, timeout=10)
    assert right.status_code == 200 and right.json()["token_type"] == "Bearer"
    assert 0 < right.json()["expires_in"] <= 600
    with pytest.raises(CustodianAuthError):
        CustodianClient(server.base_url, "platform", "not-the-secret").epochs()


def test_evaluate_and_epochs_need_a_valid_bearer_token(service):
    server, _, secret = service
    element = encode_element(blinded_elements(1)[0])
    body = {"cell": "demo-leuven", "elements": [element]}
    missing = requests.post(f"{server.base_url}/evaluate", json=body, timeout=10)
    assert missing.status_code == 401 and missing.json()["error"] == "missing_authorization"
    assert requests.get(f"{server.base_url}/epochs", timeout=10).status_code == 401
    forged = {"Authorization": "Bearer " + "A" * 43}
    refused = requests.post(f"{server.base_url}/evaluate", json=body, headers=forged, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    basic = requests.post(f"{server.base_url}/evaluate", json=body, auth=("platform", secret), timeout=10)
    assert basic.status_code == 401  # the client secret itself is no bearer token
    answer = requests.post(f"{server.base_url}/evaluate", json=body, headers=bearer(server.base_url, "platform", secret), timeout=10)
    assert answer.status_code == 200 and answer.json()["epoch"] == 1 and len(answer.json()["elements"]) == 1
    assert requests.get(f"{server.base_url}/healthz", timeout=10).json() == {"status": "ok"}


def test_invalid_elements_are_refused_with_their_index(service, client):
    server, _, secret = service
    headers = bearer(server.base_url, "platform", secret)
    good = encode_element(blinded_elements(1)[0])
    for bad in (encode_element(bytes(32)), encode_element(b"\xff" * 32), "not base64!", good[:-2], 7):
        answer = requests.post(
            f"{server.base_url}/evaluate", json={"cell": "invalid", "elements": [good, bad]}, headers=headers, timeout=10
        )
        assert answer.status_code == 422, bad
        assert answer.json()["error"] == "invalid_element" and answer.json()["index"] == 1
    with pytest.raises(InvalidElement) as refused:
        client.evaluate("invalid", [blinded_elements(1)[0], bytes(32)])
    assert refused.value.index == 1
    # In the second batch of a large call, the index still counts from the first element.
    elements = [blinded_elements(1)[0]] * (MAX_ELEMENTS + 5)
    elements[MAX_ELEMENTS + 3] = b"\xff" * 32
    with pytest.raises(InvalidElement) as refused:
        client.evaluate("invalid-batch", elements)
    assert refused.value.index == MAX_ELEMENTS + 3


def test_malformed_requests_are_refused(service):
    server, _, secret = service
    headers = bearer(server.base_url, "platform", secret)
    good = encode_element(blinded_elements(1)[0])
    for body, status in (
        ({"elements": [good]}, 400),
        ({"cell": "", "elements": [good]}, 400),
        ({"cell": "a/b", "elements": [good]}, 400),
        ({"cell": "x", "elements": []}, 400),
        ({"cell": "x", "elements": [good], "epoch": "1"}, 400),
        ({"cell": "x", "elements": [good], "epoch": 0}, 400),
        ([good], 400),
        ({"cell": "x", "elements": [good] * (MAX_ELEMENTS + 1)}, 413),
        ({"cell": "x", "elements": [good], "epoch": 99}, 409),
    ):
        answer = requests.post(f"{server.base_url}/evaluate", json=body, headers=headers, timeout=10)
        assert answer.status_code == status, (body if len(str(body)) < 200 else status, answer.text)
        assert answer.json()["error"]
    huge = requests.post(
        f"{server.base_url}/evaluate", data=b"{" + b" " * 300_000 + b"}", headers={**headers, "Content-Type": "application/json"}, timeout=10
    )
    assert huge.status_code == 413


def test_the_client_batches_large_calls_and_checks_epochs(service, client):
    _, data_dir, _ = service
    key = oprf.derive_key(seed_of(data_dir, 1), b"livc custodian epoch 1")
    distinct = blinded_elements(3)
    elements = [distinct[index % 3] for index in range(MAX_ELEMENTS + 200)]
    epoch, evaluated = client.evaluate("batch", elements)
    assert epoch == 1 and len(evaluated) == len(elements)
    assert evaluated[:3] == [oprf.blind_evaluate(key, element) for element in distinct]
    assert evaluated[MAX_ELEMENTS + 1] == oprf.blind_evaluate(key, distinct[(MAX_ELEMENTS + 1) % 3])
    with pytest.raises(UnknownEpoch):
        client.evaluate("batch", distinct, epoch=99)
    assert client.evaluate("batch", [], epoch=1) == (1, [])


def test_rate_limit_per_cell(service, client):
    server, _, secret = service
    element = blinded_elements(1)[0]
    client.evaluate("rate-a", [element] * MAX_ELEMENTS)
    client.evaluate("rate-a", [element] * (RATE - MAX_ELEMENTS))
    with pytest.raises(RateLimited) as limited:
        client.evaluate("rate-a", [element])
    assert 1 <= limited.value.retry_after <= 60
    answer = requests.post(
        f"{server.base_url}/evaluate",
        json={"cell": "rate-a", "elements": [encode_element(element)]},
        headers=bearer(server.base_url, "platform", secret),
        timeout=10,
    )
    assert answer.status_code == 429 and answer.json()["error"] == "rate_limited"
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    # Another cell has its own allowance.
    assert client.evaluate("rate-b", [element])[0] == 1


def test_evaluations_are_audited_per_cell_without_elements(service, client):
    _, data_dir, _ = service
    elements = blinded_elements(5)
    client.evaluate("audit-a", elements)
    client.evaluate("audit-b", elements[:2])
    with pytest.raises(InvalidElement):
        client.evaluate("audit-b", [elements[0], bytes(32)])
    audit = data_dir / "audit.jsonl"
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    text = audit.read_text()
    for element in elements:
        assert encode_element(element) not in text and element.hex() not in text
    entries = [json.loads(line) for line in text.splitlines()]
    evaluations = [entry for entry in entries if entry["event"] == "evaluate"]
    assert all(set(entry) <= {"time", "event", "client", "cell", "epoch", "elements", "outcome", "purpose"}
               for entry in evaluations)
    by_cell = [(e["cell"], e["client"], e["epoch"], e["elements"], e["outcome"]) for e in evaluations if e["cell"] in ("audit-a", "audit-b")]
    assert by_cell == [
        ("audit-a", "platform", 1, 5, "ok"),
        ("audit-b", "platform", 1, 2, "ok"),
        ("audit-b", "platform", 1, 2, "invalid_element"),
    ]
    assert any(e["outcome"] == "rate_limited" and e["cell"] == "rate-a" for e in evaluations)
    assert any(e["outcome"] == "unauthorized" and e["client"] is None for e in evaluations)
    assert any(e["event"] == "token" and e["outcome"] == "refused" for e in entries)
    assert any(e["event"] == "token" and e["outcome"] == "issued" and e["client"] == "platform" for e in entries)


# --- epochs: rotation and retirement ---------------------------------------------------------


def test_rotation_and_retirement(tmp_path):
    data_dir = tmp_path / "custodian"
    secret = add_client(data_dir)
    server = start_custodian(tmp_path)
    custodian = CustodianClient(server.base_url, "platform", secret)
    try:
        first = custodian.tokens("demo-leuven", VALUES)
        assert first == (1, expected_tokens(data_dir, 1, VALUES))

        rotated = run_livc(data_dir, "rotate")
        assert rotated.returncode == 0 and "epoch 2 is now current" in rotated.stdout
        status = custodian.epochs()
        assert (status.current, status.active, status.retired) == (2, (1, 2), ())
        second = custodian.tokens("demo-leuven", VALUES)
        assert second == (2, expected_tokens(data_dir, 2, VALUES))
        assert not set(first[1]) & set(second[1])  # nothing links tokens across epochs
        assert custodian.tokens("demo-leuven", VALUES, epoch=1) == first  # until retired

        current = run_livc(data_dir, "retire", "2")
        assert current.returncode == 1 and "current epoch" in current.stderr
        retired = run_livc(data_dir, "retire", "1")
        assert retired.returncode == 0, retired.stderr
        assert seed_of(data_dir, 1) is None  # the secret of epoch 1 is gone
        with pytest.raises(RetiredEpoch):
            custodian.tokens("demo-leuven", VALUES, epoch=1)
        answer = requests.post(
            f"{server.base_url}/evaluate",
            json={"cell": "demo-leuven", "epoch": 1, "elements": [encode_element(blinded_elements(1)[0])]},
            headers=bearer(server.base_url, "platform", secret),
            timeout=10,
        )
        assert answer.status_code == 410 and answer.json()["error"] == "retired_epoch"
        status = custodian.epochs()
        assert (status.current, status.active, status.retired) == (2, (2,), (1,))
        assert custodian.tokens("demo-leuven", VALUES) == second

        shown = run_livc(data_dir, "status")
        assert "current epoch: 2" in shown.stdout and "retired epochs: 1" in shown.stdout
        assert "clients: platform" in shown.stdout
        audit = [json.loads(line) for line in (data_dir / "audit.jsonl").read_text().splitlines()]
        assert {"event": "rotate", "epoch": 2, "previous": 1} in [{k: v for k, v in e.items() if k != "time"} for e in audit]
        assert any(e["event"] == "retire" and e["epoch"] == 1 for e in audit)
        assert any(e["event"] == "evaluate" and e["outcome"] == "retired_epoch" and e["epoch"] == 1 for e in audit)
    finally:
        custodian.close()
        server.stop()


def test_the_client_fetches_a_new_token_when_the_custodian_restarts(tmp_path):
    data_dir = tmp_path / "custodian"
    secret = add_client(data_dir)
    port = free_port()
    server = start_custodian(tmp_path, port)
    custodian = CustodianClient(server.base_url, "platform", secret)
    try:
        before = custodian.tokens("demo-leuven", VALUES)
        server.stop()
        with pytest.raises(CustodianUnavailable):
            custodian.epochs()
        server = start_custodian(tmp_path, port)  # tokens were in the old process's memory
        assert custodian.tokens("demo-leuven", VALUES) == before  # the key file kept the secret
        audit = [json.loads(line) for line in (data_dir / "audit.jsonl").read_text().splitlines()]
        assert [e["outcome"] for e in audit if e["event"] == "token"] == ["issued", "issued"]
        assert [e["outcome"] for e in audit if e["event"] == "evaluate"] == ["ok", "unauthorized", "ok"]
    finally:
        custodian.close()
        server.stop()


def test_client_commands(tmp_path):
    data_dir = tmp_path / "custodian"
    short = run_livc(data_dir, "clients", "add", "platform", "--secret-stdin", stdin="too-short\n")
    assert short.returncode == 1 and "at least" in short.stderr
    given = "g" * 40
    added = run_livc(data_dir, "clients", "add", "platform", "--secret-stdin", stdin=given + "\n")
    assert added.returncode == 0 and given not in added.stdout
    assert ClientRegistry(data_dir / "clients.json").check("platform", given)
    assert run_livc(data_dir, "clients", "add", "bad id").returncode == 1
    assert run_livc(data_dir, "clients", "list").stdout.split() == ["platform"]
    assert run_livc(data_dir, "clients", "remove", "platform").returncode == 0
    assert run_livc(data_dir, "clients", "remove", "platform").returncode == 1
    assert run_livc(data_dir, "status").returncode == 2  # no key file yet: a configuration error
    assert run_livc(data_dir, "init").returncode == 0
    assert stat.S_IMODE((data_dir / "keys.json").stat().st_mode) == 0o600


# --- the service in a thread (other settings) ------------------------------------------------


def test_expired_and_revoked_tokens_are_refused(tmp_path):
    data_dir = tmp_path / "custodian"
    secret = ClientRegistry(data_dir / "clients.json").add("platform")
    with threaded_custodian(data_dir, token_seconds=1) as url:
        headers = bearer(url, "platform", secret)
        body = {"cell": "demo-leuven", "elements": [encode_element(blinded_elements(1)[0])]}
        assert requests.post(f"{url}/evaluate", json=body, headers=headers, timeout=10).status_code == 200
        time.sleep(1.2)
        expired = requests.post(f"{url}/evaluate", json=body, headers=headers, timeout=10)
        assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"
        # The client replaces an expiring token by itself.
        custodian = CustodianClient(url, "platform", secret)
        assert custodian.evaluate("demo-leuven", blinded_elements(1))[0] == 1
        time.sleep(1.2)
        assert custodian.evaluate("demo-leuven", blinded_elements(1))[0] == 1
        # A new secret ends the tokens issued under the old one.
        old = bearer(url, "platform", secret)
        secret = ClientRegistry(data_dir / "clients.json").add("platform")
        assert requests.post(f"{url}/evaluate", json=body, headers=old, timeout=10).status_code == 401
        # A removed client's tokens stop working at once, and it gets no new one.
        fresh = bearer(url, "platform", secret)
        assert requests.post(f"{url}/evaluate", json=body, headers=fresh, timeout=10).status_code == 200
        ClientRegistry(data_dir / "clients.json").remove("platform")
        assert requests.post(f"{url}/evaluate", json=body, headers=fresh, timeout=10).status_code == 401
        with pytest.raises(CustodianAuthError):
            CustodianClient(url, "platform", secret).epochs()


@pytest.mark.redis
def test_rate_limit_counters_in_redis(tmp_path, redis_url):
    data_dir = tmp_path / "custodian"
    secret = ClientRegistry(data_dir / "clients.json").add("platform")
    element = blinded_elements(1)[0]
    # Two custodian processes (here two apps) share the allowance of a cell through Redis.
    with threaded_custodian(data_dir, elements_per_minute=MAX_ELEMENTS, redis_url=redis_url) as first:
        with threaded_custodian(data_dir, elements_per_minute=MAX_ELEMENTS, redis_url=redis_url) as second:
            CustodianClient(first, "platform", secret).evaluate("shared", [element] * 600)
            with pytest.raises(RateLimited):
                CustodianClient(second, "platform", secret).evaluate("shared", [element] * 600)
            assert CustodianClient(second, "platform", secret).evaluate("shared", [element] * 400)[0] == 1


# --- the in-process custodian and the key store ----------------------------------------------


def test_in_process_custodian_computes_the_oprf_of_its_seed():
    seed = bytes(range(32))
    custodian = InProcessCustodian(seed)
    key = oprf.derive_key(seed, b"livc custodian epoch 1")
    assert custodian.tokens("cell", VALUES) == (1, [oprf.evaluate(key, value) for value in VALUES])
    assert InProcessCustodian().tokens("cell", VALUES) != InProcessCustodian().tokens("cell", VALUES)
    assert custodian.tokens("cell", []) == (1, [])
    with pytest.raises(ValueError):
        InProcessCustodian(b"short")


def test_in_process_custodian_rotates_and_retires():
    custodian = InProcessCustodian()
    first = custodian.tokens("cell", VALUES)
    assert custodian.rotate() == 2
    second = custodian.tokens("cell", VALUES)
    assert second[0] == 2 and not set(first[1]) & set(second[1])
    assert custodian.tokens("cell", VALUES, epoch=1) == first
    with pytest.raises(CustodianError, match="current epoch"):
        custodian.retire(2)
    with pytest.raises(UnknownEpoch):
        custodian.retire(7)
    custodian.retire(1)
    with pytest.raises(RetiredEpoch):
        custodian.tokens("cell", VALUES, epoch=1)
    with pytest.raises(RetiredEpoch):
        custodian.retire(1)
    with pytest.raises(UnknownEpoch):
        custodian.evaluate("cell", blinded_elements(1), epoch=3)
    status = custodian.epochs()
    assert (status.current, status.active, status.retired) == (2, (2,), (1,))
    assert custodian.rotate() == 3  # never reuses a retired number


def test_in_process_custodian_refuses_invalid_elements():
    custodian = InProcessCustodian()
    good = blinded_elements(2)
    for bad in (bytes(32), b"\xff" * 32, b"short"):
        with pytest.raises(InvalidElement) as refused:
            custodian.evaluate("cell", [*good, bad])
        assert refused.value.index == 2


def test_key_file_is_private_and_followed_across_processes(tmp_path):
    folder = tmp_path / "custodian"
    demo = InProcessCustodian.from_directory(folder)
    keys = folder / "keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    first = demo.tokens("cell", VALUES)
    assert InProcessCustodian.from_directory(folder).tokens("cell", VALUES) == first  # same seed
    # Another process (the admin command) rotates: this one follows without a restart.
    KeyStore(keys).rotate()
    assert demo.epochs().current == 2 and demo.tokens("cell", VALUES)[0] == 2
    os.chmod(keys, 0o644)
    with pytest.raises(CustodianConfigurationError, match="chmod 600"):
        KeyStore(keys)
    os.chmod(keys, 0o600)
    keys.write_text("{}")
    with pytest.raises(CustodianConfigurationError, match="not a custodian key file"):
        KeyStore(keys)
    with pytest.raises(CustodianConfigurationError, match="no key file"):
        KeyStore(tmp_path / "elsewhere" / "keys.json")


def test_custodian_settings_are_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVC_DATA_DIR", str(tmp_path / "platform"))
    monkeypatch.setenv("LIVC_CUSTODIAN_URL", "https://custodian.example")
    monkeypatch.setenv("LIVC_CUSTODIAN_DATA_DIR", str(tmp_path / "custodian"))
    settings = load_custodian_settings()
    assert settings.data_dir == tmp_path / "custodian"
    assert settings.keys_path == tmp_path / "custodian" / "keys.json"
    assert load_custodian_settings({"key_file": str(tmp_path / "k.json")}).keys_path == tmp_path / "k.json"
    with pytest.raises(CustodianConfigurationError, match="LIVC_CUSTODIAN_ELEMENTS_PER_MINUTE"):
        load_custodian_settings({"elements_per_minute": 10})
    with pytest.raises(CustodianConfigurationError, match="LIVC_CUSTODIAN_REDIS_URL"):
        load_custodian_settings({"redis_url": "http://redis"})
    with pytest.raises(CustodianConfigurationError, match="TLS_KEYFILE"):
        load_custodian_settings({"tls_certfile": str(tmp_path / "cert.pem")})


def test_element_encoding_is_strict():
    element = blinded_elements(1)[0]
    text = encode_element(element)
    assert len(text) == 43 and decode_element(text) == element and decode_element(text + "=") == element
    for bad in (text[:-1], text + "A", text.replace(text[0], "+", 1), "", None, 5):
        with pytest.raises(ValueError):
            decode_element(bad)


# --- the key file is created explicitly, never by a start on an empty volume ---------------------


def serve_once(data_dir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    """``livc custodian serve`` expected to refuse at once (it would serve otherwise: a timeout)."""
    return subprocess.run(
        [str(console_script("livc")), "custodian", "serve", "--port", str(free_port()), *args],
        env=clean_env(custodian_data_dir=str(data_dir), **{f"custodian_{k}": v for k, v in settings.items()}),
        capture_output=True, text=True, timeout=300, check=False,
    )


def test_serve_refuses_to_start_without_its_key_file(tmp_path):
    data_dir = tmp_path / "custodian"
    add_client(data_dir)
    refused = serve_once(data_dir)
    assert refused.returncode == 2 and refused.stdout == ""
    [line] = [line for line in refused.stderr.splitlines() if line.strip()]
    assert "no key file" in line and "livc custodian init" in line and str(data_dir / "keys.json") in line
    assert not (data_dir / "keys.json").exists()
    # The service's app itself makes no key either (gunicorn's worker creates it on its own).
    with pytest.raises(CustodianConfigurationError, match="livc custodian init"):
        create_custodian_app({"data_dir": str(data_dir)})
    assert not (data_dir / "keys.json").exists()


def test_a_lost_key_file_is_not_replaced_by_a_restart(tmp_path):
    """The volume emptied of its key file: the custodian does not come back with a new key
    (under which no enrolled token would match again) until the file is restored."""
    data_dir = tmp_path / "custodian"
    secret = add_client(data_dir)
    port = free_port()
    server = start_custodian(tmp_path, port)
    custodian = CustodianClient(server.base_url, "platform", secret)
    try:
        before = custodian.tokens("demo-leuven", VALUES)
        server.stop()
        saved = (data_dir / "keys.json").read_bytes()
        (data_dir / "keys.json").unlink()
        refused = serve_once(data_dir)
        assert refused.returncode == 2 and "livc custodian init" in refused.stderr
        assert not (data_dir / "keys.json").exists()
        # Restored from its backup, it serves the same tokens again.
        (data_dir / "keys.json").write_bytes(saved)
        (data_dir / "keys.json").chmod(0o600)
        server = start_server([str(console_script("livc")), "custodian", "serve", "--port", str(port)], tmp_path, port,
                              clean_env(custodian_data_dir=str(data_dir)))
        assert custodian.tokens("demo-leuven", VALUES) == before
    finally:
        custodian.close()
        server.stop()


@pytest.mark.parametrize("how", ["--create-key", "LIVC_CUSTODIAN_CREATE_KEY"])
def test_serve_creates_the_key_file_only_when_told(tmp_path, how):
    data_dir = tmp_path / "custodian"
    secret = add_client(data_dir)
    port = free_port()
    settings = {"custodian_create_key": "true"} if how == "LIVC_CUSTODIAN_CREATE_KEY" else {}
    args = [str(console_script("livc")), "custodian", "serve", "--port", str(port)]
    server = start_server([*args, "--create-key"] if how == "--create-key" else args, tmp_path, port,
                          clean_env(custodian_data_dir=str(data_dir), **settings))
    try:
        assert stat.S_IMODE((data_dir / "keys.json").stat().st_mode) == 0o600
        assert f"created {data_dir / 'keys.json'}: a new key, epoch 1" in server.output()
        custodian = CustodianClient(server.base_url, "platform", secret)
        assert custodian.tokens("demo-leuven", VALUES) == (1, expected_tokens(data_dir, 1, VALUES))
        custodian.close()
    finally:
        server.stop()
    # Told again, on the existing file: kept, not replaced.
    seed = seed_of(data_dir, 1)
    server = start_server([*args, "--create-key"], tmp_path, port, clean_env(custodian_data_dir=str(data_dir)))
    server.stop()
    assert seed_of(data_dir, 1) == seed
