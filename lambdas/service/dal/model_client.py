"""Amazon Bedrock Converse: the only module that talks to the model. Maps the service's errors
onto the service's error hierarchy so the handler never sees a botocore exception."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from service.models.errors import ModelError, ModelThrottled, ModelTimeout

_THROTTLED = {"ThrottlingException", "ModelNotReadyException", "ServiceQuotaExceededException"}
_TIMEOUT = {"ModelTimeoutException"}


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

    def converse(self, *, model_id: str, user_text: str, system: str | None, inference: dict) -> ModelReply:
        request: dict[str, Any] = {
            "modelId": self._profiles.get(model_id, model_id),
            "messages": [{"role": "user", "content": [{"text": user_text}]}],
            "inferenceConfig": inference,
        }
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
        try:
            response = self._client.converse(**request)
        except ClientError as exc:
            raise _map_client_error(exc, model_id) from exc
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise ModelTimeout(f"model {model_id} did not answer in time") from exc
        except EndpointConnectionError as exc:
            raise ModelError(f"the model endpoint is unreachable: {exc}") from exc

        blocks = response["output"]["message"]["content"]
        usage = response["usage"]
        return ModelReply(
            text="".join(block.get("text", "") for block in blocks),
            stop_reason=response["stopReason"],
            input_tokens=int(usage["inputTokens"]),
            output_tokens=int(usage["outputTokens"]),
            latency_ms=int(response.get("metrics", {}).get("latencyMs", 0)),
            cache_read_tokens=int(usage.get("cacheReadInputTokens", 0)),
            cache_write_tokens=int(usage.get("cacheWriteInputTokens", 0)),
            guardrail=guardrail_outcome(response),
        )


def _map_client_error(exc: ClientError, model_id: str) -> Exception:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    detail = exc.response.get("Error", {}).get("Message", "")
    if code in _THROTTLED:
        return ModelThrottled(f"model {model_id} is throttling requests; retry with backoff")
    if code in _TIMEOUT:
        return ModelTimeout(f"model {model_id} timed out")
    if code == "AccessDeniedException":
        return ModelError(f"access to model {model_id} was denied: enable model access in Bedrock ({detail})")
    return ModelError(f"model {model_id} failed: {code}: {detail}".rstrip(": "))
