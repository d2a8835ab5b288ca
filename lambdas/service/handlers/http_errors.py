"""Every error a client can see, in one shape: {"error": {"code", "message"}} with a 4xx/5xx status."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response, content_types

from service.models.errors import ServiceError


def header(headers: dict[str, str] | None, name: str) -> str | None:
    """A request header's value, whatever its case (API Gateway passes them as the client sent them)."""
    wanted = name.lower()
    return next((v for k, v in (headers or {}).items() if k.lower() == wanted), None)


def error_response(
    status: int, code: str, message: str, request_id: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body: dict = {"error": {"code": code, "message": message}}
    if request_id:
        body["error"]["request_id"] = request_id
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body), headers=headers
    )


def from_service_error(exc: ServiceError, request_id: str | None = None) -> Response:
    return error_response(exc.status, exc.code, exc.message, request_id, exc.headers)


def describe_validation_errors(errors: list[dict]) -> str:
    """Turn pydantic/Powertools validation errors into one readable sentence."""
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
