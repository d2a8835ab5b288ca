"""Where an eval sends its cases: an HTTP endpoint (local mode or a deployed API) or Bedrock directly.

Every target answers a case with an `Answer`: the output with usage, cost and latency, or the error
code and message. Throttling (HTTP 429 `ModelThrottled`, Bedrock ThrottlingException) is retried
with exponential backoff and jitter; a case that still fails is an error, never a wrong answer.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from liftoff.foundation.pricing import structured_output_mechanism
from liftoff.local.environments import COLD_START_HEADER
from service.dal.model_client import ModelClient
from service.logic.cost import Bill, ModelPrice, abandoned_attempt_cost_usd
from service.logic.output_contract import ask, checked_answer, needs_output_check
from service.logic.render import render_prompt
from service.models.errors import GuardrailIntervened, ModelThrottled, ServiceError
from service.models.prompt import PromptSpec

RETRYABLE_HTTP_CODES = {"ModelThrottled", "TooManyRequestsException", "THROTTLED"}
VERSION_MISMATCH = "VersionMismatch"


@dataclass(frozen=True)
class Answer:
    ok: bool
    output: str = ""
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    model_id: str = ""
    prompt_version: int | None = None
    error_code: str = ""
    error_message: str = ""
    attempts: int = 1
    # local mode only: this request started an execution environment (a cold start of the laptop's
    # process, not Lambda's); the local API says so in a header
    cold_start: bool = False
    # prompts with retrieval (the API's response, docs/grounded-answers.md): the passages retrieved and the
    # outcome, the grounding check's scores, the cited passages; None for other prompts
    retrieval: dict | None = None
    grounding: dict | None = None
    citations: list | None = None
    output_json: object = None  # the answer as JSON (prompts with `output.format: json`)
    cost_lines: dict | None = None  # the request's cost by line (model, guardrail, embedding, vector_query, grounding)


class Target(Protocol):
    name: str

    def answer(self, prompt_id: str, variables: dict[str, str]) -> Answer: ...


@dataclass
class Backoff:
    """Exponential backoff with full jitter: attempt n waits up to base x 2^n seconds."""

    max_retries: int = 5
    base_s: float = 0.2
    cap_s: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = random.Random(0)  # noqa: RUF009

    def wait(self, attempt: int) -> None:
        self.sleep(self.rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt)))


class HttpTarget:
    """POST /v1/invoke with the API key, as a client would; `versions` pins prompts to a version
    (prompt id -> version): an answer from any other version is an error, never scored."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        name: str,
        versions: dict[str, int] | None = None,
        backoff: Backoff | None = None,
        timeout_s: float = 35,
    ):
        self.name = name
        self._url, self._key, self._timeout = url, api_key, timeout_s
        self._versions = dict(versions or {})
        self._backoff = backoff or Backoff()
        self._session = requests.Session()

    def answer(self, prompt_id: str, variables: dict[str, str]) -> Answer:
        answer = self._answer(prompt_id, variables)
        pinned = self._versions.get(prompt_id)
        if answer.ok and pinned is not None and answer.prompt_version != pinned:
            return Answer(
                ok=False,
                error_code=VERSION_MISMATCH,
                error_message=f"asked for {prompt_id} v{pinned}, the API answered with v{answer.prompt_version}",
                attempts=answer.attempts,
            )
        return answer

    def warm(self, prompt_id: str, environments: int) -> list[float]:
        """Start up to `environments` local execution environments at once, with requests that stop at
        validation (no variables: 400, no model call, nothing spent); returns the cold starts' latencies."""
        headers = {"x-api-key": self._key, "Content-Type": "application/json"}

        def one(_index: int) -> float | None:
            started = time.perf_counter()
            try:
                response = self._session.post(
                    self._url, json={"prompt_id": prompt_id, "variables": {}}, headers=headers, timeout=self._timeout
                )
            except requests.RequestException:
                return None
            cold = response.headers.get(COLD_START_HEADER) == "true"
            return (time.perf_counter() - started) * 1000 if cold else None

        with ThreadPoolExecutor(max_workers=max(1, environments)) as pool:
            return [ms for ms in pool.map(one, range(environments)) if ms is not None]

    def _answer(self, prompt_id: str, variables: dict[str, str]) -> Answer:
        body: dict = {"prompt_id": prompt_id, "variables": variables}
        if prompt_id in self._versions:
            body["version"] = self._versions[prompt_id]
        headers = {"x-api-key": self._key, "Content-Type": "application/json"}
        for attempt in range(self._backoff.max_retries + 1):
            started, payload = time.perf_counter(), {}
            try:
                response = self._session.post(self._url, json=body, headers=headers, timeout=self._timeout)
            except requests.RequestException as exc:
                code, message, retry = "ConnectionError", str(exc), True
            else:
                latency = (time.perf_counter() - started) * 1000
                try:
                    payload = response.json()
                except ValueError:
                    payload = {"error": {"code": f"HTTP{response.status_code}", "message": response.text[:200]}}
                if response.status_code == 200:
                    usage = payload["usage"]
                    return Answer(
                        ok=True,
                        output=payload["output"],
                        latency_ms=latency,
                        cost_usd=payload.get("cost_usd", 0.0),
                        input_tokens=usage["input_tokens"],
                        output_tokens=usage["output_tokens"],
                        model_id=payload["model_id"],
                        prompt_version=payload["prompt_version"],
                        attempts=attempt + 1,
                        cold_start=response.headers.get(COLD_START_HEADER) == "true",
                        retrieval=payload.get("retrieval"),
                        grounding=payload.get("grounding"),
                        citations=payload.get("citations"),
                        cost_lines=payload.get("cost_lines"),
                        output_json=payload.get("output_json"),
                    )
                error = payload.get("error") or {"code": f"HTTP{response.status_code}", "message": str(payload)}
                code, message = error.get("code", ""), error.get("message", "")
                retry = response.status_code == 429 and code in RETRYABLE_HTTP_CODES
            if not retry or attempt == self._backoff.max_retries:
                # a retrieval prompt's error may say what retrieval and the grounding check found (a grounding block)
                found = payload if isinstance(payload, dict) else {}
                return Answer(
                    ok=False,
                    error_code=code,
                    error_message=message,
                    attempts=attempt + 1,
                    retrieval=found.get("retrieval"),
                    grounding=found.get("grounding"),
                )
            self._backoff.wait(attempt)
        raise AssertionError("unreachable")  # pragma: no cover


class BedrockTarget:
    """Converse directly with the given prompt specs (a published version's or the working copy's), on
    any model (for comparing models), with the use case's guardrail attached and priced as the API
    does (`guardrail` None: the run says the guardrail was not applied)."""

    def __init__(
        self,
        client: Any,
        prompts: dict[str, PromptSpec],
        *,
        model_id: str | None,
        prices: dict[str, ModelPrice],
        guardrail: tuple[str, str] | None = None,
        guardrail_prices: dict[str, float] | None = None,
        backoff: Backoff | None = None,
    ):
        self._model = ModelClient(client, guardrail=guardrail)
        self._guardrail_attached = guardrail is not None
        self._prompts = prompts
        self._model_id = model_id
        self._prices = prices
        self._guardrail_prices = dict(guardrail_prices or {})
        self._backoff = backoff or Backoff()
        self.name = f"bedrock:{model_id or 'prompt default'}"

    def answer(self, prompt_id: str, variables: dict[str, str]) -> Answer:
        spec = self._prompts.get(prompt_id)
        if spec is None:
            return Answer(ok=False, error_code="PromptNotFound", error_message=f"no prompts/*/{prompt_id}.yaml")
        model_id = self._model_id or spec.model_id
        try:
            rendered = render_prompt(spec, variables)
        except ServiceError as exc:
            return Answer(ok=False, error_code=exc.code, error_message=exc.message)
        inference = spec.inference.to_converse()
        price = self._prices[model_id]
        # the API's bill: every call the case made, across its retries, timed-out attempts at the estimate
        bill = Bill(self._guardrail_prices)
        abandoned_usd = abandoned_attempt_cost_usd(
            price,
            prompt_chars=len(rendered.user_text) + len(rendered.system or ""),
            max_tokens=int(inference["maxTokens"]),
            guardrail_per_unit=self._guardrail_prices if self._guardrail_attached else None,
        )
        for attempt in range(self._backoff.max_retries + 1):
            started = time.perf_counter()
            try:
                # the same output contract as the API: the model's mechanism, validation, repairs
                answered = ask(
                    lambda structured, repair: bill.call(
                        price,
                        abandoned_usd,
                        lambda: self._model.converse(
                            model_id=model_id,
                            user_text=rendered.user_text,
                            system=rendered.system,
                            inference=inference,
                            structured=structured,
                            repair=repair,
                        ),
                    ),
                    spec.output,
                    structured_output_mechanism(model_id),
                    max_tokens=int(inference["maxTokens"]),
                )
                if needs_output_check(answered, guardrail=self._guardrail_attached):
                    # as the API does: Converse's guardrail does not evaluate a forced tool's input (a failed
                    # check is the API's 502, below)
                    check = self._model.check_answer(answered.reply.text)
                    bill.guardrail_checked(check.units)
                    answered = checked_answer(answered, check, spec.output)
            except ModelThrottled as exc:
                if attempt == self._backoff.max_retries:
                    return Answer(
                        ok=False,
                        cost_usd=bill.cost_usd,
                        error_code=exc.code,
                        error_message=exc.message,
                        attempts=attempt + 1,
                    )
                self._backoff.wait(attempt)
                continue
            except ServiceError as exc:
                return Answer(
                    ok=False,
                    cost_usd=bill.cost_usd,
                    error_code=exc.code,
                    error_message=exc.message,
                    attempts=attempt + 1,
                )
            latency = (time.perf_counter() - started) * 1000
            if answered.reply.guardrail == "blocked":  # what the API answers with 422 GuardrailIntervened
                return Answer(
                    ok=False,
                    latency_ms=latency,
                    cost_usd=bill.cost_usd,
                    model_id=model_id,
                    error_code=GuardrailIntervened.code,
                    error_message=answered.reply.text.strip(),
                    attempts=attempt + 1,
                )
            return Answer(
                ok=True,
                output=answered.reply.text,
                latency_ms=latency,
                cost_usd=bill.cost_usd,
                input_tokens=sum(r.input_tokens for r in bill.replies),
                output_tokens=sum(r.output_tokens for r in bill.replies),
                model_id=model_id,
                prompt_version=None,
                attempts=attempt + 1,
            )
        raise AssertionError("unreachable")  # pragma: no cover
