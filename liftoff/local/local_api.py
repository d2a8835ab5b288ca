"""A local HTTP front door that behaves like the deployed API Gateway stage: it checks the API
key, validates the body against the same JSON schema, builds a REST (v1) proxy event and hands it
to the real Lambda handler in an execution environment (liftoff/local/environments.py)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable

from jsonschema import Draft4Validator

from liftoff.local.environments import EnvironmentFailed, Throttled
from liftoff.local.http import LocalHTTPServer, LocalRequestHandler
from liftoff.openapi import build as openapi_document
from service.models.feedback import FEEDBACK_REQUEST_SCHEMA
from service.models.invoke import INVOKE_REQUEST_SCHEMA
from stacks.constructs.api_front_door import BAD_BODY_MESSAGE, FEEDBACK_PATH, INVOKE_PATH

INVOKE_ROUTE = "/" + "/".join(INVOKE_PATH)
FEEDBACK_ROUTE = "/" + "/".join(FEEDBACK_PATH)
# each route's body model, as API Gateway validates it
_VALIDATORS = {
    INVOKE_ROUTE: Draft4Validator(INVOKE_REQUEST_SCHEMA),
    FEEDBACK_ROUTE: Draft4Validator(FEEDBACK_REQUEST_SCHEMA),
}


Reply = tuple[int, dict, dict[str, str]]  # status, JSON body, headers


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
    *, method: str, path: str, headers: dict[str, str], raw: bytes, api_key: str, stage: str, invoke: Callable
) -> Reply:
    """One request, the way API Gateway then Lambda would treat it. `invoke(event)` runs the handler."""
    request_id = str(uuid.uuid4())
    if path not in _VALIDATORS:
        return gateway_error(404, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", request_id)
    validator = _VALIDATORS[path]
    if method != "POST":
        return gateway_error(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", request_id)
    if headers.get("x-api-key") != api_key:
        return gateway_error(403, "INVALID_API_KEY", "Forbidden", request_id)
    body = raw.decode("utf-8", errors="replace")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested thousands of levels deep
        document = None
    if document is None or any(True for _ in validator.iter_errors(document)):
        return gateway_error(400, "BadRequestBody", BAD_BODY_MESSAGE, request_id)
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


def start_local_api(
    *, invoke: Callable[[dict], dict], api_key: str, stage: str, port: int = 0, stats: Callable[[], dict] | None = None
) -> tuple[LocalHTTPServer, str]:
    """Serve the API on 127.0.0.1, each connection in a thread; `invoke(event)` runs the handler
    (a pool of environments: liftoff/local/environments.py). GET /_local/stats says what the pool did."""

    class Handler(LocalRequestHandler):
        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
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
                )
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in extra.items():
                if name.lower() not in ("content-type", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    server = LocalHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="local-api", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
