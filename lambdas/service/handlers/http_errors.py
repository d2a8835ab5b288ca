"""Every error a client can see, in one shape: {"error": {"code", "message"}} with a 4xx/5xx status,
as the API Gateway proxy result the function returns."""

from __future__ import annotations

import json
from typing import Any

from service.logic.json_depth import nesting_depth
from service.models.errors import ServiceError

JSON = "application/json"
# A body nests objects and arrays at most this deep. DynamoDB refuses an item nested more than 32 levels,
# and boto3's serializer and the redaction recurse: a deeper body is bad input, refused at the edge (400)
# rather than a RecursionError or a ValidationException later (500). No request or rating needs more.
MAX_JSON_DEPTH = 16


class NestedTooDeeply(ValueError):
    """The body nests objects or arrays deeper than MAX_JSON_DEPTH."""


def parse_json_body(raw: str | bytes) -> Any:
    """The request body as JSON; NestedTooDeeply past MAX_JSON_DEPTH levels (or past the parser's own
    recursion limit), ValueError when it is not JSON. The one nesting check of the API's edges."""
    try:
        data = json.loads(raw)
    except RecursionError as exc:
        raise NestedTooDeeply(f"nested deeper than {MAX_JSON_DEPTH} levels") from exc
    if nesting_depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise NestedTooDeeply(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def proxy_result(status: int, body: str, headers: dict[str, str] | None = None) -> dict:
    """A Lambda proxy integration response (API Gateway REST)."""
    return {
        "statusCode": status,
        "headers": {**(headers or {}), "Content-Type": JSON},
        "body": body,
        "isBase64Encoded": False,
    }


def header(headers: dict[str, str] | None, name: str) -> str | None:
    """A request header's value, whatever its case (API Gateway passes them as the client sent them)."""
    wanted = name.lower()
    return next((v for k, v in (headers or {}).items() if k.lower() == wanted), None)


def error_response(
    status: int, code: str, message: str, request_id: str | None = None, headers: dict[str, str] | None = None
) -> dict:
    body: dict = {"error": {"code": code, "message": message}}
    if request_id:
        body["error"]["request_id"] = request_id
    return proxy_result(status, json.dumps(body), headers)


def from_service_error(exc: ServiceError, request_id: str | None = None) -> dict:
    return error_response(exc.status, exc.code, exc.message, request_id, exc.headers)


def describe_validation_errors(errors: list[dict]) -> str:
    """Turn pydantic validation errors into one readable sentence."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        where = ".".join(loc) or "body"
        kind = err.get("type", "")
        if kind == "json_invalid":
            parts.append("the body is not valid JSON")
        elif kind == "missing":
            parts.append(f"`{where}` is required")
        elif kind == "extra_forbidden":
            parts.append(f"`{where}` is not an accepted field")
        else:
            parts.append(f"`{where}`: {err.get('msg', 'is invalid')}")
    return "; ".join(dict.fromkeys(parts)) or "the request is invalid"
