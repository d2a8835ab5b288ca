"""The API's OpenAPI 3.0 document, built from the same models the gateway and the handler use
(`openapi.yaml` is this, written out; a test keeps the two equal). The local API serves it at
/openapi.json; `make fuzz` and the bounded fuzz test in `make test` run schemathesis against it."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from liftoff import REPO_ROOT
from service.models.feedback import FEEDBACK_REQUEST_SCHEMA, FeedbackResponse
from service.models.invoke import InvokeResponse, invoke_request_schema

OPENAPI_FILE = REPO_ROOT / "openapi.yaml"
ERROR_STATUSES = {
    "400": "The body fails the schema (BadRequestBody, ValidationError) or a variable check, or the model refused "
    "the input itself, e.g. too long for it (ModelRejectedInput; no fallback is tried)",
    "403": "No or wrong API key (INVALID_API_KEY)",
    "404": "Unknown prompt, alias or version (PromptNotFound), or no such route",
    "413": "Body over api.max_body_bytes (PayloadTooLarge)",
    "409": "A request with the same Idempotency-Key is still running (IdempotencyConflict)",
    "415": "Content-Type other than application/json (UnsupportedMediaType)",
    "422": "The guardrail blocked the request or the answer (GuardrailIntervened), the model's own filter withheld "
    "its answer (ModelContentFiltered), or an Idempotency-Key was reused with another body (IdempotencyKeyReused); "
    "a blocked or filtered request is billed",
    "429": "Bedrock throttled after retries (ModelThrottled), the knowledge base throttled (RetrievalThrottled; "
    "nothing billed for the model), or the daily spend cap is reached (SpendCapHit)",
    "500": "Misconfigured deployment, e.g. no access to the model (Misconfigured), or unexpected error (the "
    "message says which; never a stack trace)",
    "502": "The model failed (ModelError), or its answer broke the prompt's output schema after the repairs "
    "(ModelOutputInvalid: the message names the path and the rule, never the answer; billed), or it was cut off "
    "at the prompt's max_tokens (ModelOutputTruncated; billed, not repaired), or the knowledge base of a prompt "
    "with retrieval is missing, denied or refused the query (RetrievalFailed); with retrieval, an answer citing a "
    "passage that was not retrieved is a ModelOutputInvalid",
    "503": "The prompt registry is unavailable and no cached copy exists (PromptRegistryUnavailable), or the "
    "Idempotency-Key's record cannot be written before the call (IdempotencyUnavailable; nothing ran or was billed)",
    "504": "The model did not answer in time (ModelTimeout), or a further model attempt (a repair turn, the guardrail's "
    "check of a tool answer) could outlast the function's timeout and was not sent (RequestOutOfTime); the calls "
    "made and the timed-out attempts are charged",
}


def _openapi_schema(draft4: dict) -> dict:
    """The request's draft-04 schema in OpenAPI 3.0's dialect (no $schema; everything else carries over)."""
    schema = copy.deepcopy(draft4)
    schema.pop("$schema", None)
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop.get("type"), list):  # draft-04 type lists are oneOf in OpenAPI 3.0
            prop["oneOf"] = [{"type": kind} for kind in prop.pop("type")]
    return schema


def _invoke_request() -> dict:
    """InvokeRequest for every use case: a variable's cap is the use case's body limit, so it is said, not set."""
    schema = _openapi_schema(invoke_request_schema(None))
    schema["properties"]["variables"]["additionalProperties"]["description"] = (
        "A value of one of the prompt's variables: at most the prompt variable's max_length characters "
        "(VariableTooLong), in a body of at most api.max_body_bytes (PayloadTooLarge)"
    )
    return schema


FEEDBACK_STATUSES = {
    "400": "The body fails the schema (ValidationError) or nests more than 16 levels deep (BadRequestBody)",
    "403": "No or wrong API key (INVALID_API_KEY)",
    "404": "No answer has this feedback_token: unknown, altered, expired or another caller's (RequestNotFound), "
    "or no such route",
    "413": "Body over 32 KB (PayloadTooLarge)",
    "415": "Content-Type other than application/json (UnsupportedMediaType)",
    "429": "Throttled by the usage plan, like invoke",
    "500": "Unexpected error (never a stack trace)",
    "503": "The feedback key or the capture table is unavailable (FeedbackUnavailable): retry later",
}


def _response_schema(model=InvokeResponse) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    for definition in (schema, *defs.values()):
        for prop in definition.get("properties", {}).values():
            prop.pop("title", None)
            if "anyOf" in prop:  # Optional[...] in 3.0: nullable
                options = [o for o in prop.pop("anyOf") if o.get("type") != "null"]
                prop.update(options[0])
                prop["nullable"] = True
                prop.pop("default", None)
        definition.pop("title", None)
    return {model.__name__: schema, **defs}


def _responses(ok: str, model: str, statuses: dict[str, str]) -> dict:
    return {
        "200": {
            "description": ok,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        },
        **{
            status: {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            for status, text in statuses.items()
        },
    }


def build() -> dict:
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "request_id": {"type": "string"},
                },
            }
        },
    }
    responses = _responses("The model's answer with usage, cost and provenance", "InvokeResponse", ERROR_STATUSES)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Liftoff use-case API",
            "version": "1",
            "description": "Run a registered prompt on Amazon Bedrock. Generated by liftoff/openapi.py.",
        },
        "paths": {
            "/v1/invoke": {
                "post": {
                    "operationId": "invoke",
                    "summary": "Run a prompt (by alias or version) with its variables",
                    "security": [{"apiKey": []}],
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "Retry-safe key: a retry with the same key and body gets the first "
                            "answer again, without a second model call or charge",
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{8,128}$"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InvokeRequest"}}},
                    },
                    "responses": responses,
                }
            },
            "/v1/feedback": {
                "post": {
                    "operationId": "feedback",
                    "summary": "Rate an answer (good or bad), optionally with the answer it should have been",
                    "security": [{"apiKey": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FeedbackRequest"}}},
                    },
                    "responses": _responses(
                        "The rating is stored (a second rating of the same answer replaces the first, and is "
                        "counted only when it changes the rating)",
                        "FeedbackResponse",
                        FEEDBACK_STATUSES,
                    ),
                }
            },
        },
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": {
                "InvokeRequest": _invoke_request(),
                **_response_schema(),
                "FeedbackRequest": _openapi_schema(FEEDBACK_REQUEST_SCHEMA),
                **_response_schema(FeedbackResponse),
                "Error": error,
            },
        },
    }


def render() -> str:
    return "# Generated by liftoff/openapi.py (python -m liftoff.openapi); do not edit by hand.\n" + yaml.safe_dump(
        build(), sort_keys=False, width=110
    )


def write(path: Path = OPENAPI_FILE) -> Path:
    path.write_text(render(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
