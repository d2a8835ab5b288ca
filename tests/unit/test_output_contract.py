"""The output contract: prompt files declare the answer's shape; the handler asks for it by the model's
mechanism, validates, repairs, or refuses; every attempt is billed; the simulator answers as Converse."""

import hashlib
import json
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import ANY, Stubber

from liftoff import REPO_ROOT
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import load_all_use_cases, load_prompt_file, load_prompts
from service.dal.model_client import ModelClient, ModelReply, Repair, StructuredOutput
from service.dal.prompt_store import PromptStore
from service.logic.output_contract import problem_with
from service.models.prompt import OutputSpec

REPO = Path(__file__).resolve().parents[2]
SCHEMA = {
    "type": "object",
    "required": ["category"],
    "additionalProperties": False,
    "properties": {"category": {"enum": ["billing", "other"]}},
}


def prompt_file(tmp_path, output: dict, name: str = "p") -> tuple:
    data = {
        "description": "d",
        "model_id": "us.amazon.nova-micro-v1:0",
        "template": "{{message}}",
        "variables": [{"name": "message"}],
        "output": output,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_schema_that_does_not_compile_fails_naming_the_file_and_field(tmp_path):
    path = prompt_file(tmp_path, {"format": "json", "schema": {"type": "objekt"}})
    with pytest.raises(ConfigError) as err:
        load_prompt_file(path)
    assert "p.yaml" in str(err.value) and "field `output`" in str(err.value)
    assert "not a valid JSON Schema 2020-12 at type" in str(err.value)


def test_a_schema_whose_ref_cannot_be_resolved_fails_naming_the_file_field_and_ref(tmp_path):
    # Given a schema check_schema accepts, with a dangling local $ref and a remote one the function cannot fetch
    dangling = {**SCHEMA, "properties": {"category": {"$ref": "#/$defs/category"}}}
    remote = {**SCHEMA, "properties": {"category": {"$ref": "https://example.com/category.json"}}}
    for name, schema in (("dangling", dangling), ("remote", remote)):
        # When the prompt is loaded (synth, liftoff prompts) / Then it is refused, naming where
        with pytest.raises(ConfigError) as err:
            load_prompt_file(prompt_file(tmp_path, {"format": "json", "schema": schema}, name=name))
        assert f"{name}.yaml" in str(err.value) and "field `output`" in str(err.value)
        assert "`$ref` that cannot be resolved: /properties/category:" in str(err.value)
    # and references that do resolve, nested resources with their own $id included, are accepted
    fine = {
        **SCHEMA,
        "$defs": {"category": {"enum": ["billing", "other"]}, "nested": {"$id": "urn:n", "$defs": {"x": {}}}},
        "properties": {"category": {"$ref": "#/$defs/category"}, "n": {"$ref": "urn:n#/$defs/x"}},
    }
    assert load_prompt_file(prompt_file(tmp_path, {"format": "json", "schema": fine}, name="fine")).output.schema_


def test_json_needs_a_schema_and_a_schema_needs_json(tmp_path):
    with pytest.raises(ConfigError, match="needs a `schema`"):
        load_prompt_file(prompt_file(tmp_path, {"format": "json"}))
    with pytest.raises(ConfigError, match="needs `format: json`"):
        load_prompt_file(prompt_file(tmp_path, {"schema": SCHEMA}))


def test_a_schema_file_is_read_beside_the_prompt_and_carried_in_the_version(tmp_path):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "s.json").write_text(json.dumps(SCHEMA))
    spec = load_prompt_file(prompt_file(tmp_path, {"format": "json", "schema_file": "schemas/s.json"}))
    assert spec.output.schema_ == SCHEMA
    assert spec.model_dump(mode="json")["output"]["schema"] == SCHEMA  # what the registry stores
    with pytest.raises(ConfigError, match=r"field `output.schema_file`: cannot read .*missing.json"):
        load_prompt_file(prompt_file(tmp_path, {"format": "json", "schema_file": "missing.json"}, name="q"))


def test_a_schema_change_is_a_new_version_and_text_prompts_keep_their_hash(tmp_path):
    spec = load_prompt_file(prompt_file(tmp_path, {"format": "json", "schema": SCHEMA}))
    wider = {**SCHEMA, "properties": {"category": {"enum": ["billing", "other", "shipping"]}}}
    assert (
        spec.content_hash()
        != spec.model_copy(update={"output": OutputSpec(format="json", schema=wider)}).content_hash()
    )
    text = spec.model_copy(update={"output": OutputSpec()})
    content = text.model_dump(mode="json")
    content.pop("output")
    content.pop("retrieval")  # a field added after these prompts were published: absent, it is not hashed
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    assert text.content_hash() == hashlib.sha256(canonical.encode()).hexdigest()


def test_json_on_a_model_without_any_mechanism_fails_synth_naming_file_and_model(tmp_path, monkeypatch, triage):
    # Given a model whose row in pricing/bedrock.yaml says structured_output: none
    monkeypatch.setattr("liftoff.foundation.usecases.structured_output_mechanism", lambda model_id, table=None: "none")
    folder = tmp_path / "prompts" / triage.name
    folder.mkdir(parents=True)
    (folder / "schemas").mkdir()
    (folder / "schemas" / "triage.json").write_text(json.dumps(SCHEMA))
    source = yaml.safe_load((REPO_ROOT / "prompts" / "fixture-triage" / "triage.yaml").read_text())
    (folder / "triage.yaml").write_text(yaml.safe_dump(source))
    with pytest.raises(ConfigError) as err:
        load_prompts(triage.config, tmp_path)
    assert "triage.yaml" in str(err.value) and "field `output.format`" in str(err.value)
    assert "model `us.amazon.nova-micro-v1:0` supports no structured output mechanism" in str(err.value)


def test_problems_name_the_path_never_the_answer():
    assert problem_with('{"category": "billing"}', SCHEMA) == (None, {"category": "billing"})
    problem, value = problem_with('{"category": "secret-customer-text"}', SCHEMA)
    assert value is None and problem == '$.category: must satisfy enum=["billing", "other"]'
    assert "secret" not in problem_with('{"category": "billing", "secret": 1}', SCHEMA)[0].split("=")[1]
    assert problem_with("not json", SCHEMA)[0].startswith("not JSON")


CONVERSE_OK = {
    "output": {"message": {"role": "assistant", "content": [{"text": '{"category": "billing"}'}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7},
    "metrics": {"latencyMs": 5},
}


def test_native_mechanism_sends_output_config_with_the_schema_as_a_string():
    bedrock = boto3.client("bedrock-runtime", region_name="us-east-1")
    stub = Stubber(bedrock)  # Stubber validates the request against botocore's own Converse input shape
    stub.add_response(
        "converse",
        CONVERSE_OK,
        {
            "modelId": "m",
            "messages": ANY,
            "inferenceConfig": ANY,
            "outputConfig": {
                "textFormat": {
                    "type": "json_schema",
                    "structure": {"jsonSchema": {"schema": json.dumps(SCHEMA), "name": "answer"}},
                }
            },
        },
    )
    with stub:
        reply = ModelClient(bedrock).converse(
            model_id="m", user_text="hi", system=None, inference={}, structured=StructuredOutput("native", SCHEMA)
        )
    assert json.loads(reply.text) == {"category": "billing"}


def test_tool_mechanism_forces_one_tool_and_a_repair_answers_its_tool_use():
    bedrock = boto3.client("bedrock-runtime", region_name="us-east-1")
    stub = Stubber(bedrock)
    tool_reply = {
        **CONVERSE_OK,
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "tu-1", "name": "answer", "input": {"category": "nope"}}}],
            }
        },
        "stopReason": "tool_use",
    }
    tool_config = {
        "tools": [{"toolSpec": {"name": "answer", "description": "Give the answer.", "inputSchema": {"json": SCHEMA}}}],
        "toolChoice": {"tool": {"name": "answer"}},
    }
    stub.add_response(
        "converse", tool_reply, {"modelId": "m", "messages": ANY, "inferenceConfig": ANY, "toolConfig": tool_config}
    )
    structured = StructuredOutput("tool", SCHEMA)
    client = ModelClient(bedrock)
    with stub:
        first = client.converse(model_id="m", user_text="hi", system=None, inference={}, structured=structured)
    assert (first.text, first.tool_use_id, first.stop_reason) == ('{"category": "nope"}', "tu-1", "end_turn")
    # the repair's messages: the question, the tool use, its error result saying what was wrong
    repair_messages = [
        {"role": "user", "content": [{"text": "hi"}]},
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "tu-1", "name": "answer", "input": {"category": "nope"}}}],
        },
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": "tu-1", "content": [{"text": ANY}], "status": "error"}}],
        },
    ]
    stub.add_response(
        "converse",
        tool_reply,
        {"modelId": "m", "messages": repair_messages, "inferenceConfig": ANY, "toolConfig": tool_config},
    )
    with stub:
        client.converse(
            model_id="m",
            user_text="hi",
            system=None,
            inference={},
            structured=structured,
            repair=Repair(previous=first, problem="$.category: 'nope' is not one of ['billing', 'other']"),
        )


def test_a_fixture_triage_answer_comes_back_as_validated_json(call):
    status, body = call({"prompt_id": "triage", "variables": {"message": "I was charged twice, refund please"}})
    assert status == 200 and body["repairs"] == 0
    assert body["output_json"]["category"] in {"billing", "technical", "account", "shipping", "other"}
    assert json.loads(body["output"]) == body["output_json"]


def test_an_invalid_answer_is_repaired_and_every_call_billed(call, spend_table, printed):
    status, body = call({"prompt_id": "triage", "variables": {"message": "refund [[sim:invalid-output]]"}})
    assert (status, body["repairs"]) == (200, 1)
    assert body["output_json"]["category"] == "billing"
    (item,) = spend_table.scan()["Items"]
    assert (item["requests"], float(item["spend_usd"])) == (1, pytest.approx(body["cost_usd"]))
    (record,), _ = printed()
    assert record["OutputRepairs"] == [1]
    # two calls' tokens: the first answer and the repair
    assert body["usage"]["input_tokens"] > 2 * 100


def test_without_repairs_an_invalid_answer_is_a_billed_502_that_names_the_path_only(
    call, table, triage, spend_table, printed
):
    prompt = triage.prompts[0]
    strict = prompt.model_copy(update={"output": prompt.output.model_copy(update={"repair_attempts": 0})})
    version = PromptStore(table, triage.name).publish(strict, author="test").version
    status, body = call(
        {"prompt_id": "triage", "version": version, "variables": {"message": "refund [[sim:invalid-output]]"}}
    )
    assert (status, body["error"]["code"]) == (502, "ModelOutputInvalid")
    assert (
        'after 0 repair attempt(s): $: must satisfy required=["category", "priority", "summary"]'
        in (body["error"]["message"])
    )
    assert "not what the schema asks for" not in body["error"]["message"]  # never the raw output
    (item,) = spend_table.scan()["Items"]
    assert float(item["spend_usd"]) > 0
    (record,), _ = printed()
    assert record["InvalidOutputs"] == [1] and record["CostUSD"] == [pytest.approx(float(item["spend_usd"]))]


def test_repairs_are_not_attempted_on_a_blocked_answer():
    from service.logic.output_contract import ask

    calls = []

    def call(structured, repair):
        calls.append(repair)
        return ModelReply(
            text="blocked",
            stop_reason="guardrail_intervened",
            input_tokens=1,
            output_tokens=0,
            latency_ms=1,
            guardrail="blocked",
        )

    answer = ask(call, OutputSpec(format="json", schema=SCHEMA, repair_attempts=2), "tool")
    assert calls == [None] and answer.reply.guardrail == "blocked"


def _free_text_fields(schema, where="$"):
    """(where, schema) of every string field that takes any text (no enum, const, pattern or format)."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not {"enum", "const", "pattern", "format"} & set(schema):
            yield where, schema
        for key, value in schema.get("properties", {}).items():
            yield from _free_text_fields(value, f"{where}.{key}")
        if "items" in schema:
            yield from _free_text_fields(schema["items"], f"{where}[]")


@pytest.mark.parametrize("use_case", load_all_use_cases(), ids=lambda u: u.name)
def test_every_free_text_field_of_a_json_prompt_is_bounded(use_case):
    # A field the model may fill without bound can run past max_tokens: the answer is cut off (no repair fits)
    for prompt in use_case.prompts:
        if prompt.output.format != "json":
            continue
        unbounded = [where for where, field in _free_text_fields(prompt.output.schema_) if "maxLength" not in field]
        assert not unbounded, f"{use_case.name}/{prompt.prompt_id}: give these a maxLength: {unbounded}"
