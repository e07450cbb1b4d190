"""The key custodian's health answer, which its Kubernetes readiness probe asks for: ready only
while its key file and its clients file can be read and are private to it.

A broken file makes the custodian unready (the platform's calls then go to no one and its
enrolment jobs wait and retry) rather than answering every evaluation with an error; the
answer names no path and no reason.
"""

from __future__ import annotations

import json

import pytest

from livc.federation.custodian.service import create_custodian_app
from livc.federation.custodian.storage import ClientRegistry, KeyStore


@pytest.fixture
def custodian(tmp_path):
    """The custodian's app on its own data folder (key file made first, as ``livc custodian
    init`` does) and a client."""
    KeyStore(tmp_path / "keys.json", create=True)
    app = create_custodian_app({"data_dir": str(tmp_path)})
    ClientRegistry(tmp_path / "clients.json").add("platform")
    return app.test_client(), tmp_path


def health(client) -> tuple[int, dict]:
    answer = client.get("/healthz")
    return answer.status_code, answer.get_json()


def test_ready_with_private_key_and_clients_files(custodian):
    client, folder = custodian
    assert health(client) == (200, {"status": "ok"})
    assert (folder / "keys.json").stat().st_mode & 0o077 == 0


def test_ready_before_any_client_is_registered(tmp_path):
    app = create_custodian_app({"data_dir": str(tmp_path), "create_key": True})  # a first start
    assert health(app.test_client()) == (200, {"status": "ok"})


@pytest.mark.parametrize("name", ["keys.json", "clients.json"])
def test_a_file_others_may_read_makes_it_unready_until_mended(custodian, name):
    client, folder = custodian
    (folder / name).chmod(0o644)
    assert health(client) == (503, {"status": "unavailable"})
    (folder / name).chmod(0o600)
    assert health(client) == (200, {"status": "ok"})


def test_a_garbled_clients_file_makes_it_unready(custodian):
    client, folder = custodian
    (folder / "clients.json").write_text("{not json")
    assert health(client) == (503, {"status": "unavailable"})
    (folder / "clients.json").write_text(json.dumps({"format": "something else", "clients": {}}))
    assert health(client) == (503, {"status": "unavailable"})


def test_a_lost_key_file_makes_it_unready_and_is_not_replaced(custodian):
    """Asking for health never creates a new key: that would silently change every token."""
    client, folder = custodian
    (folder / "keys.json").unlink()
    status, body = health(client)
    assert (status, body) == (503, {"status": "unavailable"})
    assert str(folder) not in json.dumps(body)
    assert not (folder / "keys.json").exists()
