"""The key custodian's real service in a test: served over real HTTP from a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

from livc.federation.custodian.service import create_custodian_app
from livc.federation.custodian.storage import KeyStore


@contextmanager
def threaded_custodian(data_dir: Path, **settings) -> Iterator[str]:
    """``create_custodian_app`` served from a thread (real HTTP) on a key file made first (as
    ``livc custodian init`` does) or kept from an earlier start; yields its base URL."""
    KeyStore(Path(data_dir) / "keys.json", create=True)
    app = create_custodian_app({"data_dir": str(data_dir), **settings})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
