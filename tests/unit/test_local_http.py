"""Local mode's HTTP servers keep their errors out of other output: socketserver prints a traceback to sys.stderr
from the serving thread, which landed in a CLI command's captured JSON in a later test of the same process."""

import logging
import threading

import pytest
import requests

from liftoff.local.http import LocalHTTPServer, LocalRequestHandler


@pytest.fixture
def serve():
    servers = []

    def _serve(error: Exception) -> str:
        class Handler(LocalRequestHandler):
            def do_GET(self):
                raise error

        server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield _serve
    for server in servers:
        server.shutdown()
        server.server_close()


def _get(url: str) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)


def test_a_client_that_hung_up_is_not_reported(serve, capfd, caplog):
    _get(serve(BrokenPipeError("the client timed out and closed")))
    assert capfd.readouterr().err == ""
    assert not caplog.records


def test_any_other_error_is_logged_not_printed(serve, capfd, caplog):
    with caplog.at_level(logging.ERROR, logger="liftoff.local.http"):
        _get(serve(ValueError("a bug")))
    assert capfd.readouterr().err == ""
    (record,) = caplog.records
    assert "error serving a request" in record.getMessage() and record.exc_info[0] is ValueError
