"""One invoke: check the spend cap, resolve the prompt, render it, call the model, count the cost,
describe what happened.

The spend cap costs one DynamoDB call per request on the normal path: the atomic ADD of the cost after
the call, whose answer (today's total) is this environment's reading. The check before the call uses
that reading without a call while it is fresh (`spend_reading_max_age_s`) and today's spend is far
from the cap: more than `spend_unseen_requests` x the most expensive request below it, which is the
most other environments can have added since the reading (API Gateway lets through at most
burst + rate x (reading age + function timeout) requests that can finish in that time). Otherwise it
reads the counter (strongly consistent). So a request the reading admits would have been admitted by
a read too, and the overshoot bound is the read's: the requests in flight when the cap is reached,
at most (concurrency x the most expensive request)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit

from service.dal.model_client import ModelClient, ModelReply, Repair, StructuredOutput
from service.dal.spend_counter import SpendCounter, SpendCounterUnavailable
from service.logic.cost import ModelPrice, abandoned_attempt_cost_usd, guardrail_cost_usd, reply_cost_usd
from service.logic.output_contract import Answer, ask
from service.logic.prompt_resolver import PromptResolver
from service.logic.render import render_prompt
from service.models.errors import (
    GuardrailIntervened,
    Misconfigured,
    ModelContentFiltered,
    ModelError,
    ModelOutputInvalid,
    ModelThrottled,
    ModelTimeout,
    ServiceError,
    SpendCapHit,
)
from service.models.invoke import InvokeRequest, InvokeResponse, Usage
from service.observability import logger, metrics
from service.settings import Settings


@dataclass(frozen=True)
class InvokeDeps:
    settings: Settings
    resolver: PromptResolver
    model: ModelClient
    spend: SpendCounter


@dataclass(frozen=True)
class InvokeOutcome:
    response: InvokeResponse
    prompt_text: str  # the rendered user message, for the log when `log_prompts` is on
    spent_today_usd: float | None  # the counter after this request's cost; None when it could not be written
    abandoned_attempts: int = 0  # timed-out attempts before the answer, charged at an estimate
    canary_version: str | None = None  # "<prompt_id>#<version>" when a prompt canary's version answered


def invoke(request: InvokeRequest, *, request_id: str, deps: InvokeDeps) -> InvokeOutcome:
    """Run `request` and return the model's answer with usage and provenance. Every billed path adds
    its cost to the spend counter, the failed ones included (a guardrail block, timed-out attempts)."""
    started = time.perf_counter()
    _check_spend_cap(deps)
    prompt = deps.resolver.resolve(
        request.prompt_id,
        alias=request.alias or deps.settings.default_alias,
        version=request.version,
        request_id=request_id,
    )
    alias = request.alias or deps.settings.default_alias
    canary = (
        f"{prompt.prompt_id}#{prompt.version}"
        if request.version is None and deps.resolver.canary_of(request.prompt_id, alias) == prompt.version
        else None
    )
    try:
        return _invoke_version(request, prompt, request_id=request_id, deps=deps, started=started, canary=canary)
    except ServiceError as exc:
        exc.canary_version = canary
        raise


def _invoke_version(
    request: InvokeRequest, prompt, *, request_id: str, deps: InvokeDeps, started: float, canary: str | None
) -> InvokeOutcome:
    model_id = prompt.spec.model_id
    if model_id not in deps.settings.allowed_model_ids:
        raise Misconfigured(
            f"prompt {prompt.prompt_id} v{prompt.version} uses model {model_id}, which this deployment may not "
            f"call; add it to `models.allowed` in the use-case config and redeploy"
        )
    price = _price(deps, model_id)
    rendered = render_prompt(prompt.spec, request.variables)
    inference = prompt.spec.inference.to_converse()
    prompt_chars = len(rendered.user_text) + len(rendered.system or "")
    abandoned_usd = 0.0  # estimated cost of attempts that timed out (Bedrock may have billed them)

    def call(model: str) -> Answer:
        def one_call(structured: StructuredOutput | None, repair: Repair | None) -> ModelReply:
            nonlocal abandoned_usd
            try:
                reply = deps.model.converse(
                    model_id=model,
                    user_text=rendered.user_text,
                    system=rendered.system,
                    inference=inference,
                    structured=structured,
                    repair=repair,
                )
            except ServiceError as exc:
                abandoned_usd += exc.abandoned_attempts * _abandoned_attempt_usd(deps, model, prompt_chars, inference)
                raise
            abandoned_usd += reply.abandoned_attempts * _abandoned_attempt_usd(deps, model, prompt_chars, inference)
            return reply

        return ask(one_call, prompt.spec.output, deps.settings.structured_output.get(model, "none"))

    fallback_from = None
    try:
        try:
            answer = call(model_id)
        except (ModelThrottled, ModelError, ModelTimeout) as exc:  # never a client error: no model takes that input
            fallback = deps.settings.fallback_model_id
            if fallback is None or fallback == model_id:
                raise
            logger.warning(
                "model failed, using the fallback",
                extra={"model_id": model_id, "fallback_model_id": fallback, "error_code": exc.code},
            )
            metrics.add_metric(name="Fallbacks", unit=MetricUnit.Count, value=1)
            fallback_from, model_id = model_id, fallback
            price = _price(deps, model_id)
            answer = call(model_id)
    except ModelOutputInvalid as exc:  # every attempt was billed: the first answer and each repair
        _bill_failure(deps, exc, _replies_usd(deps, price, exc.replies) + abandoned_usd)
        raise
    except ServiceError as exc:
        if abandoned_usd:
            _bill_failure(deps, exc, abandoned_usd)
        raise
    reply = answer.reply
    cost_usd = round(_replies_usd(deps, price, answer.replies) + abandoned_usd, 10)
    spent_today = _record_spend(deps, cost_usd)  # a blocked or filtered call is billed too
    if reply.guardrail == "blocked":
        raise _billed(GuardrailIntervened(reply.text.strip()), cost_usd, spent_today)  # the configured message
    if reply.stop_reason == "content_filtered" and not reply.text.strip():
        raise _billed(
            ModelContentFiltered(f"model {model_id} withheld its answer (its content filter); rephrase the input"),
            cost_usd,
            spent_today,
        )
    response = InvokeResponse(
        output=reply.text,
        stop_reason=reply.stop_reason,
        truncated=reply.stop_reason == "max_tokens",
        output_json=answer.value,
        repairs=answer.repairs,
        usage=Usage(
            input_tokens=sum(r.input_tokens for r in answer.replies),
            output_tokens=sum(r.output_tokens for r in answer.replies),
            total_tokens=sum(r.input_tokens + r.output_tokens for r in answer.replies),
        ),
        model_id=model_id,
        prompt_id=prompt.prompt_id,
        prompt_version=prompt.version,
        request_id=request_id,
        cost_usd=cost_usd,
        latency_ms=round((time.perf_counter() - started) * 1000),
        model_latency_ms=reply.latency_ms,
        guardrail=reply.guardrail,
        fallback_from=fallback_from,
    )
    return InvokeOutcome(
        response=response,
        prompt_text=rendered.user_text,
        spent_today_usd=spent_today,
        abandoned_attempts=reply.abandoned_attempts,
        canary_version=canary,
    )


def _replies_usd(deps: InvokeDeps, price: ModelPrice, replies: list[ModelReply]) -> float:
    """Tokens and guardrail units of every billed call (the first answer and each repair)."""
    return sum(
        reply_cost_usd(price, r) + guardrail_cost_usd(r.guardrail_units, deps.settings.guardrail_prices)
        for r in replies
    )


def _abandoned_attempt_usd(deps: InvokeDeps, model_id: str, prompt_chars: int, inference: dict) -> float:
    return abandoned_attempt_cost_usd(
        _price(deps, model_id), prompt_chars=prompt_chars, max_tokens=int(inference["maxTokens"])
    )


def _billed(exc: ServiceError, cost_usd: float, spent_today: float | None) -> ServiceError:
    """A failed request that still cost money carries what it cost (the handler emits it as metrics)."""
    exc.cost_usd, exc.spent_today_usd = cost_usd, spent_today
    return exc


def _bill_failure(deps: InvokeDeps, exc: ServiceError, cost_usd: float) -> None:
    """Charge a failed request's estimated cost (timed-out attempts) to the counter, so a brownout
    that Bedrock still bills cannot run past the cap unseen."""
    logger.warning("charging timed-out model attempts", extra={"estimated_cost_usd": cost_usd, "error_code": exc.code})
    _billed(exc, cost_usd, _record_spend(deps, cost_usd))


def _price(deps: InvokeDeps, model_id: str) -> ModelPrice:
    price = deps.settings.model_prices.get(model_id)
    if price is None:
        raise Misconfigured(f"no price for model {model_id}: add it to pricing/bedrock.yaml and redeploy")
    return price


def _check_spend_cap(deps: InvokeDeps) -> None:
    """Refuse the request when today's spend has reached the cap. An unreadable counter does not
    take the API down: the request is served, logged and counted (SpendCounterErrors)."""
    settings = deps.settings
    spent = deps.spend.reading(settings.spend_reading_max_age_s)
    if spent is not None and spent < settings.daily_cap_usd:
        most_expensive = max(deps.spend.largest_add_usd, settings.max_cost_per_request_usd)
        if spent + settings.spend_unseen_requests * most_expensive < settings.daily_cap_usd:
            return  # far from the cap: served from the reading, no DynamoDB call
        spent = None  # near the cap: read the counter
    if spent is None:  # (a reading at or over the cap needs no read: the counter only grows within a day)
        try:
            spent = deps.spend.spent_today_usd()
        except SpendCounterUnavailable as exc:
            logger.warning("spend cap not checked: counter unavailable", extra={"reason": str(exc)})
            metrics.add_metric(name="SpendCounterErrors", unit=MetricUnit.Count, value=1)
            return
    if spent >= settings.daily_cap_usd:
        raise SpendCapHit(
            f"use case {settings.use_case} has spent {_usd(spent)} today, its daily cap is "
            f"{_usd(settings.daily_cap_usd)}; requests resume at 00:00 UTC (or raise `budget.daily_cap_usd` "
            f"in usecases/{settings.use_case}.yaml and redeploy)",
            headers={"Retry-After": str(deps.spend.seconds_until_reset())},
        )


def _usd(amount: float) -> str:
    return "$" + f"{amount:,.6f}".rstrip("0").rstrip(".")


def _record_spend(deps: InvokeDeps, cost_usd: float) -> float | None:
    try:
        return deps.spend.add(cost_usd)
    except SpendCounterUnavailable as exc:
        logger.warning("request cost not counted: counter unavailable", extra={"reason": str(exc)})
        metrics.add_metric(name="SpendCounterErrors", unit=MetricUnit.Count, value=1)
        return None
