"""Local mode: moto (DynamoDB), the Bedrock simulator and the local API, in one background
process per use case, started by `liftoff local up` and stopped by `liftoff local down` (or Ctrl-C).
Several use cases can run side by side, each with its own ports, tables, key and log
(`.liftoff/<use_case>.json`, `.liftoff/<use_case>.log`)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from liftoff import REPO_ROOT
from liftoff.foundation.function_env import FunctionResources, invoke_environment
from liftoff.foundation.usecases import UseCase, load_use_case

STATE_DIR = REPO_ROOT / ".liftoff"
REGION = "us-east-1"
LOCAL_STAGE = "local"
LOCAL_GUARDRAIL_ID = "localguardrail"


@dataclass(frozen=True)
class LocalState:
    pid: int
    use_case: str
    api_url: str
    api_key: str
    dynamodb_url: str
    bedrock_url: str
    table_name: str
    spend_table_name: str
    idempotency_table_name: str
    capture_table_name: str = ""
    sim_latency_ms: float = 0.0  # the simulated model latency it was started with (LIFTOFF_SIM_LATENCY_MS)
    persist: bool = False  # keeps its prompt registry in registry_file() across restarts (`local up --persist`)
    capture: bool = False  # its function captures requests (capture.enabled, or LIFTOFF_LOCAL_CAPTURE=true)

    @property
    def invoke_url(self) -> str:
        return f"{self.api_url}/v1/invoke"


def state_file(use_case: str, root: Path | None = None) -> Path:
    """Where local mode of `use_case` records itself: in this project, or in the project at `root`."""
    return (root / STATE_DIR.name if root else STATE_DIR) / f"{use_case}.json"


def log_file(use_case: str, root: Path | None = None) -> Path:
    return (root / STATE_DIR.name if root else STATE_DIR) / f"{use_case}.log"


def registry_file(use_case: str, root: Path | None = None) -> Path:
    """Where `local up --persist` keeps the prompt registry (versions, aliases, history, eval evidence) between
    runs; beside the state files but in its own folder, so it is never read as one ($LIFTOFF_LOCAL_REGISTRY_DIR
    moves the folder)."""
    state_dir = root / STATE_DIR.name if root else STATE_DIR
    folder = os.environ.get("LIFTOFF_LOCAL_REGISTRY_DIR") or state_dir / "registry"
    return Path(folder) / f"{use_case}.json"


def save_registry(table, path: Path) -> int:
    """Every item of the local prompts table, as DynamoDB JSON, into `path`; returns how many."""
    items, kwargs = [], {}
    while True:
        page = table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    path.parent.mkdir(parents=True, exist_ok=True)
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    rows = [{k: serializer.serialize(v) for k, v in item.items()} for item in items]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"items": rows}, sort_keys=True))
    tmp.replace(path)  # a crash mid-write leaves the previous file whole
    return len(rows)


def restore_registry(table, path: Path) -> int:
    """Put back what save_registry wrote (nothing when there is no file); returns how many items."""
    if not path.is_file():
        return 0
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    rows = json.loads(path.read_text())["items"]
    with table.batch_writer() as batch:
        for row in rows:
            batch.put_item(Item={k: deserializer.deserialize(v) for k, v in row.items()})
    return len(rows)


def read_state(use_case: str, root: Path | None = None) -> LocalState | None:
    path = state_file(use_case, root)
    if not path.exists():
        return None
    try:
        return LocalState(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None


def running() -> list[LocalState]:
    """Every local mode that answers its health check."""
    states = [read_state(p.stem) for p in sorted(STATE_DIR.glob("*.json"))] if STATE_DIR.is_dir() else []
    return [s for s in states if is_running(s)]


def is_running(state: LocalState | None) -> bool:
    if state is None:
        return False
    try:
        return requests.get(f"{state.api_url}/_local/health", timeout=1).ok
    except requests.RequestException:
        return False


def local_endpoint(url: str) -> dict[str, str]:
    """boto3 client/resource arguments for a local-mode service: its URL and throwaway credentials
    (moto and the Bedrock simulator accept any)."""
    return {
        "endpoint_url": url,
        "region_name": REGION,
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
    }


def local_table(state: LocalState, name: str):
    """A boto3 Table of local mode's DynamoDB."""
    import boto3

    return boto3.resource("dynamodb", **local_endpoint(state.dynamodb_url)).Table(name)


def run_function(state: LocalState, event: dict, *, timeout_s: float = 900) -> dict:
    """Run a function's own event (the golden canary's schedule input, an alarm's state change) in local
    mode's execution environments, as EventBridge would invoke the function (POST /_local/functions)."""
    response = requests.post(
        f"{state.api_url}/_local/functions", json=event, headers={"x-api-key": state.api_key}, timeout=timeout_s
    )
    if response.status_code != 200:
        raise RuntimeError(f"local mode answered {response.status_code}: {response.text[:300]}")
    return response.json()


LOCAL_ACCOUNT = "000000000000"


def local_model_profiles(use_case: UseCase) -> dict[str, str]:
    """model id -> an application inference profile ARN, as the deployed function gets them; the
    simulator resolves these ARNs to their models as Bedrock does."""
    from liftoff.foundation.bedrock_ids import application_profile_name

    return {
        model: f"arn:aws:bedrock:{REGION}:{LOCAL_ACCOUNT}:application-inference-profile/"
        + application_profile_name(use_case.name, LOCAL_STAGE, model).lower()
        for model in use_case.config.models.allowed
    }


def simulator_profiles(*use_cases: UseCase) -> dict[str, str]:
    """The simulator's map of application inference profile ARN -> model, for these use cases (all on
    disk when none is given)."""
    from liftoff.foundation.usecases import load_all_use_cases

    return {arn: model for uc in (use_cases or load_all_use_cases()) for model, arn in local_model_profiles(uc).items()}


def capture_table_name(use_case: str) -> str:
    return f"liftoff-{use_case}-local-capture"


def feedback_secret_name(use_case: str) -> str:
    return f"liftoff-{use_case}-local-feedback-key"


def handler_environment(
    use_case: UseCase, *, table: str, spend_table: str, dynamodb_url: str, bedrock_url: str, idempotency_table: str = ""
) -> dict[str, str]:
    """The environment the deployed function gets (liftoff/foundation/function_env.py, the same function CDK
    calls), pointed at the local services. Local knobs: `LIFTOFF_LOCAL_DAILY_CAP_USD` overrides the
    daily cap (to see the cap work), `LIFTOFF_LOCAL_PROMPT_CACHE_TTL_S` the prompt cache and
    `LIFTOFF_LOCAL_MODEL_TIMEOUT_S` the model's read timeout (1 s: the simulator's faults hang) and
    `LIFTOFF_LOCAL_SPEND_READING_MAX_AGE_S` how long the spend cap trusts an environment's reading and
    `LIFTOFF_LOCAL_CAPTURE=true` turns capture on (as `capture.enabled: true` in the config would)."""
    cap = os.environ.get("LIFTOFF_LOCAL_DAILY_CAP_USD")
    cache = os.environ.get("LIFTOFF_LOCAL_PROMPT_CACHE_TTL_S")
    reading_age = os.environ.get("LIFTOFF_LOCAL_SPEND_READING_MAX_AGE_S")
    capture = {"LIFTOFF_CAPTURE_ENABLED": "true"} if os.environ.get("LIFTOFF_LOCAL_CAPTURE") == "true" else {}
    return {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": dynamodb_url,  # moto's server answers every service
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock_url,
        # the same server answers Retrieve for the use case's knowledge base (liftoff/local/knowledge_base.py)
        **({"AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME": bedrock_url} if use_case.config.knowledge else {}),
        "POWERTOOLS_TRACE_DISABLED": "true",
        **invoke_environment(
            use_case,
            stage=LOCAL_STAGE,
            resources=FunctionResources(
                prompts_table=table,
                spend_table=spend_table,
                idempotency_table=idempotency_table,
                capture_table=capture_table_name(use_case.name),
                feedback_secret=feedback_secret_name(use_case.name),
                # the simulator plays the guardrail (liftoff/local/guardrail_rules.py) when one is configured
                guardrail=(LOCAL_GUARDRAIL_ID, "1") if use_case.config.guardrail.enabled else None,
                model_profiles=json.dumps(local_model_profiles(use_case)),
                # the stand-in's knowledge base, which the simulator's server answers Retrieve for
                knowledge_base_id=_local_knowledge_base_id(use_case),
            ),
            daily_cap_usd=float(cap) if cap else None,
            prompt_cache_ttl_s=float(cache) if cache else None,
            model_read_timeout_s=float(os.environ.get("LIFTOFF_LOCAL_MODEL_TIMEOUT_S", "1.0")),
            spend_reading_max_age_s=float(reading_age) if reading_age else None,
        ),
        **capture,
    }


def _local_knowledge_base_id(use_case: UseCase) -> str | None:
    if use_case.config.knowledge is None:
        return None
    from liftoff.local.knowledge_base import local_knowledge_base_id

    return local_knowledge_base_id(use_case.name)


def create_prompts_table(dynamodb, name: str) -> None:
    """The key schema of stacks/constructs/prompts_table.py."""
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _create_expiring_table(dynamodb, name: str, ttl_attribute: str) -> None:
    """A table keyed by `pk` whose items expire through TTL (as stacks/table_factory.py makes them)."""
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
    )


def create_spend_table(dynamodb, name: str) -> None:
    """stacks/constructs/spend_table.py, locally."""
    from service.dal.spend_counter import TTL_ATTRIBUTE

    _create_expiring_table(dynamodb, name, TTL_ATTRIBUTE)


def create_idempotency_table(dynamodb, name: str) -> None:
    """stacks/constructs/idempotency_table.py, locally."""
    from service.handlers.idempotency import TTL_ATTRIBUTE

    _create_expiring_table(dynamodb, name, TTL_ATTRIBUTE)


def create_capture_table(dynamodb, name: str) -> None:
    """stacks/constructs/capture_table.py, locally: pk request id, TTL, the by-rating index."""
    from service.dal.capture_store import RATING_INDEX, TTL_ATTRIBUTE

    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "rating", "AttributeType": "S"},
            {"AttributeName": "rated_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": RATING_INDEX,
                "KeySchema": [
                    {"AttributeName": "rating", "KeyType": "HASH"},
                    {"AttributeName": "rated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def create_feedback_secret(secretsmanager, name: str) -> None:
    """stacks/constructs/feedback_key.py, locally: a random key for signing feedback tokens."""
    secretsmanager.create_secret(Name=name, SecretString=secrets.token_urlsafe(48))


def provision(
    use_case: UseCase,
    *,
    table: str,
    spend_table: str,
    dynamodb_url: str,
    idempotency_table: str = "",
    restore_from: Path | None = None,
) -> None:
    """Create the tables, the feedback key and publish the repo's prompts, as a first deploy would; with
    `restore_from`, the saved registry is put back first, so the publish is a later deploy's (only changes)."""
    import boto3

    from service.dal.prompt_store import PromptStore
    from service.handlers.prompt_sync import sync_prompts

    endpoint = {"endpoint_url": dynamodb_url, "region_name": REGION}
    client = boto3.client("dynamodb", **endpoint)
    create_prompts_table(client, table)
    create_spend_table(client, spend_table)
    if idempotency_table:
        create_idempotency_table(client, idempotency_table)
    create_capture_table(client, capture_table_name(use_case.name))
    create_feedback_secret(boto3.client("secretsmanager", **endpoint), feedback_secret_name(use_case.name))
    prompts_table = boto3.resource("dynamodb", **endpoint).Table(table)
    if restore_from is not None:
        restored = restore_registry(prompts_table, restore_from)
        print(f"restored {restored} registry items from {restore_from}", flush=True)
    store = PromptStore(prompts_table, use_case.name)
    sync_prompts(store, [p.model_dump(mode="json") for p in use_case.prompts], message="local up")


def serve(use_case_name: str, ready_file: Path) -> None:
    """Run the local system in this process until SIGTERM/SIGINT (what `local up` spawns)."""
    from liftoff.local.bedrock_simulator import SimulatorConfig, start_simulator
    from liftoff.local.moto_server import MotoServer

    use_case = load_use_case(use_case_name)
    moto = MotoServer()  # one request at a time: moto's ADD is not atomic across threads
    moto.start()
    host, port = moto.get_host_and_port()
    dynamodb_url = f"http://{host}:{port}"
    latency = float(os.environ.get("LIFTOFF_SIM_LATENCY_MS", "0"))
    sigma = float(os.environ.get("LIFTOFF_SIM_LATENCY_SIGMA", "0"))
    from liftoff.local.guardrail_rules import GuardrailRules
    from liftoff.local.knowledge_base import LocalKnowledgeBase

    rules = GuardrailRules.for_use_case(use_case.config)
    # a retrieval use case's knowledge base: the lexical stand-in, served by the simulator's server
    knowledge_bases = [LocalKnowledgeBase.for_use_case(use_case)] if use_case.config.knowledge else []
    for kb in knowledge_bases:
        indexed = kb.status()
        print(
            f"knowledge base {kb.knowledge_base_id}: {indexed.documents} documents, {indexed.chunks} chunks from "
            f"{indexed.documents_path}, ranked {indexed.label}",
            flush=True,
        )
    sim_server, bedrock_url = start_simulator(
        config=SimulatorConfig(
            latency_ms=latency,
            timeout_s=3.0,
            guardrail=rules,
            latency_sigma=sigma,
            profiles=simulator_profiles(use_case),
            knowledge_bases=knowledge_bases,
        )
    )
    table = f"liftoff-{use_case.name}-local-prompts"
    spend_table = f"liftoff-{use_case.name}-local-spend"
    idempotency_table = f"liftoff-{use_case.name}-local-idempotency"
    os.environ.update(
        handler_environment(
            use_case,
            table=table,
            spend_table=spend_table,
            dynamodb_url=dynamodb_url,
            bedrock_url=bedrock_url,
            idempotency_table=idempotency_table,
        )
    )

    persist = os.environ.get("LIFTOFF_LOCAL_PERSIST") == "1"
    provision(
        use_case,
        table=table,
        spend_table=spend_table,
        dynamodb_url=dynamodb_url,
        idempotency_table=idempotency_table,
        restore_from=registry_file(use_case.name) if persist else None,
    )

    from liftoff.local.environments import DEFAULT_MAX_ENVIRONMENTS, EnvironmentPool
    from liftoff.local.local_api import start_local_api

    # Lambda's concurrency: the use case's reservation, or a local cap (LIFTOFF_LOCAL_MAX_ENVIRONMENTS)
    cap = int(os.environ.get("LIFTOFF_LOCAL_MAX_ENVIRONMENTS") or DEFAULT_MAX_ENVIRONMENTS)
    reserved = use_case.config.capacity.reserved_concurrency
    # both functions of the stack (invoke, feedback) in each environment: liftoff/local/dispatch.py
    pool = EnvironmentPool(
        max_environments=min(reserved, cap) if reserved else cap,
        handler_path="liftoff.local.dispatch.lambda_handler",
        timeout_s=use_case.config.lambda_timeout_seconds,  # the invoke function's, as the stack deploys it
    )
    api_key = secrets.token_urlsafe(24)
    api_server, api_url = start_local_api(
        invoke=pool.invoke,
        api_key=api_key,
        stage=LOCAL_STAGE,
        max_body_bytes=use_case.config.api.max_body_bytes,
        stats=lambda: asdict(pool.stats()),
    )
    state = LocalState(
        os.getpid(),
        use_case.name,
        api_url,
        api_key,
        dynamodb_url,
        bedrock_url,
        table,
        spend_table,
        idempotency_table,
        capture_table_name(use_case.name),
        sim_latency_ms=latency,
        persist=persist,
        capture=os.environ.get("LIFTOFF_CAPTURE_ENABLED") == "true",
    )
    ready_file.write_text(json.dumps(asdict(state)))

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        time.sleep(0.2)
    api_server.shutdown()
    pool.close()
    if persist:
        import boto3

        prompts_table = boto3.resource("dynamodb", endpoint_url=dynamodb_url, region_name=REGION).Table(table)
        saved = save_registry(prompts_table, registry_file(use_case.name))
        print(f"saved {saved} registry items to {registry_file(use_case.name)}", flush=True)
    sim_server.shutdown()
    moto.stop()


def up(use_case: str, *, timeout_s: float = 30.0, persist: bool = False) -> LocalState:
    """Start local mode for `use_case` in the background (or return it if it is running). With `persist`, its
    prompt registry is restored from registry_file() and saved there again when it stops."""
    load_use_case(use_case)  # a config error is reported here, not by a background process
    state = read_state(use_case)
    if is_running(state):
        return state
    STATE_DIR.mkdir(exist_ok=True)
    ready = state_file(use_case)
    ready.unlink(missing_ok=True)
    log = log_file(use_case).open("w")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "liftoff.local.runtime", use_case, str(ready)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=REPO_ROOT,
        env={**os.environ, "LIFTOFF_LOCAL_PERSIST": "1" if persist else "0"},
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"local mode failed to start (exit {process.returncode}); see {log_file(use_case)}")
        state = read_state(use_case)
        if is_running(state):
            return state
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"local mode did not come up within {timeout_s:.0f}s; see {log_file(use_case)}")


@contextlib.contextmanager
def running_for(use_case: str, *, keep: bool = False, say: Callable[[str], None] = print) -> Iterator[LocalState]:
    """Local mode for the length of a command: used as it is when it was already running; else started,
    and stopped at the end unless `keep` (then the command says where it runs and how to stop it)."""
    was_running = is_running(read_state(use_case))
    if not was_running:
        say(f"starting local mode for {use_case} (moto, the Bedrock simulator, the local API) ...")
    state = up(use_case)
    try:
        yield state
    finally:
        if not was_running and not keep:
            down(use_case)
            say("stopped the local mode this command started (--keep-local keeps it running)")
        elif not was_running:
            say(
                f"local mode for {use_case} keeps running at {state.api_url}; stop it: liftoff local down --use-case {use_case}"
            )


def down(use_case: str | None = None) -> bool:
    """Stop local mode of `use_case`, or of every use case; True when something was running."""
    if use_case is None:
        names = [p.stem for p in STATE_DIR.glob("*.json")] if STATE_DIR.is_dir() else []
        return any([_stop(name) for name in names])
    return _stop(use_case)


def _stop(use_case: str) -> bool:
    state = read_state(use_case)
    state_file(use_case).unlink(missing_ok=True)
    if state is None:
        return False
    try:
        os.killpg(state.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    for _ in range(50):
        if _exited(state.pid):
            return True
        time.sleep(0.1)
    os.killpg(state.pid, signal.SIGKILL)
    _exited(state.pid)
    return True


def _exited(pid: int) -> bool:
    """Whether local mode's process `pid` has exited. Started by this process (up(), e.g. `liftoff load`), it is
    our child: once exited it stays a zombie, which signal 0 still finds, until it is reaped here."""
    try:
        reaped, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # another process started it: gone when signal 0 finds nothing
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return reaped == pid


if __name__ == "__main__":
    serve(sys.argv[1], Path(sys.argv[2]))
