"""`liftoff doctor`: is this machine (and, when there are credentials, this AWS account) ready?

Each check says OK, WARN or FAIL and, when not OK, what to do. Toolchain FAILs make the exit code 1;
AWS checks are skipped without credentials (local mode needs none) and only warn otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

from liftoff import NODE_MIN_MAJOR, NODE_RECOMMENDED_MAJOR, REPO_ROOT
from liftoff.foundation.errors import ConfigError

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
AWS_TIMEOUT_S = 5
# What a model's provider needs once per account before the first call (Bedrock user guide, model access)
THIRD_PARTY_ENABLEMENT = {
    "anthropic": (
        "Anthropic models need a one-time enablement per account: Bedrock console > Model catalog > open the model "
        "> submit the first-use form (use-case details), and let Bedrock subscribe the account in AWS Marketplace "
        "(the deploying identity needs aws-marketplace:Subscribe once); then run preflight again"
    ),
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""
    listing: str = ""  # printed in full below the table (a config error's problems, as synth prints them)


def _run(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=REPO_ROOT)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def check_python() -> Check:
    """The Python .venv (and so every test) runs on, against the Lambda runtime's."""
    from liftoff.foundation.packaging import PYTHON_VERSION

    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < (3, 11):  # noqa: UP036 - the doctor reports, it does not assume
        return Check("Python", FAIL, version, f"install Python {PYTHON_VERSION} and run `make setup`")
    if f"{sys.version_info[0]}.{sys.version_info[1]}" != PYTHON_VERSION:
        return Check(
            "Python",
            WARN,
            f"tests run on {version}; the functions run on {PYTHON_VERSION}",
            f"install Python {PYTHON_VERSION} (e.g. `pyenv install {PYTHON_VERSION}`), then `rm -rf .venv && make setup`",
        )
    return Check("Python", OK, f"{version}: tests run on the Lambda runtime's Python")


def check_node() -> Check:
    """Node.js for the CDK CLI and jsii: NODE_MIN_MAJOR or newer, NODE_RECOMMENDED_MAJOR recommended."""
    wanted = f"Node.js {NODE_MIN_MAJOR} or newer ({NODE_RECOMMENDED_MAJOR} LTS recommended, https://nodejs.org)"
    out = _run(["node", "--version"])
    if out is None:
        return Check("Node.js", FAIL, "not found", f"install {wanted}, then `make setup`")
    major = int(out.lstrip("v").split(".")[0])
    if major < NODE_MIN_MAJOR:
        return Check("Node.js", FAIL, out, f"install {wanted}; the CDK CLI and jsii need {NODE_MIN_MAJOR} or newer")
    if major < NODE_RECOMMENDED_MAJOR:
        return Check(
            "Node.js",
            OK,
            f"{out} (supported; jsii's end-of-life notice is silenced by liftoff)",
            f"move to Node.js {NODE_RECOMMENDED_MAJOR} LTS when you can",
        )
    return Check("Node.js", OK, out)


def check_cdk_cli() -> Check:
    local = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    if not local.exists():
        return Check("CDK CLI", FAIL, "not in node_modules", "run `make setup` (npm ci of the pinned aws-cdk)")
    pinned = json.loads((REPO_ROOT / "package-lock.json").read_text())["packages"]["node_modules/aws-cdk"]["version"]
    return Check("CDK CLI", OK, f"aws-cdk {pinned} (pinned in package-lock.json)")


def check_python_packages() -> Check:
    from liftoff.foundation.packaging import pinned_requirements

    wanted = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            wanted[name.strip()] = version.split()[0]
    wanted.update(pinned_requirements())  # what the functions run (lambdas/requirements.txt)
    wrong = []
    for name, version in wanted.items():
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            found = "missing"
        if found != version:
            wrong.append(f"{name} {found} (want {version})")
    if wrong:
        return Check("Python packages", FAIL, "; ".join(wrong), "run `make setup`")
    return Check("Python packages", OK, f"{len(wanted)} pinned packages as required")


def check_use_cases() -> Check:
    """Every use case loads as synth loads it; on failure, the same messages synth prints (file and field)."""
    from liftoff.foundation.usecases import load_all_use_cases

    try:
        names = [u.name for u in load_all_use_cases()]
    except ConfigError as exc:
        first, _, rest = str(exc).partition("\n")
        return Check("Use cases", FAIL, first, "fix the fields listed below the table, then run it again", rest)
    return Check("Use cases", OK, ", ".join(names))


def check_chromium() -> Check:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found:
        return Check("Chromium (report test)", OK, found)
    return Check("Chromium (report test)", WARN, "not found", "`apt-get install chromium`; else that one test skips")


def aws_checks(session_factory: Callable | None = None) -> list[Check]:
    """Credentials, Region, model access for every configured model, the cost-allocation tag."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    session = (session_factory or boto3.Session)()
    if session.get_credentials() is None:
        return [Check("AWS credentials", SKIP, "none found (local mode needs none)", "to deploy: `aws configure sso`")]
    region = session.region_name
    if not region:
        return [
            Check(
                "AWS Region",
                WARN,
                "not set",
                "export AWS_DEFAULT_REGION (boto3 does not read AWS_REGION) or set a profile's region before `cdk deploy`",
            )
        ]
    config = Config(connect_timeout=AWS_TIMEOUT_S, read_timeout=AWS_TIMEOUT_S, retries={"max_attempts": 1})
    checks: list[Check] = []
    try:
        identity = session.client("sts", config=config).get_caller_identity()
        checks.append(Check("AWS credentials", OK, f"{identity['Arn']} in {region}"))
    except (BotoCoreError, ClientError) as exc:
        return [Check("AWS credentials", WARN, f"cannot use them: {exc}", "refresh them (`aws sso login`)")]
    checks += model_access_checks(session.client("bedrock", config=config))
    checks.append(cost_tag_check(session.client("ce", config=config)))
    return checks


def model_access_checks(bedrock) -> list[Check]:
    from botocore.exceptions import BotoCoreError, ClientError

    from liftoff.foundation.bedrock_ids import split_model_id
    from liftoff.foundation.usecases import load_all_use_cases

    models = sorted({m for u in load_all_use_cases() for m in u.config.models.allowed})
    checks = []
    for model in models:
        foundation = split_model_id(model)[1]
        try:
            availability = bedrock.get_foundation_model_availability(modelId=foundation)
        except (BotoCoreError, ClientError) as exc:
            checks.append(Check(f"Model {model}", WARN, f"cannot check: {exc}", "check Bedrock > Model access"))
            continue
        missing = availability_problems(availability)
        if not missing:
            checks.append(Check(f"Model {model}", OK, "available and authorized in this Region"))
        else:
            checks.append(
                Check(
                    f"Model {model}",
                    WARN,
                    ", ".join(missing),
                    THIRD_PARTY_ENABLEMENT.get(
                        foundation.split(".")[0],  # the provider: amazon, anthropic, ...
                        "Bedrock console > Model access: request access (and accept the agreement) in this Region",
                    ),
                )
            )
    return checks


def availability_problems(answer: dict) -> list[str]:
    """What keeps a model from being called, from GetFoundationModelAvailability (empty: callable)."""
    wanted = {
        "authorizationStatus": "AUTHORIZED",
        "entitlementAvailability": "AVAILABLE",
        "regionAvailability": "AVAILABLE",
    }
    problems = [f"{k} {answer.get(k, '?')}" for k, v in wanted.items() if answer.get(k) != v]
    agreement = answer.get("agreementAvailability", {}).get("status", "AVAILABLE")
    if agreement != "AVAILABLE":
        problems.append(f"agreement {agreement}")
    return problems


def cost_tag_check(ce) -> Check:
    """The budget filters on these tags: until each is an active cost-allocation tag, it sees no cost."""
    from botocore.exceptions import BotoCoreError, ClientError

    from liftoff.foundation.config import STAGE_TAG, USE_CASE_TAG

    keys = [USE_CASE_TAG, STAGE_TAG]
    names = " and ".join(f"`{k}`" for k in keys)
    try:
        tags = ce.list_cost_allocation_tags(TagKeys=keys).get("CostAllocationTags", [])
    except (BotoCoreError, ClientError) as exc:
        return Check("Cost-allocation tag", WARN, f"cannot check: {exc}", f"activate {names} in Billing")
    active = {t.get("TagKey") for t in tags if t.get("Status") == "Active"}
    inactive = [k for k in keys if k not in active]
    if not inactive:
        return Check("Cost-allocation tag", OK, f"{names} are active: budgets can see each use case's cost")
    return Check(
        "Cost-allocation tag",
        WARN,
        f"{' and '.join(f'`{k}`' for k in inactive)} not active: the budgets see no cost",
        f"Billing console > Cost allocation tags > activate {names} (after a first deploy has tagged resources)",
    )


def run_checks(session_factory: Callable | None = None) -> list[Check]:
    local = [
        check_python(),
        check_node(),
        check_cdk_cli(),
        check_python_packages(),
        check_use_cases(),
        check_chromium(),
    ]
    return local + aws_checks(session_factory)


def main(argv: list[str] | None = None) -> int:
    """`python -m liftoff.doctor --node`: the Node.js check alone, for `make setup` (exit 1 on FAIL)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["--node"]:
        print("usage: python -m liftoff.doctor --node   (the full check is `liftoff doctor`)", file=sys.stderr)
        return 2
    check = check_node()
    print(f"    Node.js: {check.status} {check.detail}" + (f": {check.fix}" if check.fix else ""))
    return 1 if check.status == FAIL else 0


if __name__ == "__main__":
    sys.exit(main())
