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

from service.dal.knowledge_client import KnowledgeClient
from service.dal.model_client import GroundingInput, ModelClient, ModelReply, Repair, StructuredOutput
from service.dal.spend_counter import SpendCounter, SpendCounterUnavailable
from service.logic import retrieval
from service.logic.cost import Bill, ModelPrice, abandoned_attempt_cost_usd, retrieval_cost_lines
from service.logic.output_contract import Answer, ask, checked_answer, needs_output_check
from service.logic.prompt_resolver import PromptResolver
from service.logic.render import RenderedPrompt, check_values, render_prompt
from service.models.errors import (
    GuardrailIntervened,
    Misconfigured,
    ModelContentFiltered,
    ModelError,
    ModelThrottled,
    ModelTimeout,
    ServiceError,
    SpendCapHit,
)
from service.models.invoke import InvokeRequest, InvokeResponse, Usage
from service.models.retrieval import COST_LINES, GroundingResult, RetrievalReport
from service.observability import logger, metrics
from service.settings import Settings


@dataclass(frozen=True)
class InvokeDeps:
    settings: Settings
    resolver: PromptResolver
    model: ModelClient
    spend: SpendCounter
    knowledge: KnowledgeClient | None = None  # the use case's knowledge base (None: it has none)


@dataclass(frozen=True)
class InvokeOutcome:
    response: InvokeResponse
    prompt_text: str  # the rendered user message, for the log when `log_prompts` is on
    spent_today_usd: float | None  # the counter after this request's cost; None when it could not be written
    abandoned_attempts: int = 0  # timed-out attempts before the answer, charged at an estimate
    canary_version: str | None = None  # "<prompt_id>#<version>" when a prompt canary's version answered
    retrieval_report: RetrievalReport | None = None  # prompts with `retrieval:`: for the metrics and the log


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
    _price(deps, model_id)  # a model without a price is refused before any call
    bill = Bill(deps.settings.guardrail_prices)
    grounded = _Grounded.for_request(prompt, request, deps)  # bad input and a missing knowledge base: before any call
    try:
        context = grounded.retrieve(deps, bill) if grounded else None
        if context is not None and not context.passages and prompt.spec.retrieval.no_context == "refuse":
            return _refusal(
                prompt, context, request_id=request_id, deps=deps, bill=bill, started=started, canary=canary
            )
        rendered = render_prompt(prompt.spec, request.variables, context.text if context is not None else None)
        answer, model_id, fallback_from = _answer(prompt.spec, rendered, deps, bill, grounded)
        answer = _guard_tool_answer(prompt.spec, answer, rendered, deps, bill, grounded=grounded)
    except Exception as exc:
        failure = _settled_failure(deps, bill, exc)
        if grounded:
            failure_report = grounded.report(bill)
            if isinstance(failure, ServiceError):
                failure.retrieval_report = failure_report
        if failure is exc:
            raise
        raise failure from exc
    cost_usd = bill.cost_usd
    spent_today = _record_spend(deps, cost_usd)  # a blocked or filtered call is billed too
    reply = answer.reply
    grounding = grounded.grounding_of(reply) if grounded else None
    report = grounded.report(bill, grounding) if grounded else None
    if reply.guardrail == "blocked":
        error = _billed(GuardrailIntervened(reply.text.strip()), bill, spent_today)  # the configured message
        error.retrieval_report = report
        raise error
    if reply.stop_reason == "content_filtered" and not reply.text.strip():
        error = _billed(
            ModelContentFiltered(f"model {model_id} withheld its answer (its content filter); rephrase the input"),
            bill,
            spent_today,
        )
        error.retrieval_report = report
        raise error
    response = InvokeResponse(
        output=reply.text,
        stop_reason=reply.stop_reason,
        truncated=reply.stop_reason == "max_tokens",
        output_json=answer.value,
        repairs=answer.repairs,
        usage=Usage(  # every billed call, the fallback's and the first model's alike
            input_tokens=sum(r.input_tokens for r in bill.replies),
            output_tokens=sum(r.output_tokens for r in bill.replies),
            total_tokens=sum(r.input_tokens + r.output_tokens for r in bill.replies),
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
        **(grounded.response_fields(context, answer.value, grounding, bill) if grounded else {}),
    )
    return InvokeOutcome(
        response=response,
        prompt_text=rendered.user_text,
        spent_today_usd=spent_today,
        abandoned_attempts=bill.abandoned_attempts,
        canary_version=canary,
        retrieval_report=report,
    )


@dataclass
class _Grounded:
    """A request of a prompt with `retrieval:` as it goes: the plan, then the context once retrieved."""

    plan: retrieval.RetrievalPlan
    knowledge: object  # service.settings.KnowledgeSettings
    context: retrieval.Context | None = None

    @classmethod
    def for_request(cls, prompt, request: InvokeRequest, deps: InvokeDeps) -> _Grounded | None:
        spec = prompt.spec
        if spec.retrieval is None:
            return None
        knowledge = deps.settings.knowledge
        if knowledge is None or deps.knowledge is None:
            raise Misconfigured(
                f"prompt {prompt.prompt_id} v{prompt.version} retrieves from a knowledge base, and this deployment "
                f"has none; add `knowledge:` to usecases/{deps.settings.use_case}.yaml and redeploy"
            )
        check_values(spec, request.variables)  # the request's own faults are 400s before Retrieve is billed
        return cls(plan=retrieval.plan(spec, request.variables, knowledge), knowledge=knowledge)

    def retrieve(self, deps: InvokeDeps, bill: Bill) -> retrieval.Context:
        """Retrieve, billed as soon as it answers (and for every attempt that timed out, which may have run)."""
        lines = retrieval_cost_lines(self.knowledge.price, self.plan.query)
        try:
            retrieved = retrieval.retrieve(self.plan, deps.knowledge, self.knowledge)
        except ServiceError as exc:
            self._charge(bill, lines, exc.abandoned_attempts)
            exc.abandoned_attempts = 0  # a Retrieve's, not a model call's: charged here at its own price
            raise
        self._charge(bill, lines, 1 + retrieved.abandoned_attempts)
        self.context = retrieval.context_of(self.plan, retrieved, self.knowledge)
        return self.context

    @staticmethod
    def _charge(bill: Bill, lines: dict[str, float], times: int) -> None:
        for line, usd in lines.items():
            if times:
                bill.charge(line, usd * times)

    def grounding_input(self, rendered: RenderedPrompt) -> GroundingInput | None:
        """The grounding check's input, when the use case checks and there are passages to check against."""
        if self.knowledge.grounding is None or self.context is None or not self.context.passages:
            return None
        return GroundingInput(
            sources=tuple(retrieval.passage_block(p) for p in self.context.passages),
            query=self.plan.query,
            span=rendered.context_span,
        )

    def grounding_of(self, reply: ModelReply) -> GroundingResult | None:
        assessment = reply.grounding
        if assessment is None:
            return None
        return GroundingResult(
            grounding_score=assessment.grounding_score,
            relevance_score=assessment.relevance_score,
            grounded=assessment.grounded,
            action=self.knowledge.grounding,
            blocked=assessment.blocked,
        )

    def report(self, bill: Bill, grounding: GroundingResult | None = None) -> RetrievalReport:
        context = self.context
        return RetrievalReport(
            retrieved=context is not None,
            latency_ms=context.latency_ms if context else 0,
            passages=len(context.passages) if context else 0,
            no_context=bool(context is not None and not context.passages),
            grounding=grounding,
            cost_lines=cost_lines(bill),
        )

    def response_fields(self, context, value, grounding: GroundingResult | None, bill: Bill) -> dict:
        return {
            "citations": context.citations(value),
            "retrieval": context.summary(),
            "grounding": grounding,
            "cost_lines": cost_lines(bill),
        }


def cost_lines(bill: Bill) -> dict[str, float]:
    """The bill by line, every line named (0 when nothing was charged to it)."""
    return {line: bill.lines.get(line, 0.0) for line in COST_LINES}


def _refusal(
    prompt, context, *, request_id: str, deps: InvokeDeps, bill: Bill, started: float, canary: str | None
) -> InvokeOutcome:
    """No passage reached min_score and the prompt refuses: its fixed answer, with no model call (nothing
    to hallucinate from, nothing billed but the Retrieve)."""
    refusal = prompt.spec.retrieval.refusal
    spent_today = _record_spend(deps, bill.cost_usd)
    report = RetrievalReport(
        retrieved=True, latency_ms=context.latency_ms, passages=0, no_context=True, cost_lines=cost_lines(bill)
    )
    response = InvokeResponse(
        output=refusal,
        output_json={"answer": refusal, "citations": []},
        stop_reason="no_context",
        usage=Usage(input_tokens=0, output_tokens=0, total_tokens=0),
        model_id=prompt.spec.model_id,
        prompt_id=prompt.prompt_id,
        prompt_version=prompt.version,
        request_id=request_id,
        cost_usd=bill.cost_usd,
        latency_ms=round((time.perf_counter() - started) * 1000),
        model_latency_ms=0,
        citations=[],
        retrieval=context.summary(),
        grounding=None,
        cost_lines=cost_lines(bill),
    )
    return InvokeOutcome(
        response=response,
        prompt_text="",
        spent_today_usd=spent_today,
        canary_version=canary,
        retrieval_report=report,
    )


def _answer(
    spec, rendered, deps: InvokeDeps, bill: Bill, grounded: _Grounded | None = None
) -> tuple[Answer, str, str | None]:
    """The prompt's answer (model, then the fallback if the model fails), each call entered in `bill`
    as it ends: (answer, the model that gave it, the model it fell back from). With retrieval, the answer
    may cite only the retrieved passages, and the grounding check goes with every call."""
    inference = spec.inference.to_converse()
    grounding = grounded.grounding_input(rendered) if grounded else None
    citable = grounded.context.ids if grounded and grounded.context is not None else None
    prompt_chars = len(rendered.user_text) + len(rendered.system or "")

    def call(model: str) -> Answer:
        price = _price(deps, model)
        abandoned_usd = abandoned_attempt_cost_usd(
            price,
            prompt_chars=prompt_chars,
            max_tokens=int(inference["maxTokens"]),
            guardrail_per_unit=deps.settings.guardrail_prices if deps.settings.guardrail else None,
        )

        def one_call(structured: StructuredOutput | None, repair: Repair | None) -> ModelReply:
            return bill.call(
                price,
                abandoned_usd,
                lambda: deps.model.converse(
                    model_id=model,
                    user_text=rendered.user_text,
                    system=rendered.system,
                    inference=inference,
                    structured=structured,
                    repair=repair,
                    grounding=grounding,
                ),
            )

        mechanism = deps.settings.structured_output.get(model, "none")
        return ask(one_call, spec.output, mechanism, max_tokens=int(inference["maxTokens"]), citable=citable)

    model_id = spec.model_id
    try:
        return call(model_id), model_id, None
    except (ModelThrottled, ModelError, ModelTimeout) as exc:  # never a client error: no model takes that input
        fallback = deps.settings.fallback_model_id
        if fallback is None or fallback == model_id:
            raise
        logger.warning(
            "model failed, using the fallback",
            extra={"model_id": model_id, "fallback_model_id": fallback, "error_code": exc.code},
        )
        metrics.add_metric(name="Fallbacks", unit=MetricUnit.Count, value=1)
        return call(fallback), fallback, model_id


def _guard_tool_answer(
    spec, answer: Answer, rendered: RenderedPrompt, deps: InvokeDeps, bill: Bill, *, grounded: _Grounded | None
) -> Answer:
    """The output guardrail on an answer that came as a forced tool's input (models holding JSON by a tool):
    the guardrail in Converse's guardrailConfig does not evaluate toolUse.input (Bedrock user guide, "Include a
    guardrail with the Converse API"), so the answer, as the JSON text the client gets, is checked on its own
    with one ApplyGuardrail call (the passages and the query with it when the grounding check is on), its text
    units billed (output_contract.checked_answer applies the verdict). A failed check raises (502), the model's
    calls already on the bill."""
    if not needs_output_check(answer, guardrail=deps.settings.guardrail is not None):
        return answer
    grounding = grounded.grounding_input(rendered) if grounded else None
    check = deps.model.check_answer(answer.reply.text, grounding)
    bill.guardrail_checked(check.units)
    citable = grounded.context.ids if grounded and grounded.context is not None else None
    return checked_answer(answer, check, spec.output, citable)


def _settled_failure(deps: InvokeDeps, bill: Bill, exc: Exception) -> Exception:
    """What a failed request raises, once what it was billed for is on the counter: a ServiceError
    carrying its cost, or an unexpected exception turned into one (500) when money was spent, so its
    cost still reaches the cost metrics."""
    spent_today = None
    if bill.cost_usd:
        logger.warning(
            "charging a failed request's model calls",
            extra={"cost_usd": bill.cost_usd, "abandoned_attempts": bill.abandoned_attempts},
        )
        spent_today = _record_spend(deps, bill.cost_usd)
    if isinstance(exc, ServiceError):
        return _billed(exc, bill, spent_today)
    if not bill.cost_usd:
        return exc  # nothing billed: the handler's 500, as for any unexpected error
    logger.exception("unexpected error after billed model calls")
    return _billed(ServiceError("internal error; quote the request id"), bill, spent_today)


def _billed(exc: ServiceError, bill: Bill, spent_today: float | None) -> ServiceError:
    """A failed request that still cost money carries what it cost (the handler emits it as metrics)."""
    exc.cost_usd, exc.spent_today_usd, exc.abandoned_attempts = bill.cost_usd, spent_today, bill.abandoned_attempts
    return exc


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
