"""Idempotent invokes: a client that sends `Idempotency-Key` and retries (a timeout, a dropped
connection) gets the first answer again, without a second model call or a second charge.

Powertools idempotency with a DynamoDB table (pk, TTL `expiration`). The key is the header's value
scoped to the caller (caller_identity);
the body is validated too, so the same key with another body is refused rather than answered with
the wrong result. Failed requests are not stored: a retry after an error runs again. Requests
without the header run as usual.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from service.handlers.http_errors import header
from service.models.errors import BadRequest, ServiceError

HEADER = "idempotency-key"
KEY_PATTERN = re.compile(r"[A-Za-z0-9._:-]{8,128}")
REPLAYED = "_idempotent_replay"


class IdempotencyConflict(ServiceError):
    status = 409
    code = "IdempotencyConflict"
    error_class = "ClientError"


class IdempotencyKeyReused(ServiceError):
    status = 422
    code = "IdempotencyKeyReused"
    error_class = "ClientError"


class IdempotencyUnavailable(ServiceError):
    status = 503
    code = "IdempotencyUnavailable"


def idempotency_key(headers: dict[str, str]) -> str | None:
    value = header(headers, HEADER)
    if value is None:
        return None
    if not KEY_PATTERN.fullmatch(value):
        raise BadRequest("Idempotency-Key must be 8-128 characters of A-Z, a-z, 0-9 and . _ : -")
    return value


def caller_identity(event: dict) -> str:
    """Who is calling, as API Gateway authenticated them: the Cognito user's `sub`, the IAM caller's
    ARN, or the API key's id. An Idempotency-Key is scoped to it, so two callers who happen to send the
    same key never share a record (nor receive each other's answer)."""
    context = event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    identity = context.get("identity") or {}
    if claims.get("sub"):
        return f"cognito:{claims['sub']}"
    if identity.get("userArn"):
        return f"iam:{identity['userArn']}"
    if identity.get("apiKeyId"):
        return f"apikey:{identity['apiKeyId']}"
    return "anonymous"


def _mark_replay(response: Any, _record: Any) -> Any:
    return {**response, REPLAYED: True}


def make_idempotent(
    run: Callable[[dict], dict], *, table_name: str, expires_after_seconds: int, boto3_client: Any = None
) -> Callable[[dict, Any], dict]:
    """Wrap `run(request)`; `request` is {"key", "body", ...}: the key identifies the call, the body
    must match. Returns the response dict, with REPLAYED set when it is a stored answer. Powertools'
    idempotency utility is imported here, on the first request that sends the header: the others
    never pay for it (measured: make bench, cold start)."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    store = DynamoDBPersistenceLayer(
        table_name=table_name, key_attr="pk", expiry_attr="expiration", boto3_client=boto3_client
    )
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=expires_after_seconds,
        response_hook=_mark_replay,
    )
    # `run` takes the request as its keyword argument `request`
    wrapped = idempotent_function(data_keyword_argument="request", persistence_store=store, config=config)(run)

    def call(request: dict, lambda_context: Any) -> dict:
        config.register_lambda_context(lambda_context)
        try:
            return wrapped(request=request)
        except IdempotencyAlreadyInProgressError as exc:
            raise IdempotencyConflict(
                "a request with this Idempotency-Key is still running; retry once it has finished"
            ) from exc
        except IdempotencyValidationError as exc:
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different body; use a new key") from exc
        except IdempotencyPersistenceLayerError as exc:
            raise IdempotencyUnavailable("idempotency records are unavailable; retry later") from exc

    return call
