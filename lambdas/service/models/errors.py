"""The one error hierarchy of the service. Each error knows its HTTP status and public code;
handlers map them to `{"error": {"code", "message"}}` in one place (handlers/http_errors.py).
The message is what the caller may see; `detail` (an AWS error's own text, which can quote account
ids, role and profile ARNs, endpoint URLs) goes to the log only.

`error_class` is the metric each error counts under (dashboard "errors by class", alarms): ClientError,
Throttled, ModelError, SpendCapHit, GuardrailIntervened or ServerError."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status = 500
    code = "InternalError"
    error_class = "ServerError"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        # a failed request may still be billed (a guardrail block, timed-out attempts): what it cost
        # and today's spend after it, so the handler emits CostUSD/SpendTodayUSD on this path too
        self.cost_usd: float = 0.0
        self.spent_today_usd: float | None = None
        self.abandoned_attempts: int = 0
        # the prompt version that failed, when it was a prompt canary's (its health drives the auto-rollback)
        self.canary_version: str | None = None
        self.detail: str | None = None  # for the log, never the response body
        # what retrieval and the grounding check found before the failure (service.models.retrieval.RetrievalReport),
        # for the metrics and the log: a grounding block is counted ungrounded
        self.retrieval_report: Any = None


def with_detail(error: ServiceError, detail: str) -> ServiceError:
    """`error`, carrying `detail` for the log."""
    error.detail = detail
    return error


class BadRequest(ServiceError):
    status = 400
    code = "BadRequest"
    error_class = "ClientError"


class MissingVariable(BadRequest):
    code = "MissingVariable"


class UnknownVariable(BadRequest):
    code = "UnknownVariable"


class VariableTooLong(BadRequest):
    code = "VariableTooLong"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "PayloadTooLarge"
    error_class = "ClientError"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "UnsupportedMediaType"
    error_class = "ClientError"


class ModelRejectedInput(ServiceError):
    """Bedrock refused the request itself (e.g. "Input is too long for requested model"): the client's
    input must change; another model or a retry will not help."""

    status = 400
    code = "ModelRejectedInput"
    error_class = "ClientError"


class ModelContentFiltered(ServiceError):
    """The model's own content filter withheld the answer (stopReason content_filtered)."""

    status = 422
    code = "ModelContentFiltered"
    error_class = "GuardrailIntervened"


class PromptNotFound(ServiceError):
    status = 404
    code = "PromptNotFound"
    error_class = "ClientError"


class ModelThrottled(ServiceError):
    status = 429
    code = "ModelThrottled"
    error_class = "Throttled"


class ModelError(ServiceError):
    status = 502
    code = "ModelError"
    error_class = "ModelError"


class ModelOutputInvalid(ServiceError):
    """The answer does not match the prompt's output schema, after the repair attempts (never the raw
    output in the message: only where and what is wrong)."""

    status = 502
    code = "ModelOutputInvalid"
    error_class = "ModelError"


class ModelOutputTruncated(ModelOutputInvalid):
    """The JSON answer was cut off at the prompt's `max_tokens` (stopReason max_tokens): a repair at the
    same limit cannot fit either, so none is attempted. Counted as an invalid output."""

    code = "ModelOutputTruncated"


class ModelTimeout(ServiceError):
    status = 504
    code = "ModelTimeout"
    error_class = "ModelError"


class RequestOutOfTime(ServiceError):
    """A further Bedrock attempt (a repair turn, the ApplyGuardrail check, a retry after them) could outlast the
    function's timeout, so it was not sent (service/dal/deadline.py); what the request spent is billed."""

    status = 504
    code = "RequestOutOfTime"
    error_class = "ModelError"


class SpendCapHit(ServiceError):
    """Today's spend of the use case has reached `budget.daily_cap_usd`."""

    status = 429
    code = "SpendCapHit"
    error_class = "SpendCapHit"


class RegistryUnavailable(ServiceError):
    status = 503
    code = "PromptRegistryUnavailable"


class GuardrailIntervened(ServiceError):
    """The use case's Bedrock Guardrail blocked the request or the answer (a policy decision, not a fault)."""

    status = 422
    code = "GuardrailIntervened"
    error_class = "GuardrailIntervened"


class Misconfigured(ServiceError):
    status = 500
    code = "Misconfigured"


class RetrievalThrottled(ServiceError):
    """The knowledge base (Bedrock Retrieve) is throttling: retry with backoff. Nothing was billed for the model."""

    status = 429
    code = "RetrievalThrottled"
    error_class = "Throttled"


class RetrievalFailed(ServiceError):
    """The knowledge base could not answer: missing, access denied, a refused request, or a failure of its own."""

    status = 502
    code = "RetrievalFailed"
    error_class = "ServerError"
