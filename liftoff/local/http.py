"""The HTTP server and handler base of local mode's servers (the local API, the Bedrock simulator)."""

from __future__ import annotations

import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)
# a client that hung up: an SDK call that timed out (the simulator's [[sim:timeout]] answers after the client gave up)
HUNG_UP = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class LocalHTTPServer(ThreadingHTTPServer):
    """A thread per connection, and a listen backlog for bursts of clients (the default is 5)."""

    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up is no error of the server's; anything else is logged. socketserver's own prints a
        traceback to sys.stderr from the serving thread, which lands in whatever output is being captured then (a
        CLI command's JSON, in a test that runs later in the same process)."""
        if isinstance(sys.exc_info()[1], HUNG_UP):
            return
        logger.exception("local server: error serving a request from %s", client_address)


class LocalRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every response (measured: 44 ms -> 0.7 ms per call).
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # keep the console quiet
        return
