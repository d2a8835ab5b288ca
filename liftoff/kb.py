"""`liftoff kb sync` and `liftoff kb status`: the knowledge base of a retrieval use case (`knowledge:`).

`sync` starts an ingestion job on the stack's data source (bedrock-agent StartIngestionJob) and follows it
(GetIngestionJob) until it is COMPLETE, FAILED or STOPPED, printing its statistics as they change; then it
lists the documents that did not index, with the reason (ListKnowledgeBaseDocuments) and the job's own
failure reasons. `status` shows the knowledge base, its data source, the latest ingestion jobs and the
failed documents. The IDs come from the stack's outputs (`KnowledgeBaseId`, `DataSourceId`).

Idempotency: a sync that finds a job running follows it instead of starting another, and the clientToken
of StartIngestionJob is derived from the knowledge base, the data source and the newest job before this
sync, so a start retried (by this command after a throttle or a lost connection, or by running it again
before any job started) is the same request to Bedrock, which starts one job for it.

`--local` works on local mode's stand-in (liftoff/local/knowledge_base.py: lexical BM25, not semantic).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click

from liftoff.console import plural
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import UseCase
from liftoff.options import use_case_option

KNOWLEDGE_BASE_OUTPUT = "KnowledgeBaseId"
DATA_SOURCE_OUTPUT = "DataSourceId"
DATA_SOURCE_IDS_OUTPUT = "DataSourceIds"  # every data source, comma-separated (DataSourceId: the first)
DOCUMENTS_BUCKET_OUTPUT = "DocumentsBucket"

FINISHED = ("COMPLETE", "FAILED", "STOPPED")  # IngestionJobStatus values after which nothing changes
ACTIVE = ("STARTING", "IN_PROGRESS", "STOPPING")
# DocumentStatus values of a document that is not (wholly) searchable; statusReason says why
FAILED_DOCUMENT_STATUSES = ("FAILED", "METADATA_UPDATE_FAILED", "PARTIALLY_INDEXED", "METADATA_PARTIALLY_INDEXED")
# errors after which the same StartIngestionJob request is sent again (same clientToken)
RETRYABLE_CODES = ("ThrottlingException", "InternalServerException", "ServiceUnavailableException")
START_ATTEMPTS = 3
POLL_INTERVAL_S = 5.0
WAIT_TIMEOUT_S = 3600.0
STATUS_JOBS = 5
# IngestionJobStatistics, in the order they are shown
STATISTICS = (
    ("numberOfDocumentsScanned", "scanned"),
    ("numberOfNewDocumentsIndexed", "new"),
    ("numberOfModifiedDocumentsIndexed", "modified"),
    ("numberOfDocumentsDeleted", "deleted"),
    ("numberOfDocumentsFailed", "failed"),
    ("numberOfDocumentsSkipped", "skipped"),
    ("numberOfMetadataDocumentsScanned", "metadata scanned"),
    ("numberOfMetadataDocumentsModified", "metadata modified"),
)


@dataclass(frozen=True)
class KnowledgeBaseRef:
    """The deployed knowledge base of a use case in a stage, as its stack's outputs name it."""

    use_case: str
    stage: str
    knowledge_base_id: str
    data_source_id: str
    documents_bucket: str | None = None


@dataclass(frozen=True)
class FailedDocument:
    uri: str
    status: str
    reason: str


def require_knowledge(use_case: UseCase) -> None:
    """A CLI error for a use case without `knowledge:`, naming the file and what to do."""
    if use_case.config.knowledge is None:
        raise click.ClickException(
            f"use case {use_case.name} has no knowledge base: usecases/{use_case.name}.yaml has no `knowledge:` "
            "section. Add one (docs/grounded-answers.md), or scaffold a retrieval use case: "
            "liftoff new-use-case NAME --retrieval"
        )


def refs_from_outputs(use_case: str, stage: str, outputs: dict[str, str]) -> list[KnowledgeBaseRef]:
    """One ref per data source of the stack (`DataSourceIds`: the repository's folder and an existing bucket
    are a data source each; `DataSourceId` alone on a stack that names one)."""
    from liftoff.foundation.names import stack_name

    listed = outputs.get(DATA_SOURCE_IDS_OUTPUT) or outputs.get(DATA_SOURCE_OUTPUT) or ""
    data_sources = [d.strip() for d in listed.split(",") if d.strip()]
    if KNOWLEDGE_BASE_OUTPUT not in outputs or not data_sources:
        raise click.ClickException(
            f"stack {stack_name(use_case, stage)} has no {KNOWLEDGE_BASE_OUTPUT} and {DATA_SOURCE_OUTPUT} outputs: it "
            f"was deployed before usecases/{use_case}.yaml had `knowledge:`: deploy it again "
            f"(npx cdk deploy -c stage={stage} -c use_case={use_case})"
        )
    bucket = outputs.get(DOCUMENTS_BUCKET_OUTPUT)
    return [KnowledgeBaseRef(use_case, stage, outputs[KNOWLEDGE_BASE_OUTPUT], d, bucket) for d in data_sources]


def knowledge_base_refs(use_case: UseCase, stage: str, cloudformation: Any = None) -> list[KnowledgeBaseRef]:
    """The knowledge base and data sources of `use_case`'s stack in `stage`, from the stack's outputs."""
    from liftoff.deployed import stack_outputs

    require_knowledge(use_case)
    outputs = stack_outputs(
        use_case.name,
        stage,
        required=KNOWLEDGE_BASE_OUTPUT,
        missing=f"it was deployed before usecases/{use_case.name}.yaml had `knowledge:`: deploy it again "
        f"(npx cdk deploy -c stage={stage} -c use_case={use_case.name})",
        client=cloudformation,
    )
    return refs_from_outputs(use_case.name, stage, outputs)


class KnowledgeBaseError(click.ClickException):
    """A bedrock-agent call that failed, said as what to do about it."""


def aws_error(exc: Exception, ref: KnowledgeBaseRef, action: str, region: str | None) -> KnowledgeBaseError:
    """What to tell a person when bedrock-agent `action` (the IAM action's name) fails on `ref`."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    where = f"knowledge base {ref.knowledge_base_id} (data source {ref.data_source_id}, stack of {ref.use_case} {ref.stage})"
    if isinstance(exc, EndpointConnectionError):
        return KnowledgeBaseError(f"cannot reach Amazon Bedrock in {region}: {exc}. Check the network and the Region")
    if not isinstance(exc, ClientError):
        return KnowledgeBaseError(f"bedrock:{action} on {where} failed: {exc}")
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
        return KnowledgeBaseError(
            f"not allowed to call bedrock:{action} on {where}: your AWS identity needs bedrock:{action} on "
            f"arn:aws:bedrock:{region}:<account>:knowledge-base/{ref.knowledge_base_id} ({message})"
        )
    if code == "ResourceNotFoundException":
        return KnowledgeBaseError(
            f"{where} does not exist in {region} ({message}): the stack's outputs name it, so it was deleted "
            f"outside the stack or the stack is in another Region; deploy again "
            f"(npx cdk deploy -c stage={ref.stage} -c use_case={ref.use_case})"
        )
    if code in RETRYABLE_CODES:
        return KnowledgeBaseError(f"bedrock:{action} on {where}: {code} ({message}); try again in a minute")
    return KnowledgeBaseError(f"bedrock:{action} on {where} failed: {code}: {message}")


def client_token(ref: KnowledgeBaseRef, newest_job_id: str | None) -> str:
    """StartIngestionJob's clientToken (33-256 of a-z, 0-9 and '-'): the same for the same knowledge base, data
    source and newest job before the start, so a retried start is one job."""
    seed = f"{ref.knowledge_base_id}/{ref.data_source_id}/{newest_job_id or 'first'}"
    return "liftoff-sync-" + hashlib.sha256(seed.encode()).hexdigest()[:40]


class KnowledgeBase:
    """The bedrock-agent calls on one deployed knowledge base and data source."""

    def __init__(self, ref: KnowledgeBaseRef, agent: Any):
        self.ref, self.agent = ref, agent
        self._ids = {"knowledgeBaseId": ref.knowledge_base_id, "dataSourceId": ref.data_source_id}

    def _call(self, action: str, method: str, **params: Any) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.agent, method)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise aws_error(exc, self.ref, action, self.agent.meta.region_name) from exc

    def knowledge_base(self) -> dict:
        return self._call("GetKnowledgeBase", "get_knowledge_base", knowledgeBaseId=self.ref.knowledge_base_id)[
            "knowledgeBase"
        ]

    def data_source(self) -> dict:
        return self._call("GetDataSource", "get_data_source", **self._ids)["dataSource"]

    def recent_jobs(self, count: int) -> list[dict]:
        """The `count` newest ingestion jobs, newest first."""
        answer = self._call(
            "ListIngestionJobs",
            "list_ingestion_jobs",
            **self._ids,
            sortBy={"attribute": "STARTED_AT", "order": "DESCENDING"},
            maxResults=count,
        )
        return answer["ingestionJobSummaries"]

    def job(self, job_id: str) -> dict:
        return self._call("GetIngestionJob", "get_ingestion_job", **self._ids, ingestionJobId=job_id)["ingestionJob"]

    def start(self, token: str, *, attempts: int = START_ATTEMPTS, pause: Callable[[float], None] = time.sleep) -> dict:
        """StartIngestionJob with `token`; a throttle or a lost connection sends the same request again."""
        from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

        for attempt in range(1, attempts + 1):
            try:
                return self.agent.start_ingestion_job(**self._ids, clientToken=token, description="liftoff kb sync")[
                    "ingestionJob"
                ]
            except (ClientError, EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as exc:
                code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else "connection"
                if code not in (*RETRYABLE_CODES, "connection") or attempt == attempts:
                    raise aws_error(exc, self.ref, "StartIngestionJob", self.agent.meta.region_name) from exc
                pause(2.0**attempt)
        raise AssertionError("unreachable")

    def failed_documents(self) -> list[FailedDocument]:
        """Every document of the data source that is not (wholly) indexed, with the reason (all pages)."""
        from botocore.exceptions import BotoCoreError, ClientError

        found = []
        try:
            pages = self.agent.get_paginator("list_knowledge_base_documents").paginate(**self._ids)
            for page in pages:
                for document in page["documentDetails"]:
                    if document["status"] in FAILED_DOCUMENT_STATUSES:
                        found.append(
                            FailedDocument(
                                _document_name(document["identifier"]),
                                document["status"],
                                document.get("statusReason") or "no reason given",
                            )
                        )
        except (ClientError, BotoCoreError) as exc:
            raise aws_error(exc, self.ref, "ListKnowledgeBaseDocuments", self.agent.meta.region_name) from exc
        return found


def _document_name(identifier: dict) -> str:
    if identifier.get("s3"):
        return identifier["s3"]["uri"]
    return identifier.get("custom", {}).get("id", "?")


def describe_statistics(statistics: dict | None) -> str:
    """`scanned 12, new 10, modified 0, deleted 0, failed 2, skipped 0` (the counters the job reports)."""
    statistics = statistics or {}
    shown = [f"{label} {statistics[key]}" for key, label in STATISTICS if key in statistics]
    return ", ".join(shown) or "no statistics yet"


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if isinstance(value, datetime) else str(value or "-")


def follow(
    kb: KnowledgeBase,
    job: dict,
    echo: Callable[[str], None],
    *,
    pause: Callable[[float], None] = time.sleep,
    interval_s: float = POLL_INTERVAL_S,
    timeout_s: float = WAIT_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Poll the job until it finishes, printing a line each time its status or statistics change."""
    deadline = clock() + timeout_s
    shown = None
    while True:
        line = f"  {job['status']:<11} {describe_statistics(job.get('statistics'))}"
        if line != shown:
            echo(line)
            shown = line
        if job["status"] in FINISHED:
            return job
        if clock() >= deadline:
            raise click.ClickException(
                f"ingestion job {job['ingestionJobId']} is still {job['status']} after {timeout_s:.0f} s: it goes on "
                f"running; follow it with `liftoff kb status --use-case {kb.ref.use_case} --stage {kb.ref.stage}`"
            )
        pause(interval_s)
        job = kb.job(job["ingestionJobId"])


def sync(
    kb: KnowledgeBase,
    echo: Callable[[str], None],
    *,
    wait: bool = True,
    pause: Callable[[float], None] = time.sleep,
    **follow_options: Any,
) -> int:
    """`liftoff kb sync` on a deployed knowledge base; the exit code (1 when the job failed or was stopped)."""
    from botocore.exceptions import ClientError

    recent = kb.recent_jobs(1)
    running = recent[0] if recent and recent[0]["status"] in ACTIVE else None
    if running:
        echo(
            f"ingestion job {running['ingestionJobId']} is already {running['status']}: following it (not starting another)"
        )
        job = kb.job(running["ingestionJobId"])
    else:
        token = client_token(kb.ref, recent[0]["ingestionJobId"] if recent else None)
        try:
            job = kb.start(token, pause=pause)
        except click.ClickException as exc:
            cause = exc.__cause__
            if not (
                isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") == "ConflictException"
            ):
                raise
            # a job started between our look and our start (another sync, or the deploy's ingestion): follow it
            running = next((j for j in kb.recent_jobs(1) if j["status"] in ACTIVE), None)
            if running is None:
                raise
            echo(f"ingestion job {running['ingestionJobId']} started meanwhile: following it")
            job = kb.job(running["ingestionJobId"])
        else:
            echo(f"started ingestion job {job['ingestionJobId']} on knowledge base {kb.ref.knowledge_base_id}")
    if not wait:
        echo(f"not waiting: follow it with `liftoff kb status --use-case {kb.ref.use_case} --stage {kb.ref.stage}`")
        return 0
    job = follow(kb, job, echo, pause=pause, **follow_options)
    for line in report_job(job):
        echo(line)
    failed = kb.failed_documents()
    for line in report_failed_documents(failed):
        echo(line)
    if job["status"] != "COMPLETE":
        echo(f"ingestion {job['status']}: read the reasons above, fix them, then run `liftoff kb sync` again")
        return 1
    if failed:
        echo(f"ingestion COMPLETE, but {plural(len(failed), 'document')} did not index: fix them and sync again")
    else:
        echo("ingestion COMPLETE: every document is indexed")
    return 0


def report_job(job: dict) -> list[str]:
    lines = [
        f"job {job['ingestionJobId']}: {job['status']} (started {_when(job.get('startedAt'))}, "
        f"updated {_when(job.get('updatedAt'))})",
        f"  documents: {describe_statistics(job.get('statistics'))}",
    ]
    lines += [f"  reason: {reason}" for reason in job.get("failureReasons") or []]
    return lines


def report_failed_documents(failed: list[FailedDocument]) -> list[str]:
    if not failed:
        return ["failed documents: none"]
    lines = [f"failed documents ({len(failed)}):"]
    lines += [f"  {d.status:<16} {d.uri}: {d.reason}" for d in failed]
    return lines


def status(kbs: list[KnowledgeBase], echo: Callable[[str], None], *, jobs: int = STATUS_JOBS) -> int:
    """`liftoff kb status` on a deployed knowledge base and each of its data sources; exit 1 when it is not
    ACTIVE or a data source's latest job failed."""
    base = kbs[0].knowledge_base()
    storage = (base.get("storageConfiguration") or {}).get("type", "?")
    embedding = ((base.get("knowledgeBaseConfiguration") or {}).get("vectorKnowledgeBaseConfiguration") or {}).get(
        "embeddingModelArn", "?"
    )
    echo(f"knowledge base {base['knowledgeBaseId']} ({base['name']}): {base['status']}, storage {storage}")
    echo(f"  embedding model: {embedding}")
    echo(f"  updated {_when(base.get('updatedAt'))}")
    for reason in base.get("failureReasons") or []:
        echo(f"  reason: {reason}")
    healthy = base["status"] == "ACTIVE"
    for kb in kbs:
        healthy &= _data_source_status(kb, echo, jobs)
    return 0 if healthy else 1


def _data_source_status(kb: KnowledgeBase, echo: Callable[[str], None], jobs: int) -> bool:
    """One data source: its settings, latest jobs and failed documents; False when its latest job failed."""
    source = kb.data_source()
    chunking = ((source.get("vectorIngestionConfiguration") or {}).get("chunkingConfiguration") or {}).get(
        "chunkingStrategy"
    ) or "default"
    bucket = ((source.get("dataSourceConfiguration") or {}).get("s3Configuration") or {}).get("bucketArn", "?")
    echo(f"data source {source['dataSourceId']} ({source['name']}): {source['status']}, {bucket}, chunking {chunking}")
    recent = kb.recent_jobs(jobs)
    if not recent:
        echo(
            f"ingestion jobs: none yet: start one with `liftoff kb sync --use-case {kb.ref.use_case} --stage {kb.ref.stage}`"
        )
    else:
        echo(f"ingestion jobs (newest first, {len(recent)} shown):")
        for job in recent:
            echo(
                f"  {job['ingestionJobId']}  {job['status']:<11} started {_when(job.get('startedAt'))}  "
                f"{describe_statistics(job.get('statistics'))}"
            )
    for line in report_failed_documents(kb.failed_documents()):
        echo(line)
    return not recent or recent[0]["status"] not in ("FAILED", "STOPPED")


# --- local mode -------------------------------------------------------------------------------------


def local_report(index: Any) -> list[str]:
    """What the local stand-in indexed (its IndexStatus), failed documents last."""
    lines = [
        f"local knowledge base {index.knowledge_base_id} ({index.label}): {plural(index.documents, 'document')} "
        f"from {index.documents_path}, {plural(index.chunks, 'chunk')} ({index.strategy}), built in "
        f"{index.build_ms:.0f} ms"
    ]
    lines += report_failed_documents([FailedDocument(doc, "FAILED", reason) for doc, reason in index.failed])
    return lines


def local_sync(use_case: UseCase, echo: Callable[[str], None]) -> int:
    require_knowledge(use_case)
    from liftoff.local import knowledge_base

    index = knowledge_base.sync(use_case)
    for line in local_report(index):
        echo(line)
    return 1 if index.failed else 0


def local_status(use_case: UseCase, echo: Callable[[str], None]) -> int:
    require_knowledge(use_case)
    from liftoff.local import knowledge_base

    index = knowledge_base.status(use_case)
    for line in local_report(index):
        echo(line)
    return 1 if index.failed else 0


# --- the commands -----------------------------------------------------------------------------------


def _pick_use_case(name: str | None) -> UseCase:
    """The named use case; else the project's default (LIFTOFF_USE_CASE, cdk.json) when it has `knowledge:`;
    else the project's only one with `knowledge:`."""
    from liftoff.foundation.usecases import (
        USE_CASE_ENV,
        UseCaseNotChosen,
        choose_use_case,
        load_all_use_cases,
        load_use_case,
    )

    try:
        if name:
            return load_use_case(name)
        try:  # the project's chosen default (LIFTOFF_USE_CASE, cdk.json), when it is a retrieval use case
            chosen = choose_use_case(None)
        except UseCaseNotChosen:
            chosen = None
        if chosen and chosen.how in (USE_CASE_ENV, "cdk.json"):
            default = load_use_case(chosen.name)
            if default.config.knowledge is not None:
                return default
        with_knowledge = [u for u in load_all_use_cases() if u.config.knowledge is not None]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if len(with_knowledge) == 1:
        return with_knowledge[0]
    if not with_knowledge:
        raise click.UsageError(
            "no use case of this project has a `knowledge:` section: add one, or scaffold one with "
            "liftoff new-use-case NAME --retrieval"
        )
    raise click.UsageError(
        f"several use cases have a knowledge base ({', '.join(u.name for u in with_knowledge)}): pass --use-case"
    )


def _deployed(use_case: UseCase, stage: str) -> list[KnowledgeBase]:
    """The deployed knowledge base, once per data source."""
    import boto3

    session = boto3.Session()
    agent = session.client("bedrock-agent")
    return [KnowledgeBase(ref, agent) for ref in knowledge_base_refs(use_case, stage, session.client("cloudformation"))]


def _target(stage: str | None, local_mode: bool) -> None:
    if bool(stage) == local_mode:
        raise click.UsageError("give either --stage sandbox|prod (a deployed stack) or --local")


_use_case_option = use_case_option(kind="knowledge")
_stage_option = click.option(
    "--stage", type=click.Choice(["sandbox", "prod"]), default=None, help="The deployed stage."
)
_local_option = click.option(
    "--local", "local_mode", is_flag=True, help="Local mode's stand-in instead (lexical BM25, not semantic)."
)


@click.group(help="The knowledge base of a retrieval use case: ingest its documents, see what is indexed.")
def kb() -> None:
    pass


@kb.command(
    "sync",
    help="Start an ingestion job (documents -> chunks -> embeddings -> vector index) on each data source and follow it "
    "until it is COMPLETE, FAILED or STOPPED, then list the documents that failed, with the reason. A job already running is "
    "followed, not doubled. Exit 1 when the job fails. --local re-indexes local mode's stand-in.",
)
@_use_case_option
@_stage_option
@_local_option
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the job until it finishes.")
@click.option(
    "--timeout", type=click.FloatRange(1), default=WAIT_TIMEOUT_S, show_default=True, help="Seconds to follow it."
)
def sync_command(use_case: str | None, stage: str | None, local_mode: bool, wait: bool, timeout: float) -> None:
    import sys

    _target(stage, local_mode)
    chosen = _pick_use_case(use_case)
    if local_mode:
        sys.exit(local_sync(chosen, click.echo))
    require_knowledge(chosen)
    click.echo(f"reading stack outputs of {chosen.name} ({stage}) ...", err=True)
    kbs = _deployed(chosen, stage)
    code = 0
    for kb_ in kbs:
        if len(kbs) > 1:
            click.echo(f"data source {kb_.ref.data_source_id} ({kbs.index(kb_) + 1} of {len(kbs)}):")
        code |= sync(kb_, click.echo, wait=wait, timeout_s=timeout)
    sys.exit(code)


@kb.command(
    "status",
    help="Show the knowledge base, its data sources, their latest ingestion jobs and the documents that failed. "
    "Exit 1 when the knowledge base is not ACTIVE or the latest job failed.",
)
@_use_case_option
@_stage_option
@_local_option
@click.option("--jobs", type=click.IntRange(1, 50), default=STATUS_JOBS, show_default=True, help="Jobs to list.")
def status_command(use_case: str | None, stage: str | None, local_mode: bool, jobs: int) -> None:
    import sys

    _target(stage, local_mode)
    chosen = _pick_use_case(use_case)
    if local_mode:
        sys.exit(local_status(chosen, click.echo))
    require_knowledge(chosen)
    sys.exit(status(_deployed(chosen, stage), click.echo, jobs=jobs))
