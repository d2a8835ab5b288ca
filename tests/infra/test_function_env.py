"""The invoke function's environment has one source (liftoff/foundation/function_env.py): the template sets every
variable the handler's Settings reads, and no other; local mode sets the same ones."""

from liftoff.foundation.function_env import POWERTOOLS_ENVIRONMENT
from liftoff.foundation.usecases import load_all_use_cases
from liftoff.local.runtime import handler_environment
from service.settings import Settings

# Read by Settings but set only when the feature is on in the use-case config
OPTIONAL = {
    "LIFTOFF_FALLBACK_MODEL_ID": lambda cfg: cfg.models.fallback is not None,
    "LIFTOFF_GUARDRAIL_ID": lambda cfg: cfg.guardrail.enabled,
    "LIFTOFF_GUARDRAIL_VERSION": lambda cfg: cfg.guardrail.enabled,
    # a use case with `knowledge:` (liftoff/foundation/function_env.py::knowledge_environment)
    "LIFTOFF_KNOWLEDGE_BASE_ID": lambda cfg: cfg.knowledge is not None,
    "LIFTOFF_RETRIEVAL_TOP_K": lambda cfg: cfg.knowledge is not None,
    "LIFTOFF_RETRIEVAL_MIN_SCORE": lambda cfg: cfg.knowledge is not None,
    "LIFTOFF_RETRIEVAL_PRICES": lambda cfg: cfg.knowledge is not None,
    "LIFTOFF_KNOWLEDGE_PREFIX": lambda cfg: cfg.knowledge is not None,
    "LIFTOFF_RETRIEVE_CONNECT_TIMEOUT_S": lambda cfg: cfg.knowledge is not None,
    "LIFTOFF_RETRIEVE_READ_TIMEOUT_S": lambda cfg: cfg.knowledge is not None,
    "LIFTOFF_RETRIEVE_MAX_ATTEMPTS": lambda cfg: cfg.knowledge is not None,
    "LIFTOFF_GROUNDING": lambda cfg: (
        cfg.knowledge is not None and cfg.knowledge.grounding.enabled and cfg.guardrail.enabled
    ),
}
# Set for local mode only: where the local services are, throwaway credentials, no X-Ray daemon
LOCAL_ONLY = {
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME",  # use cases with `knowledge:`: the local knowledge base
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "POWERTOOLS_TRACE_DISABLED",
}


class RecordingEnv(dict):
    """A mapping that remembers every key looked up."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


def read_by_settings(env: dict[str, str]) -> set[str]:
    recording = RecordingEnv(env)
    Settings.from_env(recording)
    return recording.read


def invoke_env(template) -> dict:
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "service.handlers.invoke.lambda_handler"}}
    )
    (function,) = functions.values()
    return function["Properties"]["Environment"]["Variables"]


def placeholder(value) -> str:
    """A CloudFormation value as the function would see it, references replaced by placeholders: a
    Fn::Join (JSON with ARNs inside, like LIFTOFF_MODEL_PROFILES) keeps its literal parts."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(placeholder(p) if isinstance(p, str) else "arn:aws:token" for p in parts)
    return "token"


def as_strings(env: dict) -> dict[str, str]:
    """CloudFormation references (table names, guardrail id, profile ARNs) stand in as placeholders."""
    return {k: placeholder(v) for k, v in env.items()}


def test_template_sets_what_settings_reads_and_nothing_else(synthesized):
    _, _, templates = synthesized
    for use_case in load_all_use_cases():
        cfg = use_case.config
        env = as_strings(invoke_env(templates[use_case.name]))
        read = read_by_settings(env)
        # Nothing set that nobody reads (Powertools reads its own three)
        assert set(env) - read == set(POWERTOOLS_ENVIRONMENT), use_case.name
        # Nothing read that is not set, except an option that is off in this config
        missing = read - set(env)
        assert all(key in OPTIONAL and not OPTIONAL[key](cfg) for key in missing), (use_case.name, missing)
        for key, is_on in OPTIONAL.items():
            assert (key in env) == is_on(cfg), (use_case.name, key)


def test_local_mode_sets_the_same_variables_as_the_template(synthesized):
    _, _, templates = synthesized
    for use_case in load_all_use_cases():
        local = handler_environment(
            use_case, table="t", spend_table="s", dynamodb_url="http://127.0.0.1:1", bedrock_url="http://127.0.0.1:2"
        )
        assert set(local) - LOCAL_ONLY == set(invoke_env(templates[use_case.name])), use_case.name


def test_settings_parse_the_template_environment(synthesized):
    _, _, templates = synthesized
    for use_case in load_all_use_cases():
        settings = Settings.from_env(as_strings(invoke_env(templates[use_case.name])))
        models = use_case.config.models
        assert settings.bedrock_max_attempts == models.max_attempts
        assert settings.bedrock_read_timeout_s == models.timeout_seconds
        assert settings.bedrock_connect_timeout_s == models.connect_timeout_seconds
        assert settings.daily_cap_usd == use_case.config.budget.daily_cap_usd
        assert set(settings.model_prices) == set(models.allowed)


def test_the_feedback_function_gets_exactly_what_its_settings_read(synthesized):
    from service.settings import FeedbackSettings

    _, _, templates = synthesized
    for use_case in load_all_use_cases():
        (function,) = (
            templates[use_case.name]
            .find_resources(
                "AWS::Lambda::Function", {"Properties": {"Handler": "service.handlers.feedback.lambda_handler"}}
            )
            .values()
        )
        env = as_strings(function["Properties"]["Environment"]["Variables"])
        recording = RecordingEnv(env)
        settings = FeedbackSettings.from_env(recording)
        # exactly what it reads (Powertools reads its own three)
        assert set(env) - recording.read == set(POWERTOOLS_ENVIRONMENT), use_case.name
        assert recording.read <= set(env), use_case.name  # and nothing read that is not set
        assert settings.capture_ttl_days == use_case.config.capture.ttl_days


def test_the_feedback_role_may_read_its_key_and_update_captures_only(synthesized):
    _, _, templates = synthesized
    for use_case in load_all_use_cases():
        template = templates[use_case.name]
        policies = template.find_resources("AWS::IAM::Policy")
        (feedback,) = [p for name, p in policies.items() if name.startswith("FeedbackFunctionRole")]
        statements = {s["Sid"]: s for s in feedback["Properties"]["PolicyDocument"]["Statement"] if "Sid" in s}
        assert statements["RateCapturedRequests"]["Action"] == "dynamodb:UpdateItem"
        assert statements["RateCapturedRequests"]["Resource"]["Fn::GetAtt"][0].startswith("CaptureTable")
        assert statements["ReadFeedbackKey"]["Action"] == "secretsmanager:GetSecretValue"
        assert statements["ReadFeedbackKey"]["Resource"]["Ref"].startswith("FeedbackKey")
        assert set(statements) == {"RateCapturedRequests", "ReadFeedbackKey", "WriteOwnLogs"}
