from pathlib import Path

import pytest
import yaml

from liftoff import REPO_ROOT
from liftoff.foundation.config import get_stage, load_use_case_config, retry_backoff_bound_seconds
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import load_all_use_cases, load_prompt_file, load_prompts, load_use_case

REPO = Path(__file__).resolve().parents[2]
TRIAGE = yaml.safe_load((REPO_ROOT / "usecases/fixture-triage.yaml").read_text())


def write(tmp_path: Path, data: dict, name: str = "fixture-triage") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_shipped_use_case_loads():
    # Given the repo's use cases / When loaded / Then each has prompts whose models are allowed
    for use_case in load_all_use_cases():
        assert use_case.prompts
        assert all(p.model_id in use_case.config.models.allowed for p in use_case.prompts)


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d["exit_criteria"].pop("min_accuracy"), "exit_criteria.min_accuracy", "Field required"),
        (lambda d: d["exit_criteria"].update(min_accuracy=1.5), "exit_criteria.min_accuracy", "less than or equal"),
        (lambda d: d["budget"].update(alert_emails=["not-an-email"]), "budget.alert_emails.0", "email"),
        (lambda d: d["models"].update(default="us.other-model-v1:0"), "models", "must be one of `allowed`"),
        (lambda d: d["models"].update(timeout_seconds=20, max_attempts=3), "models", "exceeds"),
        (lambda d: d["api"].update(throttle_burst=0), "api.throttle_burst", "greater than 0"),
        (lambda d: d.update(surprise=True), "surprise", "Extra inputs"),
        (lambda d: d["budget"].update(daily_cap_usd=0), "budget.daily_cap_usd", "greater than 0"),
        (
            lambda d: d["budget"].update(alert_emails=[f"a{i}@example.com" for i in range(11)]),
            "budget.alert_emails",
            "at most 10",
        ),
        (
            lambda d: d.update(logging={"redact_patterns": {"ORDER": "ORD-(\\d+"}}),
            "logging.redact_patterns.ORDER",
            "not a valid regex",
        ),
        (lambda d: d.update(logging={"redact_patterns": {"order id": "x"}}), "logging", "upper-case"),
        (lambda d: d.pop("guardrail"), "guardrail", "Field required"),
        (lambda d: d["guardrail"].pop("enabled"), "guardrail.enabled", "Field required"),  # off must be explicit
        (lambda d: d["guardrail"].update(pii={"SSN": "BLOCK"}), "guardrail", "unknown entity type(s) SSN"),
        (lambda d: d["guardrail"].update(prompt_attack="EXTREME"), "guardrail.prompt_attack", "Input should be"),
        (lambda d: d["models"].update(fallback="us.other-model-v1:0"), "models", "`fallback`"),
        (
            lambda d: d["models"].update(fallback="us.amazon.nova-lite-v1:0", timeout_seconds=8, max_attempts=2),
            "models",
            "x 2 (fallback) = 38s exceeds",
        ),
        # 3 attempts x (1 s connect + 8 s read) + 3 s backoff = 30 s: every attempt counted, not just the retries
        (lambda d: d["models"].update(timeout_seconds=8, max_attempts=3), "models", "= 30s exceeds the 27s"),
        # a rule across sections names its fields itself
        (lambda d: d.update(capacity={"reserved_concurrency": 3}), "capacity.reserved_concurrency 3", "that needs 25"),
        # cost_center becomes a tag on the Bedrock resources, whose tag values are [a-zA-Z0-9\s._:/=+@-]*, <= 256
        (lambda d: d.update(cost_center="R&D (EU)"), "cost_center", "Bedrock refuses '&()'"),
        (lambda d: d.update(cost_center="caf\u00e9"), "cost_center", "Bedrock refuses '\u00e9'"),
        (lambda d: d.update(cost_center="x" * 257), "cost_center", "at most 256 characters"),
    ],
)
def test_config_error_names_file_and_field(tmp_path, mutate, field, words):
    # Given a config with one mistake
    data = yaml.safe_load(yaml.safe_dump(TRIAGE))
    mutate(data)
    # When it is loaded / Then the error names the file and the field
    with pytest.raises(ConfigError) as err:
        load_use_case_config(write(tmp_path, data))
    message = str(err.value)
    assert "fixture-triage.yaml" in message
    assert f"field `{field}`" in message or f"  - {field}" in message
    assert words in message and "(top level)" not in message


def test_name_must_match_file(tmp_path):
    with pytest.raises(ConfigError, match="field `name` is `fixture-triage` but the file is `other.yaml`"):
        load_use_case_config(write(tmp_path, TRIAGE, name="other"))


def test_yaml_syntax_error_names_line(tmp_path):
    path = tmp_path / "fixture-triage.yaml"
    path.write_text("name: fixture-triage\nmodels: [unclosed\n")
    with pytest.raises(ConfigError, match=r"fixture-triage.yaml:\d+: not valid YAML"):
        load_use_case_config(path)


def test_unknown_stage_is_refused():
    assert get_stage("prod").deletion_protection
    with pytest.raises(ConfigError, match="unknown stage `qa`"):
        get_stage("qa")


def test_lambda_timeout_covers_every_model_attempt(triage):
    models = triage.config.models
    worst = models.max_attempts * (models.connect_timeout_seconds + models.timeout_seconds)
    assert triage.config.lambda_timeout_seconds >= worst + retry_backoff_bound_seconds(models.max_attempts)
    assert triage.config.lambda_timeout_seconds <= 29


def test_a_knowledge_use_cases_lambda_timeout_covers_its_retrieve_then_its_model_attempts():
    # Given fixture-rag: 2 model attempts of 1 + 8 s and 1 s of backoff; Retrieve's defaults, 2 of 1 + 2 s and 1 s
    config = load_use_case("fixture-rag").config
    assert config.models.model_budget_seconds == 19
    assert config.knowledge.retrieval_budget_seconds == 7
    # Then the request may take both, and the function waits for both (with its headroom) within the 29 s
    assert config.request_budget_seconds == 26
    assert config.lambda_timeout_seconds == 28


def test_retrieval_and_model_attempts_beyond_what_the_api_can_wait_are_refused_naming_the_fields(tmp_path):
    # Given fixture-rag with Retrieve allowed 3 attempts of 1 + 5 s (20 s), before 19 s of model attempts
    raw = yaml.safe_load((REPO_ROOT / "usecases/fixture-rag.yaml").read_text())
    raw["knowledge"].update(timeout_seconds=5, max_attempts=3)
    path = tmp_path / "fixture-rag.yaml"
    path.write_text(yaml.safe_dump(raw))
    # When it is loaded / Then the file, the fields and the sum are named, with what to lower
    with pytest.raises(ConfigError) as raised:
        load_use_case_config(path)
    message = str(raised.value)
    assert "fixture-rag.yaml" in message and "knowledge: max_attempts 3" in message
    assert "= 21s of retrieval, then models: 19s, is 40s: above the 27s the API can wait" in message
    assert "lower knowledge.timeout_seconds" in message


@pytest.mark.parametrize("attempts", [1, 2, 3, 5, 8])
def test_backoff_bound_is_botocores_longest_wait(attempts):
    # Given botocore's standard backoff with its jitter at the maximum and a throttling error every time
    from types import SimpleNamespace

    from botocore.retries.standard import ExponentialBackoff

    class Throttling:
        def is_throttling_error_from_context(self, context):
            return True

    backoff = ExponentialBackoff(random=lambda: 1.0, throttling_detector=Throttling())
    # When every wait between the attempts is added up
    waits = [
        backoff.delay_amount(SimpleNamespace(attempt_number=n, http_response=None, parsed_response=None))
        for n in range(1, attempts)
    ]
    # Then the config's bound is exactly that sum
    assert retry_backoff_bound_seconds(attempts) == pytest.approx(sum(waits))


PROMPT = {
    "description": "d",
    "model_id": "us.amazon.nova-micro-v1:0",
    "template": "Hello {{name}}",
    "variables": [{"name": "name"}],
}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"template": "Hello {{name}} from {{place}}"}, "undeclared variables: place"),
        ({"variables": [{"name": "name"}, {"name": "unused"}]}, "never used in the template: unused"),
        ({"inference": {"temperature": 3}}, "field `inference.temperature`"),
        ({"model_id": "us.amazon.nova-pro-v1:0"}, "field `model_id` is `us.amazon.nova-pro-v1:0`, which is not in"),
    ],
)
def test_prompt_file_errors_name_file_and_field(tmp_path, triage, change, words):
    folder = tmp_path / "prompts" / "fixture-triage"
    folder.mkdir(parents=True)
    (folder / "greet.yaml").write_text(yaml.safe_dump({**PROMPT, **change}))
    with pytest.raises(ConfigError) as err:
        load_prompts(triage.config, root=tmp_path)
    assert "greet.yaml" in str(err.value)
    assert words in str(err.value)


def test_prompt_id_comes_from_file_name(tmp_path):
    path = tmp_path / "greet.yaml"
    path.write_text(yaml.safe_dump({**PROMPT, "prompt_id": "other"}))
    with pytest.raises(ConfigError, match="field `prompt_id` is `other` but the file is `greet.yaml`"):
        load_prompt_file(path)


def test_cost_center_accepts_every_character_of_the_tag_value_rule(tmp_path):
    # Given a cost center using each character Bedrock's tag values allow, 256 long
    value = ("Support Ops_1.2:eu/west=+@-" * 10)[:256]
    data = {**yaml.safe_load(yaml.safe_dump(TRIAGE)), "cost_center": value}
    # When loaded / Then it is kept as written
    assert load_use_case_config(write(tmp_path, data)).cost_center == value


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ("rate(1 hours)", "write `rate(1 hour)`"),  # EventBridge Scheduler: a singular unit for 1
        ("rate(2 day)", "write `rate(2 days)`"),  # and a plural one above
        ("rate(0 hours)", "is not `off` or `rate("),  # a positive value
        ("rate(4 days)", "604,800 s"),  # 2 evaluation periods x 4 days > CloudWatch's 7 days
        ("rate(85 hours)", "604,800 s"),
        ("rate(30 minutes)", "at most hourly"),
    ],
)
def test_a_canary_schedule_that_would_not_deploy_is_refused(tmp_path, schedule, words):
    # Given a golden canary schedule EventBridge Scheduler or CloudWatch would refuse at deploy
    data = yaml.safe_load(yaml.safe_dump(TRIAGE))
    data["monitoring"] = {"canary": {"schedule": schedule}}
    # When the config is loaded / Then it fails at synth, naming the file and the field
    with pytest.raises(ConfigError) as err:
        load_use_case_config(write(tmp_path, data))
    assert "fixture-triage.yaml" in str(err.value) and "field `monitoring.canary.schedule`" in str(err.value)
    assert words in str(err.value)


@pytest.mark.parametrize(
    "schedule", ["rate(1 hour)", "rate(2 hours)", "rate(1 day)", "rate(3 days)", "rate(84 hours)", "off"]
)
def test_canary_schedules_that_deploy_are_accepted(tmp_path, schedule):
    data = yaml.safe_load(yaml.safe_dump(TRIAGE))
    data["monitoring"] = {"canary": {"schedule": schedule}}
    assert load_use_case_config(write(tmp_path, data)).monitoring.canary.schedule == schedule


def test_a_golden_run_that_cannot_fit_the_canary_timeout_fails_synth_naming_the_field(triage):
    # Given one golden case at a time: 20 cases x 2 versions x 60 s worst case each = 2,415 s > 900 s
    from dataclasses import replace

    from liftoff.foundation.canary import CANARY_TIMEOUT_S, canary_budget

    config = triage.config.model_copy(
        update={
            "monitoring": triage.config.monitoring.model_copy(
                update={"canary": triage.config.monitoring.canary.model_copy(update={"concurrency": 1})}
            )
        }
    )
    # When the budget is checked (canary_payload does, at synth) / Then it names the file and the field
    with pytest.raises(ConfigError) as err:
        canary_budget(replace(triage, config=config), 20)
    message = str(err.value)
    assert "usecases/fixture-triage.yaml: field `monitoring.canary.concurrency` (1)" in message
    assert f"exceeds the canary function's {CANARY_TIMEOUT_S}s timeout" in message
    # and the shipped concurrency fits: 40 runs / 4 = 10 rounds x 60 s + 15 s
    assert canary_budget(triage, 20).worst_run_s == 615 <= CANARY_TIMEOUT_S


def test_a_retrieval_use_cases_golden_case_budgets_its_retrieve_before_its_model_calls():
    from liftoff.foundation.canary import canary_budget

    # Given fixture-rag: Retrieve's 7 s, then its model calls (the first and any repair) of 19 s each, and
    # 3 DynamoDB calls of 2 attempts x (1 + 1) s
    rag = load_use_case("fixture-rag")
    repairs = max((p.output.repair_attempts for p in rag.prompts if p.output.format == "json"), default=0)
    # Then one golden case may take all of them
    assert canary_budget(rag, 5).case_s == 7 + (1 + repairs) * 19 + 3 * 2 * 2
