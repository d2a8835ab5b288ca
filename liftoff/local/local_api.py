"""A local HTTP front door that behaves like the deployed API Gateway stage: it checks the API
key, validates the body against the same JSON schema, builds a REST (v1) proxy event and hands it
to the real Lambda handler in an execution environment (liftoff/local/environments.py)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from http import HTTPStatus

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from liftoff.foundation.api_routes import FEEDBACK_PATH, INVOKE_PATH
from liftoff.local.environments import EnvironmentFailed, Throttled
from liftoff.local.http import LocalHTTPServer, LocalRequestHandler
from liftoff.openapi import build as openapi_document
from service.models.feedback import FEEDBACK_REQUEST_SCHEMA
from service.models.invoke import invoke_request_schema

INVOKE_ROUTE = "/" + "/".join(INVOKE_PATH)
FEEDBACK_ROUTE = "/" + "/".join(FEEDBACK_PATH)


def request_validators(max_body_bytes: int) -> dict[str, Draft4Validator]:
    """Each route's body model, as API Gateway validates it for a use case with this body limit."""
    return {
        INVOKE_ROUTE: Draft4Validator(invoke_request_schema(max_body_bytes)),
        FEEDBACK_ROUTE: Draft4Validator(FEEDBACK_REQUEST_SCHEMA),
    }


Reply = tuple[int, dict, dict[str, str]]  # status, JSON body, headers

# API Gateway's REST payload limit (10 MB, not adjustable): a bigger body is refused unread
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# how long a connection may keep the server waiting for the rest of its headers or body (a client
# that sends less than its Content-Length, or never ends its headers): then a 408 or a close
READ_TIMEOUT_S = 60.0
_CONTENT_LENGTH = re.compile(r"[0-9]{1,20}")
# error codes of the HTTP-level refusals (http.server's own: request line, headers)
_HTTP_ERROR_CODES = {413: "PayloadTooLarge", 414: "RequestUriTooLong", 431: "RequestHeaderFieldsTooLarge"}


def body_problem(body: str, validator: Draft4Validator) -> str | None:
    """What is wrong with a body against the route's model, in a line (None: nothing): that it is not JSON, or
    the validator's most relevant error with the field it is about."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested thousands of levels deep
        return "it is not JSON" if body.strip() else "it is empty"
    error = best_match(validator.iter_errors(document))
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


def bad_body_message(method: str, path: str, problem: str) -> str:
    """The message API Gateway's BAD_REQUEST_BODY response carries (stacks/constructs/api_front_door.py), with the
    local validator's words where the gateway puts $context.error.validationErrorString."""
    return f"{method} {path}: the body does not match the route's request schema (openapi.yaml): [{problem}]"


def gateway_error(status: int, code: str, message: str, request_id: str) -> Reply:
    return status, {"error": {"code": code, "message": message, "request_id": request_id}}, {}


def proxy_result_headers(result: dict) -> dict[str, str]:
    """The headers of a Lambda proxy result, as API Gateway sends them (last value of a repeated one)."""
    headers = {k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items() if v}
    headers.update(result.get("headers") or {})
    return headers


def proxy_event(
    *, method: str, path: str, headers: dict[str, str], body: str | None, request_id: str, stage: str
) -> dict:
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "identity": {"sourceIp": "127.0.0.1", "apiKey": headers.get("x-api-key"), "apiKeyId": "local-api-key"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def invoke_event(body: dict, *, request_id: str, stage: str) -> dict:
    """The proxy event API Gateway sends the function for POST /v1/invoke with this JSON body."""
    return proxy_event(
        method="POST",
        path=INVOKE_ROUTE,
        headers={"Content-Type": "application/json"},
        body=json.dumps(body),
        request_id=request_id,
        stage=stage,
    )


def handle(
    *,
    method: str,
    path: str,
    headers: dict[str, str],
    raw: bytes,
    api_key: str,
    stage: str,
    invoke: Callable,
    validators: dict[str, Draft4Validator],
) -> Reply:
    """One request, the way API Gateway then Lambda would treat it. `invoke(event)` runs the handler."""
    request_id = str(uuid.uuid4())
    if path not in validators:
        return gateway_error(404, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", request_id)
    validator = validators[path]
    if method != "POST":
        return gateway_error(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", request_id)
    if headers.get("x-api-key") != api_key:
        return gateway_error(403, "INVALID_API_KEY", "Forbidden", request_id)
    body = raw.decode("utf-8", errors="replace")
    problem = body_problem(body, validator)
    if problem:
        return gateway_error(400, "BadRequestBody", bad_body_message(method, path, problem), request_id)
    event = proxy_event(method=method, path=path, headers=headers, body=body, request_id=request_id, stage=stage)
    return run_in_environment(invoke, event, request_id)


def run_in_environment(invoke: Callable, event: dict, request_id: str) -> Reply:
    """The handler's answer, or what the gateway says when no environment could run it."""
    try:
        result = invoke(event)
    except Throttled as exc:  # the function's concurrency is used up: Lambda throttles, the client sees a 429
        return gateway_error(429, "TooManyRequestsException", f"Rate exceeded: {exc}; retry with backoff", request_id)
    except EnvironmentFailed as exc:
        return gateway_error(502, "InternalServerError", f"Internal server error: {exc}", request_id)
    return int(result["statusCode"]), json.loads(result["body"]), proxy_result_headers(result)


def content_length(value: str | None) -> int | None:
    """The body's length from a Content-Length header (none: 0), or None when it is not a length."""
    if value is None:
        return 0
    value = value.strip()
    return int(value) if _CONTENT_LENGTH.fullmatch(value) else None


def start_local_api(
    *,
    invoke: Callable[[dict], dict],
    api_key: str,
    stage: str,
    max_body_bytes: int,
    port: int = 0,
    stats: Callable[[], dict] | None = None,
    read_timeout_s: float = READ_TIMEOUT_S,
) -> tuple[LocalHTTPServer, str]:
    """Serve the API on 127.0.0.1, each connection in a thread; `invoke(event)` runs the handler
    (a pool of environments: liftoff/local/environments.py). GET /_local/stats says what the pool did.
    The body models are the use case's (`max_body_bytes`: its api.max_body_bytes), as its gateway's are.
    Malformed HTTP gets a JSON error, never a dropped connection or a thread waiting forever."""
    validators = request_validators(max_body_bytes)

    class Handler(LocalRequestHandler):
        timeout = read_timeout_s  # socket timeout for every read: headers and body

        def _serve(self):
            length = content_length(self.headers.get("Content-Length"))
            if length is None:
                self._refuse(400, "BadRequest", "Content-Length must be a number of bytes (0 or more)")
                return
            if length > MAX_PAYLOAD_BYTES:
                self._refuse(413, "PayloadTooLarge", f"the body is over {MAX_PAYLOAD_BYTES} bytes")
                return
            try:
                raw = self.rfile.read(length) if length else b""
            except TimeoutError:
                raw = None
            if raw is None or len(raw) < length:
                self._refuse(408, "RequestTimeout", f"the body ended before its Content-Length of {length} bytes")
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            if self.path == "/_local/health":
                status, body, extra = 200, {"ok": True}, {}
            elif self.path == "/_local/stats" and stats is not None:
                status, body, extra = 200, stats(), {}
            elif self.path == "/_local/functions" and self.command == "POST" and headers.get("x-api-key") == api_key:
                # a function's own event (the canary's schedule input, an alarm's state change): local
                # stand-in for EventBridge invoking the function, behind the local API key
                status, body, extra = 200, invoke(json.loads(raw or b"{}")), {}
            elif self.path == "/openapi.json" and self.command == "GET":
                status, body, extra = 200, openapi_document(), {}
            else:
                status, body, extra = handle(
                    method=self.command,
                    path=self.path,
                    headers=headers,
                    raw=raw,
                    api_key=api_key,
                    stage=stage,
                    invoke=invoke,
                    validators=validators,
                )
            self._reply(status, body, extra)

        def _reply(self, status: int, body: dict, extra: dict[str, str], *, close: bool = False) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in extra.items():
                if name.lower() not in ("content-type", "content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if close:  # the rest of what the client sent cannot be read as a next request
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _refuse(self, status: int, code: str, message: str) -> None:
            self._reply(*gateway_error(status, code, message, str(uuid.uuid4())), close=True)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """http.server's own refusals (a request line or header too long, too many headers, a bad
            request line) as the JSON errors the API speaks, instead of its HTML page."""
            try:
                phrase = HTTPStatus(code).phrase
            except ValueError:
                phrase = "Error"
            name = _HTTP_ERROR_CODES.get(code, "".join(word.capitalize() for word in phrase.split()))
            self.command = self.command or "GET"  # unset when the request line itself was refused
            self._refuse(code, name, f"{message or phrase}: {explain}" if explain else (message or phrase))

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    server = LocalHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="local-api", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
