"""`liftoff demo`: synth, start local mode, send good and bad requests, show what came back, stop."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass

import requests
from rich.markup import escape
from rich.table import Table

from liftoff import REPO_ROOT
from liftoff.console import make_console, plural, shorten
from liftoff.cost_report import local_report, render, spend_line
from liftoff.evals.cli import demo_eval
from liftoff.foundation.config import display_path
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.eval_cases import EvalCase, load_cases, load_suite
from liftoff.foundation.usecases import UseCase, load_use_case
from liftoff.local import runtime
from service.dal.spend_counter import SpendCounter

console = make_console()
WIDE = 120  # from this many columns the table also shows the model, the prompt version and the latency


@dataclass(frozen=True)
class DemoRequest:
    label: str
    body: str | dict
    with_key: bool = True
    expect: int = 200


GOOD_REQUESTS = 3  # clean cases of the eval set sent as they are: the last one pinned to version 1
UNDECLARED = "not_declared"  # a variable name no prompt of the demo declares


def demo_requests(use_case: UseCase, prompt_id: str | None = None) -> list[DemoRequest]:
    """Good requests from the use case's own eval set (its first clean cases of the prompt), then bad ones built
    from that prompt's variables: each bad request gets the status the API answers it with."""
    suite = load_suite(use_case.name, use_case.root)
    prompt_id = prompt_id or suite.prompt_id
    spec = next((p for p in use_case.prompts if p.prompt_id == prompt_id), None)
    if spec is None:
        known = ", ".join(p.prompt_id for p in use_case.prompts)
        raise ConfigError(f"use case {use_case.name} has no prompt `{prompt_id}` (prompts: {known})")
    clean = [
        c
        for c in load_cases(use_case.name, root=use_case.root)
        if (c.prompt_id or suite.prompt_id) == prompt_id and "clean" in c.tags and not c.expect_error
    ]
    cases = clean[:GOOD_REQUESTS]
    if not cases:
        raise ConfigError(
            f"the demo sends the eval set's clean cases, and evals/{use_case.name}/ has none of prompt `{prompt_id}`: "
            "add one tagged `clean`"
        )
    msg = {"prompt_id": prompt_id}
    good = [DemoRequest(case.id, {**msg, "variables": case.variables}) for case in cases[:-1] or cases]
    if len(cases) > 1:
        good.append(DemoRequest(f"{cases[-1].id}, pinned v1", {**msg, "version": 1, "variables": cases[-1].variables}))
    # the bad requests vary a case that reaches the model (a retrieval use case refuses an unanswerable one first)
    variables = next((c for c in clean if c.answerable), cases[0]).variables
    longest = max(spec.variables, key=lambda v: v.max_length)  # room for a simulator marker
    shortest = min(spec.variables, key=lambda v: v.max_length)
    required = next((v.name for v in spec.variables if v.required), None)

    def marked(marker: str) -> dict:
        return {**msg, "variables": {**variables, longest.name: f"{variables.get(longest.name, '')} {marker}"}}

    oversize = {**msg, "variables": {**variables, shortest.name: "x" * (shortest.max_length + 1)}}
    too_big = len(json.dumps(oversize).encode()) > use_case.config.api.max_body_bytes
    missing = {**msg, "variables": {k: v for k, v in variables.items() if k != required}}
    bad = [DemoRequest("missing variable", missing, expect=400)] if required else []
    bad += [
        DemoRequest("unknown variable", {**msg, "variables": {**variables, UNDECLARED: "hi"}}, expect=400),
        DemoRequest("unknown prompt", {"prompt_id": "nope", "variables": variables}, expect=404),
        DemoRequest("not JSON", f"{{prompt_id: {prompt_id}", expect=400),
        DemoRequest("extra field", {**msg, "variables": variables, "debug": True}, expect=400),
        DemoRequest("no API key", {**msg, "variables": variables}, with_key=False, expect=403),
        DemoRequest("oversize input", oversize, expect=413 if too_big else 400),
        DemoRequest("model throttled", marked("[[sim:throttle]]"), expect=429),
        DemoRequest("model error", marked("[[sim:error]]"), expect=502),
    ]
    return good + bad


def send(state: runtime.LocalState, request: DemoRequest) -> tuple[int, dict, float]:
    headers = {"Content-Type": "application/json"}
    if request.with_key:
        headers["x-api-key"] = state.api_key
    data = request.body if isinstance(request.body, str) else json.dumps(request.body)
    started = time.perf_counter()
    response = requests.post(state.invoke_url, data=data, headers=headers, timeout=30)
    return response.status_code, response.json(), (time.perf_counter() - started) * 1000


def synth() -> None:
    console.print("[bold]1/4[/] cdk synth (sandbox and prod, cdk-nag on) ...")
    env = dict(os.environ)  # liftoff/__init__.py set the jsii banner's silencer, which cdk's app process inherits
    for stage in ("sandbox", "prod"):
        started = time.perf_counter()
        out = f"cdk.out/{stage}"
        result = subprocess.run(  # noqa: S603
            ["npx", "--no-install", "cdk", "synth", "-q", "-c", f"stage={stage}", "-o", out],  # noqa: S607
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            console.print(result.stdout[-4000:], result.stderr[-4000:])
            raise SystemExit(f"cdk synth -c stage={stage} failed (see above)")
        console.print(f"    {stage}: ok in {time.perf_counter() - started:.1f}s -> {out}/")


def show_cost_report(state: runtime.LocalState) -> None:
    """What `liftoff cost report` prints: cost per request by prompt version and model, and the
    spend counter the daily cap is checked against."""
    config = load_use_case(state.use_case).config
    console.print("    [bold]liftoff cost report[/] (from the local log and the spend counter):")
    render(
        local_report(runtime.log_file(state.use_case)),
        title=f"{state.use_case}: cost per request",
        max_cost_usd=config.exit_criteria.max_cost_per_request_usd,
        console=console,
    )
    counter = SpendCounter(runtime.local_table(state, state.spend_table_name), state.use_case)
    console.print(spend_line(counter.day(counter.today()), config.budget.daily_cap_usd))


def grounded_demo_cases(use_case) -> tuple[EvalCase | None, EvalCase | None]:
    """From a retrieval use case's eval set: a clean answerable question naming its sources, and an
    unanswerable one (tagged `unanswerable` first)."""
    cases = load_cases(use_case.name, root=use_case.root)
    named = [c for c in cases if c.answerable and c.expected_sources and not c.expect_error]
    answerable = next((c for c in named if "clean" in c.tags), named[0] if named else None)
    refused = [c for c in cases if not c.answerable and not c.expect_error]
    unanswerable = next((c for c in refused if "unanswerable" in c.tags), refused[0] if refused else None)
    return answerable, unanswerable


def show_grounded_answers(state: runtime.LocalState, use_case=None, send_request=None) -> int:
    """A retrieval use case: one answer with its citations, and one refusal of a question the documents do
    not cover (no model call); how many did not come back as expected. Nothing for other use cases."""
    use_case = use_case or load_use_case(state.use_case)
    if use_case.config.knowledge is None:
        return 0
    send_request = send_request or send
    answerable, unanswerable = grounded_demo_cases(use_case)
    prompt_id = load_suite(use_case.name, use_case.root).prompt_id
    folder = use_case.root / use_case.config.knowledge.documents_path(use_case.name)
    console.print(
        f"    grounded answers (the local knowledge base over {display_path(folder)} ranks lexically, BM25, not "
        "semantically; the simulator answers extractively):"
    )
    failures = 0
    for case, expected in ((answerable, "answered"), (unanswerable, "no_context")):
        if case is None:
            continue
        body = {"prompt_id": case.prompt_id or prompt_id, "variables": case.variables}
        status, reply, _ = send_request(state, DemoRequest(case.id, body))
        question = shorten(next(iter(case.variables.values()), ""), 90)
        outcome = (reply.get("retrieval") or {}).get("outcome")
        citations = reply.get("citations") or []
        ok = status == 200 and outcome == expected and bool(citations) == (expected == "answered")
        ok = ok and all((folder / c["source"]).is_file() for c in citations)
        failures += not ok
        color = "green" if ok else "red"
        console.print(f"    [{color}]{status}[/] {case.id}: {escape(question)}")
        if "error" in reply:
            console.print(escape(f"        {reply['error']['code']}: {reply['error']['message']}"))
            continue
        console.print(escape(f"        answer: {shorten(reply.get('output', ''), 160)}"))
        for citation in citations:
            console.print(escape(f"        [{citation['id']}] {citation['source']} (score {citation['score']:.2f})"))
        if expected == "no_context":
            usage = reply.get("usage") or {}
            tokens = usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
            console.print(
                f"        nothing reached min_score: the prompt's refusal, {plural(tokens, 'model token')} "
                f"(no model call), ${reply.get('cost_usd', 0):.8f}"
            )
    return failures


def show_golden_canary(use_case: str, state: runtime.LocalState) -> None:
    """One run of the golden canary, as the deployed schedule runs it (liftoff canary run)."""
    from liftoff.foundation.canary import canary_payload

    console.print("    golden canary (deployed: on a schedule; here: one run of `liftoff canary run`):")
    result = runtime.run_function(state, canary_payload(use_case))["stable"]
    console.print(
        f"    {result['passed']}/{result['cases']} golden cases pass ({result['accuracy']:.0%}), p95 "
        f"{result['latency_p95_ms']} ms, ${result['cost_usd']:.6f}: published as CanaryAccuracy, alarmed on min_accuracy"
    )


def show_requests(state: runtime.LocalState, requests_: list[DemoRequest]) -> int:
    """Send the requests and print a table of what came back; how many did not get the expected status."""
    failures = 0
    wide = console.width >= WIDE
    # narrow terminals: the expected status folds into the status column, tokens and model go below
    columns = ["request", "status", "expected"] if wide else ["request", "status"]
    columns += ["output / error", "tokens in/out", "cost USD"] if wide else ["output / error", "cost USD"]
    columns += ["model", "prompt v", "ms"] if wide else []
    table = Table(show_lines=not wide)
    for column in columns:
        # the output column takes what is left; the others never wrap (a status cut in two reads as two)
        table.add_column(column, no_wrap=column != "output / error", ratio=1 if column == "output / error" else None)
    total_cost = 0.0
    models = set()
    for request in requests_:
        status, body, ms = send(state, request)
        ok = status == request.expect
        failures += not ok
        if "error" in body:
            text = f"{body['error']['code']}: {body['error']['message']}"
            tokens = model = version = cost = "-"
        else:
            text = body["output"]
            tokens = f"{body['usage']['input_tokens']}/{body['usage']['output_tokens']}"
            model, version = body["model_id"], str(body["prompt_version"])
            models.add(f"{model} (prompt v{version})")
            cost = f"{body['cost_usd']:.8f}"
            total_cost += body["cost_usd"]
        color = "green" if ok else "red"
        if wide:
            row = [request.label, f"[{color}]{status}[/]", str(request.expect), shorten(text, 160), tokens, cost]
            row += [model, version, f"{ms:.0f}"]
        else:
            verdict = "as expected" if ok else f"expected {request.expect}"
            row = [request.label, f"[{color}]{status}[/] {verdict}", shorten(text, 100), cost]
        table.add_row(*row)
    console.print(table)
    if not wide and models:
        console.print(f"    answered by {', '.join(sorted(models))}")
    console.print(f"    spend in this run: ${total_cost:.8f} at the prices in pricing/bedrock.yaml (simulated tokens)")
    return failures


def run_demo(use_case: str, prompt_id: str | None, skip_synth: bool) -> int:
    requests_ = demo_requests(load_use_case(use_case), prompt_id)  # a use case it cannot drive fails before synth
    if not skip_synth:
        synth()
    console.print(f"[bold]2/4[/] local mode for {use_case} (moto DynamoDB + Bedrock simulator + local API)")
    failures = 0
    # a local mode the user started is theirs (their published versions live in it): used, not stopped
    with runtime.running_for(use_case, say=lambda message: console.print(f"    {message}")) as state:
        console.print(f"    API {state.invoke_url}")
        console.print("[bold]3/4[/] sending requests (the simulator's answers say nothing about model quality)")
        failures += show_requests(state, requests_)
        failures += show_grounded_answers(state)
        show_cost_report(state)
        console.print(
            f"[bold]4/4[/] eval: the whole eval set of {use_case} (evals/{use_case}/) against the exit criteria "
            f"in usecases/{use_case}.yaml (liftoff eval run)"
        )
        verdict = demo_eval(use_case, state)
        if not verdict:
            console.print(
                "    the gate says FAIL, as it should with a keyword simulator in place of a model: with "
                "`--target bedrock` or a deployed stage, the same command gates a real model"
            )
        show_golden_canary(use_case, state)
    if failures:
        console.print(f"[red]{plural(failures, 'request')} did not get the expected status[/]")
        return 1
    console.print("[green]demo ok[/]: every request got the expected answer.")
    return 0
