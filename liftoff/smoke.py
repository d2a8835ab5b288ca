"""`liftoff smoke`: does a deployed use case work? Run right after `cdk deploy` (deploy.yml does).

From the stack's outputs it sends one good request and one request of each class of bad input to
the API, checks that every prompt file has a `live` version in the registry, that the dashboard and
every alarm of the stack exist, that the good request's log line and EMF record arrive (bounded
wait), and that the spend counter moved by the request's cost. A retrieval use case (`knowledge:`)
adds: its knowledge base exists and is ACTIVE, its last ingestion is COMPLETE (failed documents: a
WARN with their count), and a clean, answerable eval question gets an answer citing at least one of
the use case's documents. The same checks run against local mode (`--local`; `make test` does), on
local mode's knowledge base stand-in; CloudWatch has no stand-in there and those checks say SKIP.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from liftoff.console import plural
from liftoff.doctor import Check
from liftoff.foundation.usecases import UseCase

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
LOG_WAIT_S = 90.0  # CloudWatch Logs usually shows a line within seconds; a minute and a half is generous
HTTP_TIMEOUT_S = 35.0


class SmokeTarget(Protocol):
    """Where the use case runs, and how to look at what it left behind."""

    name: str
    invoke_url: str
    api_key: str

    def live_versions(self, prompt_ids: Sequence[str]) -> dict[str, int | None]: ...

    def spend_today(self) -> tuple[float, int]: ...

    def log_records(self, since_ms: int) -> Iterator[dict]: ...

    def dashboard(self) -> Check | None: ...

    def alarms(self) -> Check | None: ...

    def knowledge_base(self, use_case: UseCase) -> list[Check]: ...


@dataclass(frozen=True)
class BadRequest:
    name: str
    status: int
    code: str
    body: str
    headers: dict[str, str]


def sample_request(use_case: UseCase) -> dict:
    """A good request: the first prompt with the first clean eval case's variables (or placeholders)."""
    from liftoff.foundation.errors import ConfigError
    from liftoff.foundation.eval_cases import load_cases

    prompt = use_case.prompts[0]
    try:
        cases = [
            c
            for c in load_cases(use_case.name, root=use_case.root)
            if c.prompt_id in (None, prompt.prompt_id) and not c.expect_error and "clean" in c.tags
        ]
    except (ConfigError, OSError):  # an eval set is not required to smoke-test; placeholders are enough
        cases = []
    variables = dict(cases[0].variables) if cases else {v.name: f"smoke test {v.name}" for v in prompt.variables}
    return {"prompt_id": prompt.prompt_id, "variables": variables}


def bad_requests(use_case: UseCase, good: dict, api_key: str) -> list[BadRequest]:
    """One request of each class of bad input, with the status and error code the API must answer."""
    json_headers = {"Content-Type": "application/json", "x-api-key": api_key}
    prompt = use_case.prompts[0]
    missing = {"prompt_id": good["prompt_id"], "variables": {}}
    # over the body limit, and valid for the gateway's model, which caps a variable at that limit: the
    # handler's own size check must answer it (one variable of exactly max_body_bytes characters)
    limit = use_case.config.api.max_body_bytes
    padded = next(iter(good["variables"]), "padding")
    too_big = {**good, "variables": {**good["variables"], padded: "x" * limit}}
    cases = [
        BadRequest("bad: not JSON", 400, "BadRequestBody", "{not json", json_headers),
        BadRequest("bad: unknown prompt", 404, "PromptNotFound", json.dumps({**good, "prompt_id": "no-such-prompt"}), json_headers),
        BadRequest("bad: wrong media type", 415, "UnsupportedMediaType", json.dumps(good), {**json_headers, "Content-Type": "text/plain"}),
        BadRequest("bad: body too large", 413, "PayloadTooLarge", json.dumps(too_big), json_headers),
        BadRequest("bad: no API key", 403, "", json.dumps(good), {"Content-Type": "application/json"}),
    ]  # fmt: skip
    if prompt.variables:
        cases.insert(1, BadRequest("bad: missing variable", 400, "MissingVariable", json.dumps(missing), json_headers))
    return cases


def _post(url: str, body: str, headers: dict[str, str]) -> tuple[int, Any]:
    response = requests.post(url, data=body.encode(), headers=headers, timeout=HTTP_TIMEOUT_S)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text[:200]


def check_good_request(target: SmokeTarget, good: dict, request_id: str) -> tuple[Check, dict | None]:
    headers = {"Content-Type": "application/json", "x-api-key": target.api_key, "x-request-id": request_id}
    try:
        status, body = _post(target.invoke_url, json.dumps(good), headers)
    except requests.RequestException as exc:
        return Check("good request", FAIL, f"no answer from {target.invoke_url}: {exc}", "is the stack deployed?"), None
    if status != 200 or not isinstance(body, dict) or "output" not in body:
        return Check("good request", FAIL, f"HTTP {status}: {str(body)[:200]}", "read the function's log"), None
    return (
        Check(
            "good request",
            PASS,
            f"200 from {body.get('model_id')} (prompt v{body.get('prompt_version')}), ${body.get('cost_usd')}, "
            f"{body.get('latency_ms')} ms",
        ),
        body,
    )


def check_bad_request(target: SmokeTarget, bad: BadRequest) -> Check:
    try:
        status, body = _post(target.invoke_url, bad.body, bad.headers)
    except requests.RequestException as exc:
        return Check(bad.name, FAIL, f"no answer: {exc}")
    code = (
        body.get("error", {}).get("code", "") if isinstance(body, dict) and isinstance(body.get("error"), dict) else ""
    )
    wanted = f"{bad.status} {bad.code}".strip()
    if status == bad.status and isinstance(body, dict) and (code == bad.code or not bad.code) and "error" in body:
        return Check(bad.name, PASS, f"{status} {code}".strip())
    return Check(bad.name, FAIL, f"got {status} {str(body)[:160]}; want {wanted} with a JSON error body")


def check_feedback(target: SmokeTarget, answer: dict) -> list[Check]:
    """The answer's feedback_token is accepted (rated good, marked as the smoke's), a forged one is a 404."""
    url = target.invoke_url.rsplit("/v1/invoke", 1)[0] + "/v1/feedback"
    headers = {"Content-Type": "application/json", "x-api-key": target.api_key}
    token = answer.get("feedback_token")
    if not token:
        return [Check("feedback", FAIL, "the answer carries no feedback_token", "the feedback key: read the log")]
    checks = []
    try:
        rating = {"feedback_token": token, "rating": "good", "comment": "liftoff smoke"}
        status, body = _post(url, json.dumps(rating), headers)
        ok = status == 200 and isinstance(body, dict) and body.get("request_id") == answer.get("request_id")
        checks.append(Check("feedback: rate the answer", PASS if ok else FAIL, f"HTTP {status}: {str(body)[:160]}"))
        forged = {"feedback_token": "x" * 40 + "." + "y" * 43, "rating": "bad"}
        status, body = _post(url, json.dumps(forged), headers)
        code = body.get("error", {}).get("code") if isinstance(body, dict) else None
        ok = (status, code) == (404, "RequestNotFound")
        checks.append(Check("feedback: forged token", PASS if ok else FAIL, f"{status} {code or str(body)[:120]}"))
    except requests.RequestException as exc:
        checks.append(Check("feedback", FAIL, f"no answer from {url}: {exc}"))
    return checks


def check_registry(target: SmokeTarget, use_case: UseCase) -> Check:
    ids = [p.prompt_id for p in use_case.prompts]
    try:
        live = target.live_versions(ids)
    except Exception as exc:
        return Check("prompt registry", FAIL, f"cannot read it: {exc}")
    missing = [pid for pid in ids if live.get(pid) is None]
    if missing:
        return Check(
            "prompt registry",
            FAIL,
            f"no live version of {', '.join(missing)}",
            "redeploy: PromptSync publishes prompts/",
        )
    return Check("prompt registry", PASS, ", ".join(f"{pid} live v{live[pid]}" for pid in ids))


def wait_for_record(
    target: SmokeTarget, since_ms: int, match: Callable[[dict], bool], timeout_s: float, sleep=time.sleep
) -> dict | None:
    deadline = time.monotonic() + timeout_s
    while True:
        for record in target.log_records(since_ms):
            if match(record):
                return record
        if time.monotonic() >= deadline:
            return None
        sleep(min(3.0, max(0.1, timeout_s / 30)))


def check_telemetry(target: SmokeTarget, request_id: str, since_ms: int, timeout_s: float) -> list[Check]:
    line = wait_for_record(
        target, since_ms, lambda r: r.get("request_id") == request_id and r.get("message") == "invoke ok", timeout_s
    )
    emf = wait_for_record(
        target,
        since_ms,
        lambda r: "_aws" in r and r.get("RequestId") == request_id and "CostUSD" in r,
        timeout_s if line else 0,
    )
    return [
        Check("log line", PASS, f"'invoke ok' with cost_usd {line.get('cost_usd')}")
        if line
        else Check("log line", FAIL, f"no 'invoke ok' line for request {request_id} within {timeout_s:.0f} s"),
        Check(
            "EMF metrics",
            PASS,
            f"namespace {emf['_aws']['CloudWatchMetrics'][0]['Namespace']}: CostUSD {emf['CostUSD']}",
        )
        if emf
        else Check("EMF metrics", FAIL, f"no EMF record with RequestId {request_id} within {timeout_s:.0f} s"),
    ]


def check_spend(before: tuple[float, int], after: tuple[float, int], cost: float) -> Check:
    spent, requests_ = after[0] - before[0], after[1] - before[1]
    if requests_ >= 1 and spent >= cost * 0.999:
        return Check("spend counter", PASS, f"+{plural(requests_, 'request')}, +${spent:.8f} (this request: ${cost})")
    return Check(
        "spend counter", FAIL, f"+{plural(requests_, 'request')}, +${spent:.8f}; expected at least +1 and +${cost}"
    )


# --- a retrieval use case ---------------------------------------------------------------------------


def grounded_request(use_case: UseCase) -> tuple[dict, str] | None:
    """A request to the first retrieval prompt from a clean, answerable eval case of it (one naming its
    expected sources first), with the case's id; None when the eval set has none. An eval set that does not
    load raises its ConfigError."""
    from liftoff.foundation.eval_cases import load_cases, load_suite

    prompt = next((p for p in use_case.prompts if p.retrieval is not None), None)
    if prompt is None:
        return None
    suite = load_suite(use_case.name, use_case.root)
    cases = [
        c
        for c in load_cases(use_case.name, root=use_case.root)
        if (c.prompt_id or suite.prompt_id) == prompt.prompt_id
        and c.answerable
        and not c.expect_error
        and "clean" in c.tags
    ]
    if not cases:
        return None
    case = sorted(cases, key=lambda c: not c.expected_sources)[0]
    return {"prompt_id": prompt.prompt_id, "variables": dict(case.variables)}, case.id


def document_names(use_case: UseCase) -> set[str]:
    """The use case's documents in the repository, as citations name them (relative to its documents folder)."""
    folder = use_case.root / use_case.config.knowledge.documents_path(use_case.name)
    if not folder.is_dir():
        return set()
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and not path.name.endswith(".metadata.json")
    }


def _grounded_question(use_case: UseCase) -> tuple[dict, str] | Check:
    """The grounded check's request and case id, or the FAIL that says why there is none."""
    from liftoff.foundation.errors import ConfigError

    try:
        picked = grounded_request(use_case)
    except ConfigError as exc:  # the question comes from the eval set: one that does not load is the finding
        return Check("grounded answer", FAIL, f"the eval set does not load: {exc}", f"fix evals/{use_case.name}/")
    return picked or Check(
        "grounded answer",
        FAIL,
        "no clean, answerable eval case for the retrieval prompt",
        f"add one to evals/{use_case.name}/ with tags [clean] and its expected_sources",
    )


def check_grounded_answer(target: SmokeTarget, use_case: UseCase) -> Check:
    """One question from the eval set gets an answer citing at least one document of the use case."""
    name = "grounded answer"
    picked = _grounded_question(use_case)
    if isinstance(picked, Check):
        return picked
    request, case_id = picked
    headers = {"Content-Type": "application/json", "x-api-key": target.api_key}
    try:
        status, body = _post(target.invoke_url, json.dumps(request), headers)
    except requests.RequestException as exc:
        return Check(name, FAIL, f"no answer from {target.invoke_url}: {exc}")
    if status != 200 or not isinstance(body, dict):
        return Check(name, FAIL, f"case {case_id}: HTTP {status}: {str(body)[:200]}", "read the function's log")
    citations = [c for c in body.get("citations") or [] if isinstance(c, dict)]
    outcome = (body.get("retrieval") or {}).get("outcome")
    if not citations:
        return Check(
            name,
            FAIL,
            f"case {case_id}: answered with no citation (retrieval outcome {outcome}): {str(body.get('output'))[:120]}",
            f"is the knowledge base ingested? liftoff kb status --use-case {use_case.name}",
        )
    documents = document_names(use_case)
    sources = sorted({str(c.get("source")) for c in citations})
    # documents only in an existing bucket: the repository has none to compare with
    known = [source for source in sources if source in documents] if documents else sources
    if not known:
        folder = use_case.config.knowledge.documents_path(use_case.name)
        return Check(
            name,
            FAIL,
            f"case {case_id}: cites {', '.join(sources)}, none of them a document of {folder}/",
            "is the stack's data source the documents bucket of this use case? liftoff kb status",
        )
    return Check(name, PASS, f"case {case_id}: {plural(len(citations), 'citation')} of {', '.join(known)}")


def knowledge_base_checks(kbs: Sequence[Any]) -> list[Check]:
    """A deployed knowledge base (liftoff.kb.KnowledgeBase, one per data source): it is ACTIVE, and each data
    source's newest ingestion job COMPLETE (failed documents: a WARN with their count)."""
    import click

    try:
        base = kbs[0].knowledge_base()
    except click.ClickException as exc:
        return [Check("knowledge base", FAIL, exc.message)]
    storage = (base.get("storageConfiguration") or {}).get("type", "?")
    described = f"{base['knowledgeBaseId']} ({base['name']}) {base['status']}, storage {storage}"
    if base["status"] != "ACTIVE":
        reasons = "; ".join(base.get("failureReasons") or [])
        checks = [Check("knowledge base", FAIL, described + (f": {reasons}" if reasons else ""), "deploy again")]
    else:
        checks = [Check("knowledge base", PASS, described)]
    for kb in kbs:
        name = "last ingestion" + (f" ({kb.ref.data_source_id})" if len(kbs) > 1 else "")
        checks.append(_last_ingestion(kb, name))
    return checks


def _last_ingestion(kb: Any, name: str) -> Check:
    import click

    from liftoff.console import shorten
    from liftoff.kb import ACTIVE, describe_statistics

    sync = f"liftoff kb sync --use-case {kb.ref.use_case} --stage {kb.ref.stage}"
    try:
        jobs = kb.recent_jobs(1)
        if not jobs:
            return Check(name, FAIL, "no ingestion job has run", f"run `{sync}`")
        job = kb.job(jobs[0]["ingestionJobId"])
        failed = kb.failed_documents() if job["status"] == "COMPLETE" else []
    except click.ClickException as exc:
        return Check(name, FAIL, exc.message)
    detail = f"job {job['ingestionJobId']} {job['status']}: {describe_statistics(job.get('statistics'))}"
    if job["status"] in ACTIVE:
        return Check(name, WARN, detail, "smoke again once it finishes (liftoff kb status)")
    if job["status"] != "COMPLETE":
        reasons = shorten("; ".join(job.get("failureReasons") or []), 200)
        return Check(name, FAIL, detail + (f" ({reasons})" if reasons else ""), f"fix, then `{sync}`")
    if failed:
        return Check(
            name,
            WARN,
            f"{detail}; {plural(len(failed), 'document')} did not index",
            "liftoff kb status lists them with the reason",
        )
    return Check(name, PASS, detail)


def local_knowledge_base_checks(use_case: UseCase) -> list[Check]:
    """Local mode's stand-in (lexical): what it indexed from the documents folder, and what it could not."""
    from liftoff.local import knowledge_base as local_kb

    index = local_kb.status(use_case)
    name = f"{index.knowledge_base_id} ({index.label})"
    if not index.documents:
        return [
            Check("knowledge base", FAIL, f"{name}: no document indexed from {index.documents_path}", "add documents"),
        ]
    checks = [
        Check("knowledge base", PASS, f"{name}: {plural(index.documents, 'document')}, {plural(index.chunks, 'chunk')}")
    ]
    if index.failed:
        checks.append(
            Check(
                "last ingestion",
                WARN,
                f"{plural(len(index.failed), 'document')} did not index: "
                + "; ".join(f"{doc}: {reason}" for doc, reason in index.failed),
                f"liftoff kb status --local --use-case {use_case.name}",
            )
        )
    else:
        checks.append(Check("last ingestion", PASS, f"every document of {index.documents_path} indexed"))
    return checks


def run_smoke(target: SmokeTarget, use_case: UseCase, *, log_wait_s: float = LOG_WAIT_S) -> list[Check]:
    good = sample_request(use_case)
    request_id = f"smoke-{uuid.uuid4().hex[:16]}"
    since_ms = int(time.time() * 1000) - 5_000
    checks = [check_registry(target, use_case)]
    try:
        before = target.spend_today()
    except Exception as exc:
        before = None
        checks.append(Check("spend counter", FAIL, f"cannot read it: {exc}"))
    good_check, answer = check_good_request(target, good, request_id)
    checks.append(good_check)
    checks += [check_bad_request(target, bad) for bad in bad_requests(use_case, good, target.api_key)]
    if answer is not None:
        checks += check_telemetry(target, answer.get("request_id", request_id), since_ms, log_wait_s)
        checks += check_feedback(target, answer)
        if before is not None:
            checks.append(check_spend(before, target.spend_today(), float(answer["cost_usd"])))
    if use_case.config.knowledge is not None:
        checks += target.knowledge_base(use_case)
        checks.append(check_grounded_answer(target, use_case))
    for resource in (target.dashboard(), target.alarms()):
        checks.append(resource or Check("dashboard/alarms", SKIP, "not in this target"))
    return checks


# --- targets ---------------------------------------------------------------------------------------


def _spend_counter(table: Any, use_case: str) -> tuple[float, int]:
    from service.dal.spend_counter import SpendCounter

    counter = SpendCounter(table, use_case)
    day = counter.day(counter.today())
    return day.spend_usd, day.requests


def _live_versions(table: Any, use_case: str, prompt_ids: Sequence[str]) -> dict[str, int | None]:
    from service.dal.prompt_store import PromptStore

    store = PromptStore(table, use_case)
    aliases = {pid: store.get_alias(pid, "live") for pid in prompt_ids}
    return {pid: alias.version if alias else None for pid, alias in aliases.items()}


class LocalTarget:
    """Local mode (`liftoff local up`): its log file stands in for CloudWatch Logs."""

    def __init__(self, use_case: str):
        from liftoff.local import runtime

        state = runtime.read_state(use_case)
        if not runtime.is_running(state):
            raise RuntimeError(
                f"local mode is not running for {use_case}: start it with `liftoff local up --use-case {use_case}`"
            )
        self.name = f"local ({state.api_url})"
        self.invoke_url, self.api_key = state.invoke_url, state.api_key
        self._state, self._use_case = state, use_case
        self._log = runtime.log_file(use_case)

    def live_versions(self, prompt_ids):
        from liftoff.local.runtime import local_table

        return _live_versions(local_table(self._state, self._state.table_name), self._use_case, prompt_ids)

    def spend_today(self):
        from liftoff.local.runtime import local_table

        return _spend_counter(local_table(self._state, self._state.spend_table_name), self._use_case)

    def log_records(self, since_ms):
        from liftoff.cost_report import json_records

        if self._log.exists():
            yield from json_records(self._log.read_text(errors="replace").splitlines())

    def dashboard(self):
        return Check("dashboard", SKIP, "local mode has no CloudWatch: checked against AWS by `liftoff smoke --stage`")

    def alarms(self):
        return Check("alarms", SKIP, "local mode has no CloudWatch: checked against AWS by `liftoff smoke --stage`")

    def knowledge_base(self, use_case):
        return local_knowledge_base_checks(use_case)


class AwsTarget:
    """A deployed stack, found by its name; every resource comes from its outputs and resources."""

    def __init__(self, use_case: str, stage: str, session: Any = None):
        import boto3

        from liftoff.foundation.names import stack_name

        self._session = session or boto3.Session()
        self._use_case, self._stage, self._stack = use_case, stage, stack_name(use_case, stage)
        cloudformation = self._session.client("cloudformation")
        stack = cloudformation.describe_stacks(StackName=self._stack)["Stacks"][0]
        self._outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=self._stack)
        self._resources = [r for page in pages for r in page["StackResourceSummaries"]]
        self.name = self._stack
        self.invoke_url = self._outputs["InvokeUrl"]
        key_id = self._outputs.get("ApiKeyId")
        if key_id is None:
            raise RuntimeError(f"{self._stack} does not use API keys (api.auth); smoke speaks api_key auth only")
        self.api_key = self._session.client("apigateway").get_api_key(apiKey=key_id, includeValue=True)["value"]

    def _table(self, output: str):
        return self._session.resource("dynamodb").Table(self._outputs[output])

    def live_versions(self, prompt_ids):
        return _live_versions(self._table("PromptsTableName"), self._use_case, prompt_ids)

    def spend_today(self):
        return _spend_counter(self._table("SpendTableName"), self._use_case)

    def log_records(self, since_ms):
        from liftoff.cost_report import json_records

        logs = self._session.client("logs")
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=self._outputs["InvokeLogGroupName"], startTime=since_ms
        )
        for page in pages:
            yield from json_records(event["message"] for event in page.get("events", []))

    def knowledge_base(self, use_case):
        import click

        from liftoff.kb import KnowledgeBase, refs_from_outputs

        try:
            refs = refs_from_outputs(self._use_case, self._stage, self._outputs)
        except click.ClickException as exc:
            return [Check("knowledge base", FAIL, exc.message, "deploy it again")]
        agent = self._session.client("bedrock-agent")
        return knowledge_base_checks([KnowledgeBase(ref, agent) for ref in refs])

    def _physical_ids(self, resource_type: str) -> list[str]:
        return [r["PhysicalResourceId"] for r in self._resources if r["ResourceType"] == resource_type]

    def dashboard(self):
        name = self._outputs.get("DashboardName")
        try:
            self._session.client("cloudwatch").get_dashboard(DashboardName=name)
        except Exception as exc:
            return Check("dashboard", FAIL, f"{name}: {exc}")
        return Check("dashboard", PASS, name)

    def alarms(self):
        expected = self._physical_ids("AWS::CloudWatch::Alarm")
        found = set()
        cloudwatch = self._session.client("cloudwatch")
        for start in range(0, len(expected), 100):
            answer = cloudwatch.describe_alarms(AlarmNames=expected[start : start + 100])
            found |= {a["AlarmName"] for a in answer.get("MetricAlarms", [])}
        missing = sorted(set(expected) - found)
        if not expected or missing:
            return Check("alarms", FAIL, f"missing: {', '.join(missing) or 'the stack has none'}")
        states = {}
        for alarm in cloudwatch.describe_alarms(AlarmNames=expected[:100]).get("MetricAlarms", []):
            states[alarm["StateValue"]] = states.get(alarm["StateValue"], 0) + 1
        return Check(
            "alarms", PASS, f"{len(expected)} exist ({', '.join(f'{v} {k}' for k, v in sorted(states.items()))})"
        )


def record(use_case: str, target: str, checks: Sequence[Check]) -> None:
    """Keep this run as the last smoke result on `target` (`local` or the stage), for `liftoff readiness`."""
    from liftoff.last_results import write_result

    failed = [c.name for c in checks if c.status == FAIL]
    write_result(
        use_case,
        "smoke",
        target,
        {
            "passed": not failed,
            "checks": len(checks),
            "failed": failed,
            "warned": [c.name for c in checks if c.status == WARN],
            "skipped": sum(c.status == SKIP for c in checks),
        },
    )


def exit_code(checks: Sequence[Check]) -> int:
    return 1 if any(c.status == FAIL for c in checks) else 0


def render(checks: Sequence[Check], target: str) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"smoke test of {target}"]
    lines += [
        f"{c.status:<4}  {c.name:<{width}}  {c.detail}"
        + (f"  -> {c.fix}" if c.fix and c.status in (FAIL, WARN) else "")
        for c in checks
    ]
    counts = {status: sum(c.status == status for c in checks) for status in (PASS, WARN, SKIP, FAIL)}
    parts = [f"{counts[PASS]} passed"] + [f"{counts[WARN]} warned"] * bool(counts[WARN])
    parts += [f"{counts[SKIP]} skipped"] * bool(counts[SKIP])
    parts += [f"{counts[FAIL]} FAILED"] * bool(counts[FAIL])
    lines.append(f"smoke: {', '.join(parts)} ({plural(len(checks), 'check')})")
    return "\n".join(lines)
