"""POST /v1/feedback: a caller rates an answer (good or bad), optionally with the answer it should have
been. Thin edge: parse and validate, verify the feedback token, store the rating, count it.

The rating lands in the capture table (dal/capture_store.py), on the item of the token's capture id
(the server's id for that answer): the captured request's item when the request was captured, else an
item of its own that holds the rating alone. A second rating of the same answer replaces the first, and
is counted once: the same rating again counts nothing, a changed one counts as a change (-1 on the old
rating's metric, +1 on the new), so one caller replaying a token cannot trip or mask FeedbackBadRate.
The token is bound to the caller who got the answer (their API key id, IAM ARN or Cognito sub): another
caller gets the 404 of an unknown token. This function may only update that table's items (its role:
dynamodb:UpdateItem), and read the feedback key.
"""

import hmac
import json
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from service.dal.capture_store import CaptureStore, CaptureUnavailable
from service.dal.dynamodb import dynamodb_resource
from service.dal.feedback_key import FeedbackKeyUnavailable, feedback_key
from service.handlers.http_errors import (
    MAX_JSON_DEPTH,
    NestedTooDeeply,
    describe_validation_errors,
    error_response,
    header,
    parse_json_body,
    proxy_result,
)
from service.handlers.idempotency import caller_identity
from service.logic.feedback_token import caller_digest, verify
from service.logic.redact import Redactor
from service.models.errors import ServiceError
from service.models.feedback import MAX_CORRECTION_CHARS, FeedbackRequest, FeedbackResponse
from service.observability import METRICS_NAMESPACE, logger, metrics
from service.settings import FeedbackSettings, get_feedback_settings

ROUTE = ("POST", "/v1/feedback")
MAX_BODY_BYTES = 32_768


@lru_cache(maxsize=1)
def get_store() -> CaptureStore:
    return CaptureStore(dynamodb_resource().Table(get_feedback_settings().capture_table))


@lru_cache(maxsize=1)
def get_redactor() -> Redactor:
    return Redactor(get_feedback_settings().redact_patterns)


def _redacted(value: Any, redact: Redactor) -> Any:
    """Every string inside a correction, PII redacted (the correction is the caller's text too)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    return value


def _rejected(status: int, code: str, message: str, request_id: str) -> dict:
    logger.info("feedback rejected", extra={"status": status, "error_code": code, "reason": message})
    metrics.add_metric(name="FeedbackRejected", unit=MetricUnit.Count, value=1)
    return error_response(status, code, message, request_id)


def _parse(event: dict, request_id: str) -> FeedbackRequest | dict:
    raw = event.get("body") or ""
    if len(raw.encode() if isinstance(raw, str) else raw) > MAX_BODY_BYTES:
        return _rejected(413, "PayloadTooLarge", f"the body is over {MAX_BODY_BYTES} bytes", request_id)
    media_type = (header(event.get("headers"), "content-type") or "application/json").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _rejected(
            415, "UnsupportedMediaType", "send JSON with the header Content-Type: application/json", request_id
        )
    try:
        body = FeedbackRequest.model_validate(parse_json_body(raw))
    except (NestedTooDeeply, RecursionError):
        message = f"the body is nested more than {MAX_JSON_DEPTH} levels deep: too deep to be a rating"
        return _rejected(400, "BadRequestBody", message, request_id)
    except ValueError as exc:  # not JSON, or pydantic's ValidationError (a ValueError)
        message = (
            describe_validation_errors(exc.errors(include_url=False))
            if isinstance(exc, ValidationError)
            else "the body is not valid JSON"
        )
        return _rejected(400, "ValidationError", message, request_id)
    if body.correction is not None and len(json.dumps(body.correction)) > MAX_CORRECTION_CHARS:
        return _rejected(400, "ValidationError", f"`correction` is over {MAX_CORRECTION_CHARS} characters", request_id)
    return body


def _count(name: str, value: int, settings: FeedbackSettings, version: str) -> None:
    """One rating metric, for the use case and per prompt version (the canary's health)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=METRICS_NAMESPACE) as per_version:
        per_version.add_dimension(name="UseCase", value=settings.use_case)
        per_version.add_dimension(name="Stage", value=settings.stage)
        per_version.add_dimension(name="PromptVersion", value=version)


METRIC_OF = {"good": "FeedbackGood", "bad": "FeedbackBad"}


def _rate(body: FeedbackRequest, settings: FeedbackSettings, request_id: str, caller: str) -> dict:
    max_age_s = settings.capture_ttl_days * 86_400
    try:
        claims = verify(
            feedback_key(settings.feedback_secret), body.feedback_token, now=int(time.time()), max_age_s=max_age_s
        )
    except FeedbackKeyUnavailable as exc:
        logger.warning("feedback key unavailable", extra={"reason": str(exc)})
        return error_response(
            503, "FeedbackUnavailable", "feedback cannot be checked right now; retry later", request_id
        )
    if claims is None or not hmac.compare_digest(claims.caller, caller_digest(caller)):
        return _rejected(
            404,
            "RequestNotFound",
            f"no answer has this feedback_token: it is unknown, altered, or older than {settings.capture_ttl_days} "
            "days; send the feedback_token that came with the answer",
            request_id,
        )
    redact = get_redactor()
    rated_at = datetime.now(UTC).isoformat(timespec="seconds")
    fields = {
        "rating": body.rating,
        "rated_at": rated_at,
        "prompt_id": claims.prompt_id,
        "prompt_version": claims.prompt_version,
        "model_id": claims.model_id,
        "correction": _redacted(body.correction, redact),
        "comment": redact(body.comment) if body.comment else None,
    }
    try:
        previous = get_store().rate(claims.capture_id, fields, expires_at=claims.issued_at + max_age_s)
    except CaptureUnavailable as exc:
        logger.warning("feedback not stored", extra={"reason": str(exc)})
        return error_response(503, "FeedbackUnavailable", "the rating could not be stored; retry later", request_id)
    version = f"{claims.prompt_id}#{claims.prompt_version}"
    if previous != body.rating:  # the same rating again changes nothing; a new one is counted once
        _count(METRIC_OF[body.rating], 1, settings, version)
        if previous in METRIC_OF:  # a changed rating: the old one no longer stands
            _count(METRIC_OF[previous], -1, settings, version)
    logger.info(
        "feedback ok",
        extra={
            "status": 200,
            "rated_request_id": claims.request_id,
            "capture_id": claims.capture_id,
            "rating": body.rating,
            "previous_rating": previous,
            "prompt_id": claims.prompt_id,
            "prompt_version": claims.prompt_version,
            "with_correction": body.correction is not None,
        },
    )
    response = FeedbackResponse(
        request_id=claims.request_id, rating=body.rating, rated_at=rated_at, captured=claims.captured
    )
    return proxy_result(200, response.model_dump_json())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request_id = (event.get("requestContext") or {}).get("requestId") or context.aws_request_id
    logger.set_correlation_id(request_id)
    try:
        settings = get_feedback_settings()
    except ServiceError as exc:
        logger.error("function is misconfigured", extra={"reason": exc.message})
        return error_response(exc.status, exc.code, exc.message, request_id)
    metrics.set_default_dimensions(UseCase=settings.use_case, Stage=settings.stage)
    logger.append_keys(use_case=settings.use_case, stage=settings.stage, request_id=request_id)
    if (event.get("httpMethod"), event.get("resource") or event.get("path")) != ROUTE:
        return error_response(404, "NotFound", "no such route; use POST /v1/feedback", request_id)
    try:
        body = _parse(event, request_id)
        return body if isinstance(body, dict) else _rate(body, settings, request_id, caller_identity(event))
    except Exception:
        logger.exception("unexpected error")
        return error_response(500, "InternalError", "internal error; quote the request id", request_id)
