"""The local API against malformed HTTP, over raw sockets: every bad request line, header or body
gets a JSON error (or, for headers that never end, a closed connection after the read timeout),
never a dropped connection without an answer, an HTML page or a thread that waits forever."""

import http.client
import json
import socket

import pytest

from liftoff.local.local_api import MAX_PAYLOAD_BYTES, start_local_api

READ_TIMEOUT_S = 0.5  # the server's; the client waits far longer, so a server that hangs fails the test
CLIENT_TIMEOUT_S = 10.0
API_KEY = "local-key"


@pytest.fixture
def api():
    """A local API in front of a handler that answers 200 to everything it is given."""
    calls = []

    def invoke(event):
        calls.append(event)
        return {"statusCode": 200, "body": json.dumps({"ok": True})}

    server, _ = start_local_api(
        invoke=invoke, api_key=API_KEY, stage="test", max_body_bytes=65_536, read_timeout_s=READ_TIMEOUT_S
    )
    yield server.server_address, calls
    server.shutdown()
    server.server_close()


def exchange(address, raw: bytes) -> tuple[int, dict, dict]:
    """Send raw bytes on a fresh connection; the status, JSON body and headers of the answer."""
    with socket.create_connection(address, timeout=CLIENT_TIMEOUT_S) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        assert response.getheader("Content-Type") == "application/json", body[:200]
        return response.status, json.loads(body), dict(response.getheaders())


def request(content_length: str, body: bytes = b"", extra: str = "") -> bytes:
    return (
        f"POST /v1/invoke HTTP/1.1\r\nHost: localhost\r\nx-api-key: {API_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n{extra}\r\n"
    ).encode() + body


GOOD = json.dumps({"prompt_id": "triage", "variables": {"message": "hi"}}).encode()


@pytest.mark.parametrize(
    ("length", "status", "code"),
    [
        ("abc", 400, "BadRequest"),
        ("-5", 400, "BadRequest"),
        ("1_000", 400, "BadRequest"),  # int() would take it; HTTP does not
        (str(10**12), 413, "PayloadTooLarge"),
        (str(MAX_PAYLOAD_BYTES + 1), 413, "PayloadTooLarge"),
    ],
)
def test_a_content_length_that_is_not_a_usable_length_gets_a_json_4xx(api, length, status, code):
    address, calls = api
    # Given a request whose Content-Length is not a number of bytes, or is over API Gateway's 10 MB
    # When it is sent / Then a JSON error, the connection closed, and the handler never runs
    got_status, body, headers = exchange(address, request(length))
    assert (got_status, body["error"]["code"]) == (status, code)
    assert body["error"]["message"] and body["error"]["request_id"]
    assert headers.get("Connection") == "close"
    assert calls == []


def test_a_body_shorter_than_its_content_length_gets_a_408_after_the_read_timeout(api):
    address, calls = api
    # Given a client that announces 100 bytes and sends 10, then waits
    # When the server's read timeout passes / Then it answers a JSON 408 instead of waiting forever
    status, body, headers = exchange(address, request("100", GOOD[:10]))
    assert (status, body["error"]["code"]) == (408, "RequestTimeout")
    assert "Content-Length of 100" in body["error"]["message"]
    assert headers.get("Connection") == "close" and calls == []


def test_headers_that_never_end_are_closed_after_the_read_timeout(api):
    address, _ = api
    # Given a client that starts a request and never finishes its headers
    with socket.create_connection(address, timeout=CLIENT_TIMEOUT_S) as sock:
        sock.sendall(b"POST /v1/invoke HTTP/1.1\r\nHost: localhost\r\nx-api-key: ")
        # When the server's read timeout passes / Then it closes the connection (recv sees the end)
        assert sock.recv(1024) == b""


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        ("x-big: " + "a" * 70_000 + "\r\n", "one header line over 64 KB"),
        ("".join(f"x-h{i}: v\r\n" for i in range(120)), "more than 100 headers"),
    ],
)
def test_oversized_headers_get_a_json_431(api, extra, what):
    address, calls = api
    status, body, _ = exchange(address, request(str(len(GOOD)), GOOD, extra))
    assert (status, body["error"]["code"]) == (431, "RequestHeaderFieldsTooLarge"), what
    assert calls == []


def test_a_request_line_over_64_kb_gets_a_json_414(api):
    address, _ = api
    status, body, _ = exchange(address, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert (status, body["error"]["code"]) == (414, "RequestUriTooLong")


def test_the_server_still_serves_a_good_request_after_the_bad_ones(api):
    address, calls = api
    exchange(address, request("abc"))
    exchange(address, request("100", GOOD[:10]))
    status, body, _ = exchange(address, request(str(len(GOOD)), GOOD))
    assert (status, body) == (200, {"ok": True})
    assert len(calls) == 1 and json.loads(calls[0]["body"]) == json.loads(GOOD)
