"""Amazon Bedrock Knowledge Bases (`bedrock-agent-runtime` Retrieve): the only module that queries the
knowledge base. Maps its errors onto the service's error hierarchy, as the model client does for Converse.

The client is any object with `retrieve(**request)` answering botocore's Retrieve shape: boto3's client in
a deployment (timeouts and retries from its Config, built in service/handlers/invoke.py), pointed by
`AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME` at local mode's stand-in, or an in-memory fake in tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from service.dal.attempts import TimedOutAttempts
from service.dal.deadline import keep_within_deadline
from service.models.errors import RequestOutOfTime, RetrievalFailed, RetrievalThrottled, ServiceError, with_detail

_THROTTLED = {"ThrottlingException", "ServiceQuotaExceededException"}
# Retrieve's own limit on the query's text (botocore: KnowledgeBaseQueryTextString max 20000)
MAX_QUERY_CHARS = 20_000


@dataclass(frozen=True)
class RetrievedChunk:
    """One `retrievalResults[]` item: its text, where it came from, its score and its document's metadata."""

    text: str
    source_uri: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Retrieved:
    chunks: list[RetrievedChunk]
    latency_ms: int
    # attempts that timed out before this answer: each may have embedded the query and queried the index (billed)
    abandoned_attempts: int = 0


def _chunk(result: dict) -> RetrievedChunk:
    location = result.get("location") or {}
    uri = (location.get("s3Location") or {}).get("uri", "")
    return RetrievedChunk(
        text=(result.get("content") or {}).get("text", ""),
        source_uri=uri,
        score=float(result.get("score") or 0.0),
        metadata=dict(result.get("metadata") or {}),
    )


class KnowledgeClient:
    """Retrieve on one knowledge base, returning its chunks in rank order."""

    def __init__(self, client: Any):
        self._client = client
        self._timed_out = TimedOutAttempts(client, "bedrock-agent-runtime.Retrieve")
        keep_within_deadline(client)

    def retrieve(self, *, knowledge_base_id: str, query: str, top_k: int) -> Retrieved:
        """The `top_k` best chunks for `query` (RetrievalThrottled, RetrievalFailed)."""
        self._timed_out.reset()
        started = time.perf_counter()
        try:
            response = self._client.retrieve(
                knowledgeBaseId=knowledge_base_id,
                retrievalQuery={"text": query},
                retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": top_k}},
            )
        except (ClientError, BotoCoreError) as exc:
            error = _map_error(exc)
            error.abandoned_attempts = self._timed_out.count
            raise error from exc
        except RequestOutOfTime as exc:
            exc.abandoned_attempts = self._timed_out.count
            raise
        return Retrieved(
            chunks=[_chunk(r) for r in response.get("retrievalResults", [])],
            latency_ms=round((time.perf_counter() - started) * 1000),
            abandoned_attempts=self._timed_out.count,
        )


def _map_error(exc: Exception) -> ServiceError:
    """Retrieve's errors onto the service's: throttling is the caller's to retry (429); a missing or denied
    knowledge base, a refused request and the service's own failures are 502s. The caller sees the code and
    what to do; AWS's own text (account ids, ARNs) is the error's `detail`, for the log."""
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return with_detail(RetrievalFailed("the knowledge base did not answer in time; retry later"), str(exc))
    if not isinstance(exc, ClientError):
        return with_detail(RetrievalFailed("the knowledge base is unreachable; retry later"), str(exc))
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    detail = exc.response.get("Error", {}).get("Message", "")
    if code in _THROTTLED:
        error: ServiceError = RetrievalThrottled("the knowledge base is throttling requests; retry with backoff")
    elif code in ("ResourceNotFoundException", "AccessDeniedException"):
        error = RetrievalFailed(
            f"this deployment cannot query its knowledge base ({code}); check that the knowledge base exists "
            "and the function may call bedrock:Retrieve on it (`liftoff kb status`), or redeploy"
        )
    elif code == "ValidationException":
        error = RetrievalFailed("the knowledge base refused the query (ValidationException)")
    else:
        error = RetrievalFailed(f"the knowledge base failed ({code}); retry later")
    return with_detail(error, f"{code}: {detail}")
