"""The checks every synthesized template must pass, read per template: cdk-nag's validation report (both packs),
cfn-lint and checkov. The infra tests hold the fixture project's templates to them, the contract tests each use
case of the checkout (tests/contract/); a run covers a whole cdk.out, and each finding names its template."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from stacks.nag import PACKS
from tests.synth import VALIDATION_REPORT

CHECKOUT = Path(__file__).resolve().parents[1]
CHECKOV = CHECKOUT / ".tools" / "checkov" / "bin" / "checkov"
CHECKOV_SKIPS = CHECKOUT / "tools" / "checkov-skips.yaml"
TEMPLATE_SUFFIX = ".template.json"
NAG_REASON_MIN = 40  # characters: "because" is not a reason
CHECKOV_SKIP_REASON_MIN = 60
CHECKOV_INLINE_REASON_MIN = 40


def templates(outdir: Path) -> list[Path]:
    return sorted(Path(outdir).glob(f"*{TEMPLATE_SUFFIX}"))


def nag_problems(outdir: Path, stack: str | None = None) -> list[str]:
    """What is wrong in `outdir`'s cdk-nag validation report, for `stack`'s constructs (all, when None): a pack
    that did not run, a finding not acknowledged, no acknowledgement recorded at all, one without a real reason."""
    report = json.loads((Path(outdir) / VALIDATION_REPORT).read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    problems = [f"cdk-nag pack {pack} did not run" for pack in PACKS if pack not in plugins]

    def ours(finding: dict) -> list[str]:
        paths = [c["constructPath"] for c in finding.get("violatingConstructs", [])]
        return [p for p in paths if stack is None or p.startswith(f"{stack}/")]

    for name, plugin in plugins.items():
        problems += [f"{v['ruleName']} at {path}" for v in plugin.get("violations", []) for path in ours(v)]
        acknowledged = [f for f in plugin.get("suppressedViolations", []) if ours(f)]
        if not acknowledged:
            problems.append(f"{name}: no acknowledgement recorded (expected the documented ones)")
        problems += [
            f"{f['ruleName']} acknowledged at {f['acknowledgedAt']} without a real reason: {f['reason']!r}"
            for f in acknowledged
            if len(f["reason"]) <= NAG_REASON_MIN
        ]
    return problems


def _tail(done: subprocess.CompletedProcess, chars: int = 3000) -> str:
    """The end of what a tool wrote: enough to say why, short enough for a test report."""
    return (done.stdout + done.stderr)[-chars:]


def cfn_lint_findings(*outdirs: Path) -> dict[str, list[str]]:
    """cfn-lint, once over every template of `outdirs` with the repository's settings: template file name ->
    its findings (every template is a key)."""
    paths = [path for outdir in outdirs for path in templates(outdir)]
    assert paths, f"no {TEMPLATE_SUFFIX} in {', '.join(map(str, outdirs))}"
    command = [str(Path(sys.executable).parent / "cfn-lint"), "--config-file", str(CHECKOUT / ".cfnlintrc.yaml")]
    done = subprocess.run(
        [*command, "--format", "json", "--", *map(str, paths)], capture_output=True, text=True, check=False
    )
    try:
        matches = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"cfn-lint did not run (exit {done.returncode}): {_tail(done)}") from None
    findings: dict[str, list[str]] = {path.name: [] for path in paths}
    for match in matches:
        line = match["Location"]["Start"]["LineNumber"]
        findings[Path(match["Filename"]).name].append(f"{match['Rule']['Id']} line {line}: {match['Message']}")
    return findings


def _json_documents(text: str) -> list:
    """The JSON documents written one after the other in `text`."""
    decoder, documents, at = json.JSONDecoder(), [], 0
    while text[at:].strip():
        document, at = decoder.raw_decode(text, len(text) - len(text[at:].lstrip()))
        documents.append(document)
    if not documents:
        raise ValueError("no JSON document")
    return documents


@dataclass(frozen=True)
class CheckovRun:
    problems: dict[str, list[str]]  # template file name -> what is wrong in it (every template is a key)
    skipped: int  # per-resource skips checkov honoured, in every template


def checkov_findings(*outdirs: Path) -> CheckovRun:
    """checkov, once over `outdirs`: per template, a failed check (one not skipped with a recorded reason, the
    repository's list or the resource's own Metadata), an inline skip without a real reason, or a skipped
    check no resource records."""
    assert CHECKOV.exists(), "checkov is installed by `make test` (and `make test-infra`) into .tools/checkov"
    skips = yaml.safe_load(CHECKOV_SKIPS.read_text())
    short = [check for check, reason in skips.items() if len(reason) <= CHECKOV_SKIP_REASON_MIN]
    assert not short, f"{CHECKOV_SKIPS.name}: {', '.join(short)} need a real reason"
    directories = [arg for outdir in outdirs for arg in ("--directory", str(outdir))]
    command = [str(CHECKOV), *directories, "--framework", "cloudformation", "--skip-download"]
    done = subprocess.run(
        [*command, "--skip-check", ",".join(skips), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        reports = _json_documents(done.stdout)  # one report per directory (a list of them per framework)
    except ValueError:
        raise AssertionError(f"checkov did not run (exit {done.returncode}): {_tail(done)}") from None
    results = [r.get("results", {}) for found in reports for r in (found if isinstance(found, list) else [found])]
    problems: dict[str, list[str]] = {}
    inline: dict[str, set[tuple[str, str]]] = {}
    for outdir in outdirs:
        for path in templates(outdir):
            problems[path.name], inline[path.name] = [], set()
            # per-resource skips are CloudFormation Metadata on the resource, each with its comment
            for logical_id, resource in json.loads(path.read_text())["Resources"].items():
                for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                    inline[path.name].add((skip["id"], logical_id))
                    if len(skip.get("comment", "")) <= CHECKOV_INLINE_REASON_MIN:
                        problems[path.name].append(f"{skip['id']} skipped on {logical_id} without a real reason")
    skipped = 0
    for result in results:
        for failed in result.get("failed_checks", []):
            problems[Path(failed["file_path"]).name].append(
                f"{failed['check_id']} {failed['resource']}: {failed['check_name']}"
            )
        for skip in result.get("skipped_checks", []):
            skipped += 1
            template, logical_id = Path(skip["file_path"]).name, skip["resource"].split(".", 1)[1]
            if (skip["check_id"], logical_id) not in inline[template]:
                problems[template].append(f"{skip['check_id']} skipped on {logical_id}, which records no such skip")
    return CheckovRun(problems, skipped)


def _flat(by_template: dict[str, list[str]]) -> list[str]:
    return [f"{template}: {problem}" for template, problems in by_template.items() for problem in problems]


def assert_nag_clean(outdir: Path) -> None:
    """Zero unacknowledged findings of both packs in `outdir`, every acknowledgement with a real reason."""
    problems = nag_problems(outdir)
    assert problems == [], "\n".join(problems)


def assert_cfn_lint_clean(outdir: Path) -> None:
    problems = _flat(cfn_lint_findings(outdir))
    assert problems == [], "\n".join(problems)


def assert_checkov_clean(outdir: Path) -> None:
    """checkov finds nothing that is not skipped with a recorded reason, and the recorded per-resource skips
    show up as skipped."""
    run = checkov_findings(outdir)
    assert _flat(run.problems) == [], "\n".join(_flat(run.problems))
    assert run.skipped, "expected the recorded per-resource skips to show up as skipped"
