"""Amazon Bedrock Converse: the only module that talks to the model. Maps the service's errors
onto the service's error hierarchy so the handler never sees a botocore exception."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from service.dal.attempts import TimedOutAttempts
from service.dal.deadline import keep_within_deadline
from service.models.errors import (
    Misconfigured,
    ModelError,
    ModelOutputInvalid,
    ModelRejectedInput,
    ModelThrottled,
    ModelTimeout,
    RequestOutOfTime,
    ServiceError,
    with_detail,
)

_THROTTLED = {"ThrottlingException", "ModelNotReadyException", "ServiceQuotaExceededException"}
_TIMEOUT = {"ModelTimeoutException"}
# The deployment cannot reach the model: fixed by enabling access or redeploying, not by another model
_MISCONFIGURED = {"AccessDeniedException", "ResourceNotFoundException"}
# GuardrailUsage members (text units) in a Converse trace -> the price key of each (pricing/bedrock.yaml)
GUARDRAIL_UNITS = {
    "contentPolicyUnits": "content",
    "topicPolicyUnits": "topic",
    "sensitiveInformationPolicyUnits": "sensitive_information",
    "wordPolicyUnits": "word",
    "contextualGroundingPolicyUnits": "contextual_grounding",
}


@dataclass(frozen=True)
class ModelReply:
    text: str
    stop_reason: str
    input_tokens: int
    output_tokens: int
    latency_ms: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    guardrail: str | None = None  # "blocked" or "masked" when the guardrail intervened
    # text units the guardrail evaluated, by policy (content, topic, ...), from the trace: billed per unit
    guardrail_units: dict[str, int] = field(default_factory=dict)
    # attempts that timed out before this answer: Bedrock may have run (and billed) each of them
    abandoned_attempts: int = 0
    tool_use_id: str | None = None  # the forced tool's call, when the answer came as tool use
    grounding: GroundingAssessment | None = None  # the contextual grounding check, when the call asked for one


@dataclass(frozen=True)
class GroundingInput:
    """What the guardrail's contextual grounding check is given (Converse `guardContent` blocks): the
    passages (`grounding_source`), the query (`query`), and where the passages sit in the user text
    (`span`, None when they are in the system prompt). The user text around the passages is sent as
    `guard_content`, so the guardrail's other policies still assess the input (with guardContent in a
    message, they assess nothing else), and the passages reach the model once, in place."""

    sources: tuple[str, ...]
    query: str
    span: tuple[int, int] | None = None


@dataclass(frozen=True)
class GroundingAssessment:
    """The contextual grounding filters' verdict on one answer (trace.guardrail.outputAssessments)."""

    grounding_score: float | None
    relevance_score: float | None
    grounding_threshold: float | None
    relevance_threshold: float | None
    blocked: bool  # a filter's action was BLOCKED: the guardrail replaced the answer

    @property
    def grounded(self) -> bool:
        pairs = ((self.grounding_score, self.grounding_threshold), (self.relevance_score, self.relevance_threshold))
        return not self.blocked and all(s is not None and t is not None and s >= t for s, t in pairs)


TOOL_NAME = "answer"


@dataclass(frozen=True)
class StructuredOutput:
    """How to hold the answer to `schema`: `native` (Converse outputConfig.textFormat, json_schema) or
    `tool` (one tool whose inputSchema is the schema, forced by toolChoice)."""

    mechanism: str
    schema: dict

    def request_fields(self) -> dict:
        if self.mechanism == "native":
            return {
                "outputConfig": {
                    "textFormat": {
                        "type": "json_schema",
                        "structure": {"jsonSchema": {"schema": json.dumps(self.schema), "name": TOOL_NAME}},
                    }
                }
            }
        if self.mechanism == "tool":
            spec = {"name": TOOL_NAME, "description": "Give the answer.", "inputSchema": {"json": self.schema}}
            return {"toolConfig": {"tools": [{"toolSpec": spec}], "toolChoice": {"tool": {"name": TOOL_NAME}}}}
        return {}


@dataclass(frozen=True)
class Repair:
    """Ask again: the previous answer and what was wrong with it."""

    previous: ModelReply
    problem: str


def _guarded(text: str, qualifier: str) -> dict:
    return {"guardContent": {"text": {"text": text, "qualifiers": [qualifier]}}}


def _user_content(user_text: str, grounding: GroundingInput | None) -> list[dict]:
    """The first user message's content: the text, or with a grounding check the guardContent blocks."""
    if grounding is None:
        return [{"text": user_text}]
    start, end = grounding.span if grounding.span is not None else (len(user_text), len(user_text))
    before, after = user_text[:start], user_text[end:]
    content = [_guarded(before, "guard_content")] if before.strip() else []
    content += [_guarded(source, "grounding_source") for source in grounding.sources]
    if after.strip():
        content.append(_guarded(after, "guard_content"))
    content.append(_guarded(grounding.query, "query"))
    return content


def _messages(user_text: str, repair: Repair | None, grounding: GroundingInput | None = None) -> list[dict]:
    first = {"role": "user", "content": _user_content(user_text, grounding)}
    if repair is None:
        return [first]
    ask = (
        f"That answer is not valid: {repair.problem}. Answer again with only the corrected answer, "
        "valid against the required schema."
    )
    previous = repair.previous
    if previous.tool_use_id:  # tool use must be answered with its result before the next question
        return [
            first,
            {
                "role": "assistant",
                "content": [
                    {
                        "toolUse": {
                            "toolUseId": previous.tool_use_id,
                            "name": TOOL_NAME,
                            "input": _as_object(previous.text),
                        }
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {"toolResult": {"toolUseId": previous.tool_use_id, "content": [{"text": ask}], "status": "error"}}
                ],
            },
        ]
    return [
        first,
        {"role": "assistant", "content": [{"text": previous.text or "(empty)"}]},
        {"role": "user", "content": [{"text": ask}]},
    ]


def _as_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {"value": value}


def _actions(node: Any) -> set[str]:
    """Every `action` value anywhere in a guardrail trace (BLOCKED, ANONYMIZED, NONE...)."""
    if isinstance(node, dict):
        found = {node["action"]} if isinstance(node.get("action"), str) else set()
        for value in node.values():
            found |= _actions(value)
        return found
    if isinstance(node, list):
        return set().union(*(_actions(v) for v in node)) if node else set()
    return set()


def guardrail_units(response: dict) -> dict[str, int]:
    """Text units by policy over the input and output assessments of the trace (Converse, trace enabled)."""
    guardrail = response.get("trace", {}).get("guardrail", {})
    assessments = list(guardrail.get("inputAssessment", {}).values())
    assessments += [a for outputs in guardrail.get("outputAssessments", {}).values() for a in outputs]
    units: dict[str, int] = {}
    for assessment in assessments:
        usage = assessment.get("invocationMetrics", {}).get("usage", {})
        for member, policy in GUARDRAIL_UNITS.items():
            if usage.get(member):
                units[policy] = units.get(policy, 0) + int(usage[member])
    return units


def grounding_assessment(response: dict) -> GroundingAssessment | None:
    """The contextual grounding filters of the trace's output assessments (None when there are none)."""
    guardrail = response.get("trace", {}).get("guardrail", {})
    filters = [
        f
        for outputs in guardrail.get("outputAssessments", {}).values()
        for assessment in outputs
        for f in assessment.get("contextualGroundingPolicy", {}).get("filters", [])
    ]
    if not filters:
        return None
    by_type = {f.get("type"): f for f in filters}
    grounding, relevance = by_type.get("GROUNDING", {}), by_type.get("RELEVANCE", {})

    def number(value) -> float | None:
        return float(value) if isinstance(value, (int, float)) else None

    return GroundingAssessment(
        grounding_score=number(grounding.get("score")),
        relevance_score=number(relevance.get("score")),
        grounding_threshold=number(grounding.get("threshold")),
        relevance_threshold=number(relevance.get("threshold")),
        blocked=any(f.get("action") == "BLOCKED" for f in filters),
    )


def guardrail_outcome(response: dict) -> str | None:
    """None when the guardrail let the exchange through untouched; "masked" when it only anonymised
    (the output is usable, with {EMAIL}-style placeholders); "blocked" otherwise, including when no
    trace came back to say which (the safe reading)."""
    if response.get("stopReason") != "guardrail_intervened":
        return None
    actions = _actions(response.get("trace", {}).get("guardrail", {}))
    return "masked" if actions and "BLOCKED" not in actions and "ANONYMIZED" in actions else "blocked"


class ModelClient:
    """Calls Converse with one user message (and an optional system prompt), with the use case's
    guardrail attached when one is configured, through the model's application inference profile
    when it has one (`profiles`: model id -> profile ARN; the profile's tags attribute the cost)."""

    def __init__(self, client: Any, guardrail: tuple[str, str] | None = None, profiles: dict[str, str] | None = None):
        self._client = client
        self._guardrail = guardrail
        self._profiles = dict(profiles or {})
        # the Converse attempts that timed out, which Bedrock may still have run and billed
        self._timed_out = TimedOutAttempts(client, "bedrock-runtime.Converse")
        keep_within_deadline(client)  # Converse and ApplyGuardrail: no attempt that could outlast the function

    def check_answer(self, text: str, grounding: GroundingInput | None = None) -> AnswerCheck:
        """The guardrail on an answer the Converse call could not assess: a forced tool's input, which a guardrail
        in guardrailConfig does not evaluate (Bedrock user guide, "Include a guardrail with the Converse API").
        One ApplyGuardrail call (source OUTPUT) on the answer as the client gets it (guard_content); with
        `grounding`, the passages (grounding_source) and the query go with it for the contextual grounding check.
        A failed check withholds the answer (fail closed): 502 ModelError, whatever the cause, throttling included
        (the model's answer is already billed; a retry asks the model again)."""
        identifier, version = self._guardrail
        content = []
        if grounding is not None:
            content += [{"text": {"text": source, "qualifiers": ["grounding_source"]}} for source in grounding.sources]
            content.append({"text": {"text": grounding.query, "qualifiers": ["query"]}})
        content.append({"text": {"text": text, "qualifiers": ["guard_content"]}})
        try:
            response = self._client.apply_guardrail(
                guardrailIdentifier=identifier, guardrailVersion=version, source="OUTPUT", content=content
            )
        except (ClientError, BotoCoreError) as exc:
            code = (
                exc.response.get("Error", {}).get("Code", "Unknown") if isinstance(exc, ClientError) else "Unreachable"
            )
            error = ModelError(f"the guardrail could not check the answer ({code}), so it is withheld; retry later")
            raise with_detail(error, f"{code}: {exc}") from exc
        assessments = {"outputAssessments": {"answer": response.get("assessments", [])}}
        outcome = None
        if response.get("action") == "GUARDRAIL_INTERVENED":
            actions = _actions(assessments)
            outcome = "masked" if actions and "BLOCKED" not in actions and "ANONYMIZED" in actions else "blocked"
        outputs = response.get("outputs") or []
        return AnswerCheck(
            outcome=outcome,
            text="".join(o.get("text", "") for o in outputs) if outcome else text,
            units=_apply_guardrail_units(response.get("usage", {})),
            grounding=grounding_assessment({"trace": {"guardrail": assessments}}) if grounding is not None else None,
        )

    def converse(
        self,
        *,
        model_id: str,
        user_text: str,
        system: str | None,
        inference: dict,
        structured: StructuredOutput | None = None,
        repair: Repair | None = None,
        grounding: GroundingInput | None = None,
    ) -> ModelReply:
        """One Converse call. `structured` holds the answer to a JSON schema by the model's mechanism;
        `repair` asks again after an invalid answer, saying what was wrong with it; `grounding` has the
        guardrail check the answer against the passages (it needs the guardrail)."""
        if grounding is not None and not self._guardrail:
            raise Misconfigured("the grounding check needs the use case's guardrail (guardrail.enabled); redeploy")
        request: dict[str, Any] = {
            "modelId": self._profiles.get(model_id, model_id),
            "messages": _messages(user_text, repair, grounding),
            "inferenceConfig": inference,
        }
        if structured is not None:
            request.update(structured.request_fields())
        if system:
            request["system"] = [{"text": system}]
        if self._guardrail:
            identifier, version = self._guardrail
            # trace on: the reply says whether the guardrail blocked or only masked
            request["guardrailConfig"] = {
                "guardrailIdentifier": identifier,
                "guardrailVersion": version,
                "trace": "enabled",
            }
        self._timed_out.reset()  # one request at a time per execution environment
        try:
            response = self._client.converse(**request)
        except (ClientError, BotoCoreError, RecursionError) as exc:
            error = _map_error(exc, model_id)
            # every attempt that timed out before this error may have been run, and billed, by Bedrock
            error.abandoned_attempts += self._timed_out.count
            raise error from exc
        except RequestOutOfTime as exc:  # the next attempt was not sent; the ones before may have been billed
            exc.abandoned_attempts += self._timed_out.count
            raise

        blocks = response["output"]["message"]["content"]
        usage = response["usage"]
        tool_use = next((b["toolUse"] for b in blocks if "toolUse" in b), None)
        return ModelReply(
            # a forced tool's input is the structured answer; else the text blocks, as paragraphs
            text=json.dumps(tool_use["input"], ensure_ascii=False)
            if tool_use is not None
            else "\n".join(block["text"] for block in blocks if block.get("text")),
            tool_use_id=tool_use["toolUseId"] if tool_use is not None else None,
            # the forced tool is how the answer was asked for, not a tool the client wanted called
            stop_reason="end_turn"
            if tool_use is not None and response["stopReason"] == "tool_use"
            else response["stopReason"],
            input_tokens=int(usage["inputTokens"]),
            output_tokens=int(usage["outputTokens"]),
            latency_ms=int(response.get("metrics", {}).get("latencyMs", 0)),
            cache_read_tokens=int(usage.get("cacheReadInputTokens", 0)),
            cache_write_tokens=int(usage.get("cacheWriteInputTokens", 0)),
            guardrail=guardrail_outcome(response),
            guardrail_units=guardrail_units(response),
            abandoned_attempts=self._timed_out.count,
            grounding=grounding_assessment(response) if grounding is not None else None,
        )


@dataclass(frozen=True)
class AnswerCheck:
    """The guardrail's verdict on an answer checked on its own (ApplyGuardrail, source OUTPUT)."""

    outcome: str | None  # None: let through; "blocked"; "masked" (the text is the guardrail's, anonymised)
    text: str  # the guardrail's output when it intervened, else the answer as given
    units: dict[str, int]
    grounding: GroundingAssessment | None


def _apply_guardrail_units(usage: dict) -> dict[str, int]:
    return {policy: int(usage[member]) for member, policy in GUARDRAIL_UNITS.items() if usage.get(member)}


def _map_error(exc: Exception, model_id: str) -> ServiceError:
    """Bedrock's errors onto the service's: throttling and timeouts (retry later, or the fallback),
    the request's own fault (4xx: no fallback, the same input fails on any model), the deployment's
    (access, a missing profile), and the model's (5xx, an unreachable endpoint: the fallback may answer).
    The caller sees the code and what to do; Bedrock's own text (it can quote the account id, the role's
    ARN, the profile's ARN in an endpoint URL) is the error's `detail`, for the log."""
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return with_detail(ModelTimeout(f"model {model_id} did not answer in time"), str(exc))
    if isinstance(exc, RecursionError):  # botocore could not parse an answer nested too deeply: billed all the same
        error = ModelOutputInvalid(f"the answer of model {model_id} is nested too deeply to read")
        error.abandoned_attempts = 1  # charged at the timed-out attempt's estimate: its usage is unreadable
        return error
    if not isinstance(exc, ClientError):  # endpoint unreachable, connection dropped
        return with_detail(ModelError(f"model {model_id} endpoint is unreachable; retry later"), str(exc))
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    detail = exc.response.get("Error", {}).get("Message", "")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
    if code in _THROTTLED:
        error: ServiceError = ModelThrottled(f"model {model_id} is throttling requests; retry with backoff")
    elif code in _TIMEOUT:
        error = ModelTimeout(f"model {model_id} timed out")
    elif code in _MISCONFIGURED:
        error = Misconfigured(
            f"this deployment cannot call model {model_id} ({code}); enable model access in Bedrock "
            "for this account and Region (`liftoff preflight` says which), or redeploy"
        )
    elif code == "ValidationException" or 400 <= status < 500:
        # what is wrong with the input is the caller's to know ("Input is too long"), without any ARN or account
        error = ModelRejectedInput(f"model {model_id} refused the request: {_without_identifiers(detail) or code}")
    else:
        error = ModelError(f"model {model_id} failed ({code})")
    return with_detail(error, f"{code}: {detail}")


_ARN = re.compile(r"arn:aws[\w-]*:[^\s\"',;)]+")
_ACCOUNT_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")


def _without_identifiers(text: str) -> str:
    """`text` with ARNs and 12-digit account ids replaced by placeholders."""
    return _ACCOUNT_ID.sub("<account>", _ARN.sub("<arn>", text))
