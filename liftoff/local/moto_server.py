"""Local mode's DynamoDB (and Secrets Manager): moto's server, answering one request at a time.

moto's backends are not thread-safe: an UpdateItem's ADD reads the attribute, adds and writes it back
with no lock, so two concurrent ADDs to one item can lose one (the spend counter dropped a request's
cost under 8 concurrent clients). DynamoDB applies an ADD atomically, and local mode must too, so this
server takes moto's requests on several threads (connections stay concurrent) but runs moto on one at
a time. moto answers from memory, so the wait is short.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import requests
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server


class SerializedApp:
    """A WSGI app that lets one request at a time into `app`, body included (moto builds it in full)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            body = self._app(environ, start_response)
            try:
                return list(body)
            finally:
                if hasattr(body, "close"):  # as a WSGI server must
                    body.close()


class MotoServer:
    """moto's server on a background thread, as moto.server.ThreadedMotoServer but serialized."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0):
        app = SerializedApp(DomainDispatcherApplication(create_backend_app))
        self._server: BaseWSGIServer = make_server(
            ip_address, port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="moto")

    def start(self) -> None:
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


@contextlib.contextmanager
def serving() -> Iterator[str]:
    """A MotoServer on loopback for the length of a block: yields its URL, then wipes moto's state and stops.
    Every server in one process shares moto's backends, so the next one would find this one's tables."""
    server = MotoServer()
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield url
    finally:
        requests.post(f"{url}/moto-api/reset", timeout=30)
        server.stop()
