"""Every error a client can see, in one shape: {"error": {"code", "message"}} with a 4xx/5xx status,
as the API Gateway proxy result the function returns."""

from __future__ import annotations

import json

from service.models.errors import ServiceError

JSON = "application/json"


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
