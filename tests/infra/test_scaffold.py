"""`liftoff new-use-case` end to end in a temp copy of the repo's use cases: create, synthesize
(cdk-nag on), run the new eval set against the Bedrock simulator; refuse bad names and overwrites."""

import shutil

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from liftoff import REPO_ROOT
from liftoff.evals.runner import run_cases
from liftoff.evals.targets import BedrockTarget
from liftoff.foundation.config import get_stage
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.eval_cases import load_cases, load_suite
from liftoff.foundation.usecases import load_use_case
from liftoff.local.bedrock_simulator import start_simulator
from liftoff.scaffold import new_use_case
from stacks.nag import add_nag_checks
from stacks.usecase_stack import UseCaseStack


@pytest.fixture
def root(tmp_path):
    for folder in ("usecases", "prompts", "evals"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    return tmp_path


def test_a_new_use_case_synthesizes_and_passes_its_eval_on_the_simulator(root, tmp_path):
    created = new_use_case("faq-bot", root=root)
    assert {p.relative_to(root).as_posix() for p in created.files} == {
        "usecases/faq-bot.yaml",
        "prompts/faq-bot/answer.yaml",
        "evals/faq-bot/suite.yaml",
        "evals/faq-bot/clean.jsonl",
    }
    use_case = load_use_case("faq-bot", root)
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = UseCaseStack(
        app,
        "Liftoff-faq-bot-sandbox",
        use_case=use_case,
        stage=get_stage("sandbox"),
        env=cdk.Environment(account="111111111111", region="us-east-1"),
    )
    add_nag_checks(app)
    app.synth()  # no unacknowledged cdk-nag finding
    Template.from_stack(stack).resource_count_is("AWS::Lambda::Function", 6)

    import boto3

    server, url = start_simulator()
    try:
        client = boto3.client("bedrock-runtime", endpoint_url=url, region_name="us-east-1")
        target = BedrockTarget(
            client, {p.prompt_id: p for p in use_case.prompts}, model_id=None, prices=use_case.prices
        )
        run = run_cases(
            load_cases("faq-bot", root=root), load_suite("faq-bot", root), target, use_case.config.exit_criteria
        )
    finally:
        server.shutdown()
    assert run.summary.errors == 0
    assert run.summary.verdict, [r.checks for r in run.results if r.status != "pass"]


def test_a_retrieval_use_case_loads_with_its_knowledge_base_and_synthesizes(root, tmp_path):
    # Given a project, When a retrieval use case is scaffolded
    created = new_use_case("policy-bot", retrieval=True, root=root)
    written = {p.relative_to(root).as_posix() for p in created.files}
    assert written == {
        "usecases/policy-bot.yaml",
        "prompts/policy-bot/answer.yaml",
        "prompts/policy-bot/schemas/answer.json",
        "evals/policy-bot/suite.yaml",
        "evals/policy-bot/cases.jsonl",
        "knowledge/policy-bot/example-leave-policy.md",
        "knowledge/policy-bot/example-expenses-policy.md",
        "knowledge/policy-bot/example-expenses-policy.md.metadata.json",
    }
    # Then it loads: a knowledge base over its own folder, the three retrieval criteria, a retrieval prompt
    use_case = load_use_case("policy-bot", root)
    knowledge = use_case.config.knowledge
    assert knowledge is not None and knowledge.documents_path("policy-bot") == "knowledge/policy-bot"
    criteria = use_case.config.exit_criteria
    assert None not in (criteria.max_ungrounded_rate, criteria.min_retrieval_recall, criteria.max_hallucination_rate)
    (prompt,) = use_case.prompts
    assert prompt.retrieval is not None and "{{context}}" in prompt.template
    assert prompt.output.format == "json" and set(prompt.output.schema_["required"]) == {"answer", "citations"}
    # its example documents say to replace them, and its eval set has answerable cases naming documents that
    # exist, and unanswerable ones
    documents = root / "knowledge" / "policy-bot"
    for document in documents.glob("*.md"):
        assert "(replace this file)" in document.read_text()
    cases = load_cases("policy-bot", root=root)
    answerable = [c for c in cases if c.answerable]
    assert answerable and all(c.expected_sources for c in answerable)
    assert {s for c in answerable for s in c.expected_sources} <= {p.name for p in documents.iterdir()}
    assert any(not c.answerable for c in cases)
    # and its stack synthesizes with cdk-nag on
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = UseCaseStack(
        app,
        "Liftoff-policy-bot-sandbox",
        use_case=use_case,
        stage=get_stage("sandbox"),
        env=cdk.Environment(account="111111111111", region="us-east-1"),
    )
    add_nag_checks(app)
    app.synth()
    template = Template.from_stack(stack)
    # with its knowledge base on S3 Vectors over the scaffolded documents
    template.resource_count_is("AWS::Bedrock::KnowledgeBase", 1)
    template.resource_count_is("AWS::Bedrock::DataSource", 1)
    template.resource_count_is("AWS::S3Vectors::Index", 1)
    template.has_resource_properties("AWS::Bedrock::KnowledgeBase", {"StorageConfiguration": {"Type": "S3_VECTORS"}})


def test_retrieval_and_from_are_refused_together(root):
    with pytest.raises(ConfigError, match="give one of them"):
        new_use_case("policy-bot", source="fixture-triage", retrieval=True, root=root)
    assert not (root / "usecases" / "policy-bot.yaml").exists()


def test_copy_from_an_existing_use_case_on_another_model(root):
    new_use_case("triage-two", source="fixture-triage", model="us.amazon.nova-lite-v1:0", root=root)
    use_case = load_use_case("triage-two", root)
    assert use_case.config.models.allowed == ["us.amazon.nova-lite-v1:0"]
    assert {p.model_id for p in use_case.prompts} == {"us.amazon.nova-lite-v1:0"}
    assert load_cases("triage-two", root=root)


@pytest.mark.parametrize("name", ["ab", "Bad", "under_score", "-lead", "trail-", "x" * 41, "9lives"])
def test_bad_names_are_refused(root, name):
    with pytest.raises(ConfigError, match="not a valid use-case name"):
        new_use_case(name, root=root)


def test_an_existing_name_is_refused_and_nothing_is_overwritten(root):
    before = (root / "usecases" / "fixture-triage.yaml").read_text()
    with pytest.raises(ConfigError, match="exists already"):
        new_use_case("fixture-triage", root=root)
    assert (root / "usecases" / "fixture-triage.yaml").read_text() == before


def test_an_unpriced_model_is_refused_before_anything_is_written(root):
    with pytest.raises(ConfigError, match="no price"):
        new_use_case("faq-bot", model="vendor.unknown-model-v1:0", root=root)
    assert not (root / "usecases" / "faq-bot.yaml").exists()


def test_a_failed_validation_leaves_nothing_behind(root, monkeypatch):
    import liftoff.scaffold as scaffold

    def broken(name, root):
        raise ConfigError("boom")

    monkeypatch.setattr(scaffold, "validate", broken)
    with pytest.raises(ConfigError, match="boom"):
        new_use_case("faq-bot", root=root)
    assert not any((root / d / "faq-bot").exists() for d in ("prompts", "evals", "knowledge"))
    assert not (root / "usecases" / "faq-bot.yaml").exists()
