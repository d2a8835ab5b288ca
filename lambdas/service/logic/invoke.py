"""One invoke: resolve the prompt, render it, call the model, describe what happened."""

from __future__ import annotations

import time
from dataclasses import dataclass

from service.dal.model_client import ModelClient
from service.logic.cost import call_cost_usd
from service.logic.prompt_resolver import PromptResolver
from service.logic.render import render_prompt
from service.models.errors import Misconfigured
from service.models.invoke import InvokeRequest, InvokeResponse, Usage
from service.settings import Settings


@dataclass(frozen=True)
class InvokeDeps:
    settings: Settings
    resolver: PromptResolver
    model: ModelClient


def invoke(request: InvokeRequest, *, request_id: str, deps: InvokeDeps) -> InvokeResponse:
    """Run `request` and return the model's answer with usage and provenance."""
    started = time.perf_counter()
    prompt = deps.resolver.resolve(
        request.prompt_id,
        alias=request.alias or deps.settings.default_alias,
        version=request.version,
        request_id=request_id,
    )
    model_id = prompt.spec.model_id
    if model_id not in deps.settings.allowed_model_ids:
        raise Misconfigured(
            f"prompt {prompt.prompt_id} v{prompt.version} uses model {model_id}, which this deployment may not "
            f"call; add it to `models.allowed` in the use-case config and redeploy"
        )
    price = deps.settings.model_prices.get(model_id)
    if price is None:
        raise Misconfigured(f"no price for model {model_id}: add it to pricing/bedrock.yaml and redeploy")
    rendered = render_prompt(prompt.spec, request.variables)
    reply = deps.model.converse(
        model_id=model_id,
        user_text=rendered.user_text,
        system=rendered.system,
        inference=prompt.spec.inference.to_converse(),
    )
    return InvokeResponse(
        output=reply.text,
        stop_reason=reply.stop_reason,
        usage=Usage(
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            total_tokens=reply.input_tokens + reply.output_tokens,
        ),
        model_id=model_id,
        prompt_id=prompt.prompt_id,
        prompt_version=prompt.version,
        request_id=request_id,
        cost_usd=call_cost_usd(
            price,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            cache_read_tokens=reply.cache_read_tokens,
            cache_write_tokens=reply.cache_write_tokens,
        ),
        latency_ms=round((time.perf_counter() - started) * 1000),
        model_latency_ms=reply.latency_ms,
    )
