"""Idempotent invokes: a client that sends `Idempotency-Key` and retries (a timeout, a dropped
connection) gets the first answer again, without a second model call or a second charge.

Powertools idempotency with a DynamoDB table (pk, TTL `expiration`). The key is the header's value
scoped to the caller (caller_identity);
the body is validated too, so the same key with another body is refused rather than answered with
the wrong result. Failed requests are not stored: a retry after an error runs again. An answer is
stored once, as UTF-8; one too large to store is still delivered (and a retry runs again). Requests
without the header run as usual.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from service.handlers.http_errors import header
from service.models.errors import BadRequest, ServiceError
from service.observability import logger

HEADER = "idempotency-key"
KEY_PATTERN = re.compile(r"[A-Za-z0-9._:-]{8,128}")
REPLAYED = "_idempotent_replay"
# The records' TTL attribute: Powertools' DynamoDBPersistenceLayer expiry_attr (stacks/constructs/idempotency_table.py)
TTL_ATTRIBUTE = "expiration"


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


ONE_COPY = "_output_json_is_output"  # the stored record's mark: output_json is the parse of output


def _stored(response: dict) -> dict:
    """The answer once: `output_json` is the parse of `output`, so the record keeps `output` only (a JSON
    answer stored twice, \\u-escaped, took a 35,000-character Japanese summary past DynamoDB's 400 KB)."""
    value = response.get("output_json")
    if value is not None and _parse(response["output"]) == value:
        return {**{k: v for k, v in response.items() if k != "output_json"}, ONE_COPY: True}
    return response


def _parse(output: str) -> object:
    """`output` as JSON, or None when it is not (a retrieval prompt's no-context refusal is its text alone)."""
    try:
        return json.loads(output)
    except ValueError:
        return None


def _replayed(stored: dict) -> dict:
    if not stored.pop(ONE_COPY, False):
        return stored
    return {**stored, "output_json": json.loads(stored["output"])}


def make_idempotent(
    run: Callable[[dict], dict], *, table_name: str, expires_after_seconds: int, boto3_client: Any = None
) -> Callable[[dict, Any], dict]:
    """Wrap `run(request)`; `request` is {"key", "body", ...}: the key identifies the call, the body
    must match. Returns the response dict, with REPLAYED set when it is a stored answer. Powertools'
    idempotency utility is imported here, on the first request that sends the header: the others
    never pay for it (measured: make bench, cold start).

    An answer is stored compactly (one copy, UTF-8 rather than \\u escapes). One that still cannot be
    stored (over DynamoDB's 400 KB item limit) is delivered anyway, it was billed, and its record removed,
    so a retry runs again rather than waiting on a record that never completes (409)."""
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
    from aws_lambda_powertools.utilities.idempotency.serialization.base import BaseIdempotencySerializer

    class CompactRecords(DynamoDBPersistenceLayer):
        """Powertools' DynamoDB layer, storing the response as UTF-8 JSON (its own json.dumps escapes
        every non-ASCII character as \\uXXXX: 6 bytes for a Japanese character's 3)."""

        def _update_record(self, data_record: Any) -> None:
            if data_record.response_data:
                data_record.response_data = json.dumps(
                    json.loads(data_record.response_data), ensure_ascii=False, separators=(",", ":")
                )
            super()._update_record(data_record)

    class OneCopy(BaseIdempotencySerializer):
        def to_dict(self, data: Any) -> dict:
            return _stored(data)

        def from_dict(self, data: dict) -> Any:
            return _replayed(data)

    store = CompactRecords(table_name=table_name, key_attr="pk", expiry_attr=TTL_ATTRIBUTE, boto3_client=boto3_client)
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=expires_after_seconds,
        response_hook=_mark_replay,
    )
    answered = threading.local()  # the answer `run` gave, for when it cannot be stored (local mode runs threads)

    def run_and_keep(request: dict) -> dict:
        try:
            answered.response = run(request)
        except Exception as exc:  # Powertools replaces it if the record's removal then fails
            answered.failure = exc
            raise
        return answered.response

    # `run` takes the request as its keyword argument `request`
    wrapped = idempotent_function(
        data_keyword_argument="request", persistence_store=store, config=config, output_serializer=OneCopy()
    )(run_and_keep)

    def call(request: dict, lambda_context: Any) -> dict:
        config.register_lambda_context(lambda_context)
        answered.response = answered.failure = None
        try:
            return wrapped(request=request)
        except IdempotencyAlreadyInProgressError as exc:
            raise IdempotencyConflict(
                "a request with this Idempotency-Key is still running; retry once it has finished"
            ) from exc
        except IdempotencyValidationError as exc:
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different body; use a new key") from exc
        except IdempotencyPersistenceLayerError as exc:
            if answered.failure is not None:  # the run failed (maybe billed), then its record could not be removed
                logger.warning(
                    "idempotency record not removed after a failed request: a retry is refused (409) until it expires",
                    extra={"reason": str(exc.__cause__ or exc)},
                )
                raise answered.failure from exc  # its own status and cost, not a 503 without them
            if answered.response is None:  # before the call: nothing billed, nothing to deliver
                raise IdempotencyUnavailable("idempotency records are unavailable; retry later") from exc
            return _deliver_unstored(answered.response, store, request, exc)

    return call


def _deliver_unstored(response: dict, store: Any, request: dict, exc: Exception) -> dict:
    """The answer ran and was billed, but its record could not be completed: deliver it, and remove the
    in-progress record so a retry runs again instead of 409 until the record expires."""
    logger.warning(
        "answer delivered without its idempotency record",
        extra={"reason": str(exc.__cause__ or exc), "output_chars": len(response.get("output") or "")},
    )
    try:
        store.delete_record(data=request, exception=exc)
    except Exception as delete_failed:  # the record then expires on its own (the function's timeout)
        logger.warning("idempotency record not removed", extra={"reason": str(delete_failed)})
    return response
