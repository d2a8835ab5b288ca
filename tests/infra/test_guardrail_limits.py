"""Config accepts exactly what Bedrock and CloudFormation accept for a guardrail: the limits come from
botocore's Bedrock model, agree with cfn-lint's CloudFormation schema, and a config at every maximum
synthesizes to a template cfn-lint passes."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import cfnlint
import pytest
import yaml

from liftoff import REPO_ROOT
from liftoff.foundation.config import GUARDRAIL_LIMITS, get_stage, guardrail_limit, load_use_case_config
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import load_use_case
from stacks.constructs.model_guardrail import GUARDRAIL_NAME_MAX
from stacks.usecase_stack import UseCaseStack

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
# Where each limit sits in the AWS::Bedrock::Guardrail CloudFormation schema: (definition, property, items?)
CFN_PATHS = {
    "topic_name": ("TopicConfig", "Name"),
    "topic_definition": ("TopicConfig", "Definition"),
    "topic_example": ("TopicConfig", "Examples", "items"),
    "topic_examples": ("TopicConfig", "Examples"),
    "topics": ("TopicPolicyConfig", "TopicsConfig"),
    "word": ("WordConfig", "Text"),
    "words": ("WordPolicyConfig", "WordsConfig"),
    "regex_name": ("RegexConfig", "Name"),
    "regex_pattern": ("RegexConfig", "Pattern"),
    "regexes": ("SensitiveInformationPolicyConfig", "RegexesConfig"),
    "blocked_message": (None, "BlockedInputMessaging"),
}


def cfn_schema(resource_type: str) -> dict:
    digest = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())[resource_type]
    (path,) = (SCHEMAS / "resources").glob(f"{digest}.json")
    return json.loads(path.read_text())


def cfn_limit(name: str) -> int | None:
    schema = cfn_schema("AWS::Bedrock::Guardrail")
    definition, prop, *items = CFN_PATHS[name]
    node = schema["properties"][prop] if definition is None else schema["definitions"][definition]["properties"][prop]
    if items:
        node = node["items"]
    return node.get("maxLength", node.get("maxItems"))


@pytest.mark.parametrize("name", sorted(GUARDRAIL_LIMITS))
def test_every_limit_fits_what_cloudformation_accepts(name):
    assert set(CFN_PATHS) == set(GUARDRAIL_LIMITS)
    limit, cfn = guardrail_limit(name), cfn_limit(name)
    assert limit >= 1
    assert cfn is None or limit <= cfn, f"{name}: config allows {limit}, CloudFormation {cfn}"


def test_denied_topic_definition_is_bedrocks_200_not_the_schemas_1000():
    # The CloudFormation schema allows 1000 (the Standard tier); CreateGuardrail, in the Classic tier this
    # template uses, allows 200: the config must refuse 201.
    assert guardrail_limit("topic_definition") == 200
    assert cfn_limit("topic_definition") == 1000


def at_the_maximum() -> dict:
    data = yaml.safe_load((REPO_ROOT / "usecases" / "fixture-triage.yaml").read_text())
    limit = guardrail_limit
    data["guardrail"]["denied_topics"] = [
        {
            "name": f"T{i:02d}" + "x" * (limit("topic_name") - 3),
            "definition": "d" * limit("topic_definition"),
            "examples": ["e" * limit("topic_example")] * limit("topic_examples"),
        }
        for i in range(limit("topics"))
    ]
    data["guardrail"]["blocked_words"] = [f"{i:05d}" + "w" * (limit("word") - 5) for i in range(100)]
    data["guardrail"]["regexes"] = [
        {"name": f"R{i:02d}" + "n" * (limit("regex_name") - 3), "pattern": "[0-9]" * (limit("regex_pattern") // 5)}
        for i in range(limit("regexes"))
    ]
    data["guardrail"]["blocked_input_message"] = "i" * limit("blocked_message")
    data["guardrail"]["blocked_output_message"] = "o" * limit("blocked_message")
    return data


def write(tmp_path, data) -> Path:
    path = tmp_path / "fixture-triage.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda g: g["denied_topics"][0].update(definition="d" * 201), "guardrail.denied_topics.0.definition"),
        (lambda g: g["denied_topics"][0]["examples"].append("e"), "guardrail.denied_topics.0.examples"),
        (lambda g: g["denied_topics"][0]["examples"].__setitem__(0, "e" * 101), "guardrail.denied_topics.0.examples.0"),
        (lambda g: g["blocked_words"].append("w" * 101), "guardrail.blocked_words.100"),
        (lambda g: g["regexes"].append({"name": "one-more", "pattern": "x"}), "guardrail.regexes"),
        (lambda g: g["regexes"][0].update(pattern="x" * 501), "guardrail.regexes.0.pattern"),
        (lambda g: g.update(blocked_input_message="i" * 501), "guardrail.blocked_input_message"),
    ],
)
def test_one_past_a_limit_is_refused_naming_the_field(tmp_path, mutate, field):
    data = at_the_maximum()
    load_use_case_config(write(tmp_path, data))  # at the maximum: accepted
    mutate(data["guardrail"])
    with pytest.raises(ConfigError) as err:
        load_use_case_config(write(tmp_path, data))
    assert f"field `{field}`" in str(err.value)
    assert "Bedrock Guardrails allow at most" in str(err.value)


def test_a_config_at_every_maximum_synthesizes_to_a_template_cfn_lint_passes(tmp_path):
    # Given fixture-triage with every guardrail field at its maximum and the longest use-case name
    config = load_use_case_config(write(tmp_path, at_the_maximum()))
    longest = "a" * 38 + "-z"  # 40 characters, the most a use-case name may have
    # (the golden canary is off: its cases come from evals/<name>/, which this made-up name has none of)
    canary_off = config.monitoring.model_copy(
        update={"canary": config.monitoring.canary.model_copy(update={"schedule": "off"})}
    )
    config = config.model_copy(update={"name": longest, "monitoring": canary_off})
    use_case = dataclasses.replace(load_use_case("fixture-triage"), config=config)
    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = UseCaseStack(
        app,
        "Max",
        use_case=use_case,
        stage=get_stage("prod"),
        env=cdk.Environment(account="1" * 12, region="us-east-1"),
    )
    app.synth()
    template = tmp_path / "out" / "Max.template.json"
    (guardrail,) = [
        r for r in json.loads(template.read_text())["Resources"].values() if r["Type"] == "AWS::Bedrock::Guardrail"
    ]
    assert len(guardrail["Properties"]["Name"]) <= GUARDRAIL_NAME_MAX
    # When cfn-lint checks the template against CloudFormation's schema / Then it finds nothing
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--config-file",
            str(REPO / ".cfnlintrc.yaml"),
            "--",
            str(template),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert stack.stack_name == "Max"
