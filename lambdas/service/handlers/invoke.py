"""POST /v1/invoke: thin edge. Parse and validate, call logic.invoke, shape the response.

The edge is written out rather than built on Powertools' event handler: the function serves one
route, and the resolver's routing and OpenAPI validation cost more than the rest of the template's
warm path together (make bench: ~150 us of ~700 us per request, and ~60 ms of cold start) for
nothing a single route needs. The body is parsed once (json) and validated once (pydantic), with
the same JSON errors the API documents. Logger and Metrics stay Powertools'.
"""

import json
import re
import time
import uuid
from functools import lru_cache

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from pydantic import ValidationError

from service.dal.capture_store import CaptureStore
from service.dal.deadline import request_deadline
from service.dal.dynamodb import dynamodb_resource
from service.dal.feedback_key import FeedbackKeyUnavailable, feedback_key
from service.dal.knowledge_client import KnowledgeClient
from service.dal.model_client import ModelClient
from service.dal.prompt_store import PromptStore
from service.dal.spend_counter import SpendCounter
from service.handlers.http_errors import (
    NestedTooDeeply,
    describe_validation_errors,
    error_response,
    from_service_error,
    header,
    parse_json_body,
    proxy_result,
)
from service.handlers.idempotency import REPLAYED, caller_identity, idempotency_key
from service.logic.capture import capture_record, sampled
from service.logic.feedback_token import Claims, caller_digest, sign
from service.logic.invoke import InvokeDeps, InvokeOutcome, invoke
from service.logic.prompt_resolver import PromptResolver
from service.logic.redact import Redactor
from service.models.errors import ModelOutputInvalid, PayloadTooLarge, ServiceError, UnsupportedMediaType
from service.models.invoke import InvokeRequest
from service.models.retrieval import RetrievalReport
from service.observability import logger, metrics, traced
from service.settings import KnowledgeSettings, Settings, get_settings
from service.snapstart import refresh_after_restore

ROUTE = ("POST", "/v1/invoke")
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@lru_cache(maxsize=1)
def get_deps() -> InvokeDeps:
    """Clients and caches live for the life of the execution environment (built on first use)."""
    settings = get_settings()
    dynamodb = dynamodb_resource()  # short timeouts: service/dal/dynamodb.py
    bedrock = boto3.client("bedrock-runtime", config=bedrock_config(settings))
    # Retrieve, with its own timeouts and attempts (it runs before the model, in the same 29 s);
    # `AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME` points it at local mode's stand-in, as
    # AWS_ENDPOINT_URL_BEDROCK_RUNTIME points Converse at the simulator
    knowledge = (
        KnowledgeClient(boto3.client("bedrock-agent-runtime", config=retrieve_config(settings.knowledge)))
        if settings.knowledge is not None
        else None
    )
    return InvokeDeps(
        settings=settings,
        resolver=PromptResolver(
            PromptStore(dynamodb.Table(settings.prompts_table), settings.use_case), ttl_s=settings.prompt_cache_ttl_s
        ),
        model=ModelClient(bedrock, settings.guardrail, settings.model_profiles),
        # the ADD is not idempotent: its own client, which never resends it (service/dal/spend_counter.py)
        spend=SpendCounter(
            dynamodb.Table(settings.spend_table),
            settings.use_case,
            add_table=dynamodb_resource(total_attempts=1).Table(settings.spend_table),
        ),
        knowledge=knowledge,
    )


def bedrock_config(settings: Settings) -> Config:
    """The model client's timeouts and retries (Converse and ApplyGuardrail)."""
    return _client_config(
        settings.bedrock_connect_timeout_s, settings.bedrock_read_timeout_s, settings.bedrock_max_attempts
    )


def retrieve_config(knowledge: KnowledgeSettings) -> Config:
    """The knowledge base client's timeouts and retries (Retrieve)."""
    return _client_config(knowledge.connect_timeout_s, knowledge.read_timeout_s, knowledge.max_attempts)


def _client_config(connect_timeout_s: float, read_timeout_s: float, attempts: int) -> Config:
    return Config(
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        # standard: jittered exponential backoff on throttling and transient errors. Not adaptive: its
        # client-side rate limiter pays off for a client shared by many requests, but a Lambda
        # environment serves one request at a time, so it would only add waiting (measured: the
        # throttling fault tests took 2.5x longer); sustained throttling goes to `models.fallback`.
        # total_max_attempts counts every attempt; botocore's `max_attempts` would count retries (one more)
        retries={"mode": "standard", "total_max_attempts": attempts},
    )


@lru_cache(maxsize=1)
def get_idempotent_invoke():
    """invoke, made idempotent by Idempotency-Key (None when the function has no idempotency table)."""
    settings = get_settings()
    if not settings.idempotency_table:
        return None
    from service.handlers.idempotency import make_idempotent  # Powertools idempotency: only when used

    return make_idempotent(
        _invoke_idempotently,
        table_name=settings.idempotency_table,
        expires_after_seconds=settings.idempotency_ttl_s,
    )


@lru_cache(maxsize=1)
def get_capture_store() -> CaptureStore:
    return CaptureStore(dynamodb_resource().Table(get_settings().capture_table))


def _invoke_and_record(body: InvokeRequest, request_id: str, caller: str) -> dict:
    outcome = invoke(body, request_id=request_id, deps=get_deps())
    _record_success(outcome)
    # the server's own id for this answer (its capture and its rating): the request id may be the client's
    capture_id = uuid.uuid4().hex
    captured = _capture(body, outcome, capture_id)
    token = _feedback_token(outcome, captured, capture_id=capture_id, caller=caller)
    response = outcome.response.model_copy(update={"feedback_token": token})
    return response.to_body()


def _capture(body: InvokeRequest, outcome: InvokeOutcome, capture_id: str) -> bool:
    """Store the request for `liftoff eval harvest` when capture is on and it is sampled (after PII
    redaction); a failure is logged and counted, never the caller's problem."""
    settings = get_settings()
    if not settings.capture_enabled or not sampled(settings.capture_sample_rate):
        return False
    record = capture_record(
        body, outcome.response, capture_id=capture_id, redact=get_redactor(), ttl_days=settings.capture_ttl_days
    )
    try:
        get_capture_store().put(record)
    except Exception as exc:
        logger.warning("request not captured", extra={"reason": str(exc)})
        metrics.add_metric(name="CaptureErrors", unit=MetricUnit.Count, value=1)
        return False
    return True


def _feedback_token(outcome: InvokeOutcome, captured: bool, *, capture_id: str, caller: str) -> str | None:
    response = outcome.response
    try:
        key = feedback_key(get_settings().feedback_secret)
    except FeedbackKeyUnavailable as exc:  # the answer still goes out; only its rating is not possible
        logger.warning("no feedback token: key unavailable", extra={"reason": str(exc)})
        metrics.add_metric(name="FeedbackKeyErrors", unit=MetricUnit.Count, value=1)
        return None
    claims = Claims(
        request_id=response.request_id,
        prompt_id=response.prompt_id,
        prompt_version=response.prompt_version,
        model_id=response.model_id,
        issued_at=int(time.time()),
        captured=captured,
        capture_id=capture_id,
        caller=caller_digest(caller),
    )
    return sign(key, claims)


def _invoke_idempotently(request: dict) -> dict:
    """What Powertools stores and replays: `request` is JSON ({"key", "body", "request_id", "caller"})."""
    return _invoke_and_record(InvokeRequest.model_validate(request["body"]), request["request_id"], request["caller"])


@lru_cache(maxsize=1)
def get_redactor() -> Redactor:
    return Redactor(get_settings().redact_patterns)


# SnapStart (capacity.snapstart): clients, connections and their caches are rebuilt after a restore
refresh_after_restore(get_deps.cache_clear, get_idempotent_invoke.cache_clear, get_capture_store.cache_clear)


def request_id_of(event: dict, context: LambdaContext) -> str:
    """The client's `x-request-id` when it sends a well-formed one (so a retry is routed like the
    first try), else API Gateway's request id."""
    client_id = header(event.get("headers"), "x-request-id") or ""
    if CLIENT_REQUEST_ID.fullmatch(client_id):
        return client_id
    return (event.get("requestContext") or {}).get("requestId") or context.aws_request_id


def _invoke_route(body: InvokeRequest, event: dict, context: LambdaContext, request_id: str) -> dict:
    key = idempotency_key(event.get("headers"))
    idempotent = get_idempotent_invoke() if key else None
    headers = {}
    caller = caller_identity(event)
    if idempotent is None:
        result = _invoke_and_record(body, request_id, caller)
    else:
        request = {
            "key": f"{caller}|{key}",
            "body": body.model_dump(mode="json"),
            "request_id": request_id,
            "caller": caller,
        }
        result = idempotent(request, context)
        if result.pop(REPLAYED, False):  # the stored answer: no model call, no cost, no metrics
            headers["Idempotent-Replayed"] = "true"
            metrics.add_metric(name="IdempotentReplays", unit=MetricUnit.Count, value=1)
            logger.info("invoke replayed", extra={"status": 200, "idempotency_key": key})
    return proxy_result(200, json.dumps(result), headers)


def _record_success(outcome: InvokeOutcome) -> None:
    """The request's one EMF record and one log line."""
    result = outcome.response
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=result.latency_ms)
    metrics.add_metric(name="ModelLatency", unit=MetricUnit.Milliseconds, value=result.model_latency_ms)
    metrics.add_metric(name="InputTokens", unit=MetricUnit.Count, value=result.usage.input_tokens)
    metrics.add_metric(name="OutputTokens", unit=MetricUnit.Count, value=result.usage.output_tokens)
    _count_cost(result.cost_usd, outcome.spent_today_usd)
    if result.repairs:
        metrics.add_metric(name="OutputRepairs", unit=MetricUnit.Count, value=result.repairs)
    if outcome.canary_version:  # a prompt canary's version answered: its own health, for the auto-rollback
        _count_canary(outcome.canary_version, latency_ms=result.latency_ms)
    retrieval = _count_retrieval(outcome.retrieval_report)
    metrics.add_metadata(key="PromptId", value=result.prompt_id)
    metrics.add_metadata(key="PromptVersion", value=result.prompt_version)
    metrics.add_metadata(key="ModelId", value=result.model_id)
    fields = {
        "status": 200,
        "prompt_id": result.prompt_id,
        "prompt_version": result.prompt_version,
        "model_id": result.model_id,
        "input_tokens": result.usage.input_tokens,
        "output_tokens": result.usage.output_tokens,
        "cost_usd": result.cost_usd,
        "spent_today_usd": outcome.spent_today_usd,
        "latency_ms": result.latency_ms,
        "model_latency_ms": result.model_latency_ms,
        "stop_reason": result.stop_reason,
        "truncated": result.truncated,
        "repairs": result.repairs,
        "abandoned_attempts": outcome.abandoned_attempts,
        "guardrail": result.guardrail,
        "fallback_from": result.fallback_from,
        **retrieval,
    }
    if get_settings().log_prompts:
        redact = get_redactor()
        fields["prompt_text"] = redact(outcome.prompt_text)
        fields["output_text"] = redact(result.output)
    logger.info("invoke ok", extra=fields)


def _count_error(code: str, error_class: str) -> None:
    """`Errors` counts every failed request; the metric named after its class says which kind."""
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=error_class, unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="ErrorCode", value=code)


def _invalid_request(message: str, request_id: str) -> dict:
    logger.info("invoke rejected", extra={"status": 400, "error_code": "ValidationError", "reason": message})
    _count_error("ValidationError", "ClientError")
    return error_response(400, "ValidationError", message, request_id)


def _service_error(exc: ServiceError, request_id: str) -> dict:
    log = logger.warning if exc.status >= 500 else logger.info
    fields = {"status": exc.status, "error_code": exc.code, "reason": exc.message}
    if exc.detail:  # what AWS said (account ids, ARNs): the log's, never the caller's
        fields["detail"] = exc.detail
    if exc.cost_usd:  # billed anyway (a guardrail block, timed-out attempts): the cost metrics must see it
        _count_cost(exc.cost_usd, exc.spent_today_usd)
        fields.update(
            cost_usd=exc.cost_usd, spent_today_usd=exc.spent_today_usd, abandoned_attempts=exc.abandoned_attempts
        )
    fields.update(_count_retrieval(exc.retrieval_report))
    if isinstance(exc, ModelOutputInvalid):  # the invalid-output rate is an exit criterion with its alarm
        metrics.add_metric(name="InvalidOutputs", unit=MetricUnit.Count, value=1)
    if exc.canary_version and exc.status >= 500:  # the version's fault, not the client's (invalid output is a 502)
        _count_canary(exc.canary_version, error=True, invalid=isinstance(exc, ModelOutputInvalid))
    log("invoke failed", extra=fields)
    _count_error(exc.code, exc.error_class)
    return from_service_error(exc, request_id)


def _count_canary(version: str, *, latency_ms: int | None = None, error: bool = False, invalid: bool = False) -> None:
    """Requests, errors, latency and invalid outputs of the version a prompt canary is trying, as metrics of
    their own (dimensions UseCase and Stage; the version is a property): a few metrics whatever the number
    of versions, and only while a canary runs."""
    metrics.add_metric(name="CanaryVersionRequests", unit=MetricUnit.Count, value=1)
    if latency_ms is not None:
        metrics.add_metric(name="CanaryVersionLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
    if error:
        metrics.add_metric(name="CanaryVersionErrors", unit=MetricUnit.Count, value=1)
    if invalid:
        metrics.add_metric(name="CanaryVersionInvalidOutputs", unit=MetricUnit.Count, value=1)
    metrics.add_metadata(key="CanaryVersion", value=version)


def _count_retrieval(report: RetrievalReport | None) -> dict:
    """A request with retrieval: its metrics (RetrievalLatency, Passages, NoContext; GroundingScore, Grounded and
    Ungrounded when the answer was checked) and its log fields (those, the relevance score and the cost lines)."""
    if report is None:
        return {}
    if report.retrieved:
        metrics.add_metric(name="RetrievalLatency", unit=MetricUnit.Milliseconds, value=report.latency_ms)
        metrics.add_metric(name="Passages", unit=MetricUnit.Count, value=report.passages)
        metrics.add_metric(name="NoContext", unit=MetricUnit.Count, value=int(report.no_context))
    grounding = report.grounding
    if grounding is not None:
        if grounding.grounding_score is not None:
            metrics.add_metric(name="GroundingScore", unit=MetricUnit.NoUnit, value=grounding.grounding_score)
        metrics.add_metric(name="Grounded", unit=MetricUnit.Count, value=int(grounding.grounded))
        metrics.add_metric(name="Ungrounded", unit=MetricUnit.Count, value=int(not grounding.grounded))
    return report.log_fields()


def _count_cost(cost_usd: float, spent_today_usd: float | None) -> None:
    metrics.add_metric(name="CostUSD", unit=MetricUnit.NoUnit, value=cost_usd)
    if spent_today_usd is not None:
        # a gauge: its Maximum over any period within a UTC day is that day's spend so far
        metrics.add_metric(name="SpendTodayUSD", unit=MetricUnit.NoUnit, value=spent_today_usd)


def _nested_too_deeply(request_id: str) -> dict:
    """A body nested thousands of levels deep exhausts the JSON parser's recursion: bad input, not a fault."""
    message = "the body is nested too deeply to be a request; send a JSON object with prompt_id and variables"
    logger.info("invoke rejected", extra={"status": 400, "error_code": "BadRequestBody", "reason": message})
    _count_error("BadRequestBody", "ClientError")
    return error_response(400, "BadRequestBody", message, request_id)


def _no_route(method: str, path: str, request_id: str) -> dict:
    return error_response(404, "NotFound", f"no route {method} {path}; use POST /v1/invoke", request_id)


def _parse(event: dict, request_id: str) -> InvokeRequest | dict:
    """The body as an InvokeRequest, or the 400 that says what is wrong with it."""
    raw = event.get("body") or ""
    try:
        data = parse_json_body(raw)
    except NestedTooDeeply:
        return _nested_too_deeply(request_id)
    except ValueError:
        return _invalid_request("the body is not valid JSON", request_id)
    try:
        return InvokeRequest.model_validate(data)
    except ValidationError as exc:
        return _invalid_request(describe_validation_errors(exc.errors(include_url=False)), request_id)
    except RecursionError:
        return _nested_too_deeply(request_id)


def _refuse_early(event: dict, settings: Settings) -> ServiceError | None:
    """What is wrong with the request before its body is parsed: its size or its media type."""
    body = event.get("body") or ""
    size = len(body.encode()) if isinstance(body, str) else len(body)
    if size > settings.max_body_bytes:
        return PayloadTooLarge(f"the body is {size} bytes; the limit is {settings.max_body_bytes}")
    media_type = (header(event.get("headers"), "content-type") or "application/json").split(";")[0].strip().lower()
    if media_type != "application/json":
        return UnsupportedMediaType(
            f"the body is sent as {media_type}; send JSON with the header Content-Type: application/json"
        )
    return None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # API Gateway's request id is the correlation id (read directly: a JMESPath query costs more)
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    try:
        settings = get_settings()
    except ServiceError as exc:  # a deployment mistake: say so plainly, never a stack trace
        logger.error("function is misconfigured", extra={"reason": exc.message})
        return from_service_error(exc)
    return _entry(settings.tracing)(event, context)


@lru_cache(maxsize=4)
def _entry(tracing: str):
    return traced(_handle, tracing)


def _handle(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    metrics.set_default_dimensions(UseCase=settings.use_case, Stage=settings.stage)
    request_id = request_id_of(event, context)
    metrics.add_metadata(key="RequestId", value=request_id)
    logger.append_keys(use_case=settings.use_case, stage=settings.stage, request_id=request_id)
    method, resource = event.get("httpMethod"), event.get("resource") or event.get("path")
    if (method, resource) != ROUTE:
        return _no_route(method, event.get("path") or resource, request_id)
    refused = _refuse_early(event, settings)
    if refused is not None:
        logger.info("invoke rejected", extra={"status": refused.status, "error_code": refused.code})
        _count_error(refused.code, refused.error_class)
        return from_service_error(refused, request_id)
    try:
        body = _parse(event, request_id)
        if isinstance(body, dict):  # the 400 that says what is wrong
            return body
        # no Bedrock attempt that could outlast the function's timeout (service/dal/deadline.py)
        with request_deadline(context.get_remaining_time_in_millis() / 1000 if context is not None else None):
            return _invoke_route(body, event, context, request_id)
    except ServiceError as exc:
        return _service_error(exc, request_id)
    except Exception:
        logger.exception("unexpected error")  # the stack trace goes to the log, never to the client
        _count_error("InternalError", "ServerError")
        return error_response(500, "InternalError", "internal error; quote the request id", request_id)
