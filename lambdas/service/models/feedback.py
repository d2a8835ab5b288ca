"""Request and response of POST /v1/feedback: a caller's verdict on one answer.

The request names the answer by the `feedback_token` that came with it (logic/feedback_token.py): a
signed reference to the request, so a rating for a request that never happened is refused without a
lookup, and invoke writes nothing to recognise it later. FEEDBACK_REQUEST_SCHEMA is what API Gateway
validates (draft-04); FeedbackRequest what the handler validates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_COMMENT_CHARS = 2000
MAX_CORRECTION_CHARS = 20_000
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{20,1024}\.[A-Za-z0-9_-]{43}$"  # noqa: S105 - a format, not a secret

FEEDBACK_REQUEST_SCHEMA: dict = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "FeedbackRequest",
    "type": "object",
    "required": ["feedback_token", "rating"],
    "additionalProperties": False,
    "properties": {
        "feedback_token": {"type": "string", "pattern": TOKEN_PATTERN},
        "rating": {"type": "string", "enum": ["good", "bad"]},
        "correction": {"type": ["object", "string"]},
        "comment": {"type": "string", "maxLength": MAX_COMMENT_CHARS},
    },
}


class FeedbackRequest(BaseModel):
    """Body of POST /v1/feedback."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feedback_token: str = Field(pattern=TOKEN_PATTERN)
    rating: Literal["good", "bad"]
    # the answer it should have been, in the prompt's output shape (an object for JSON prompts, else text)
    correction: dict[str, Any] | str | None = None
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


class FeedbackResponse(BaseModel):
    request_id: str
    rating: str
    rated_at: str
    # whether the request's text was kept (capture on and sampled); else the rating is stored alone
    captured: bool
