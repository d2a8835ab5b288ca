"""The `knowledge:` section, the retrieval criteria and a prompt's `retrieval:` are validated at synth, with the
file and the field named (issue 23)."""

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from liftoff.foundation.config import load_use_case_config
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.eval_cases import read_numbered_cases
from liftoff.foundation.usecases import load_prompts
from service.models.prompt import PromptSpec
from tests.fixtures.project import CONTENT

RAG = yaml.safe_load((CONTENT / "usecases" / "fixture-rag.yaml").read_text())
ANSWER = yaml.safe_load((CONTENT / "prompts" / "fixture-rag" / "answer.yaml").read_text())
SCHEMA = json.loads((CONTENT / "prompts" / "fixture-rag" / "schemas" / "answer.json").read_text())


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def mutated(change) -> dict:
    data = json.loads(json.dumps(RAG, default=str))
    change(data)
    return data


def test_the_fixture_retrieval_use_case_loads_with_its_defaults(tmp_path):
    config = load_use_case_config(write(tmp_path, RAG))
    assert config.knowledge.embedding.model_id == "amazon.titan-embed-text-v2:0"
    assert config.knowledge.embedding.dimension == 1024
    assert config.knowledge.chunking.strategy == "fixed_size"
    assert config.knowledge.documents_path("fixture-rag") == "knowledge/fixture-rag"
    assert config.exit_criteria.max_ungrounded_rate == 0.05


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["knowledge"]["embedding"].update(dimension=768), "dimension 768 is not one"),
        (lambda d: d["knowledge"]["embedding"].update(model_id="amazon.titan-embed-g1-text-02"), "not a supported"),
        (lambda d: d["knowledge"]["chunking"].update(overlap_percentage=0), "knowledge.chunking.overlap_percentage"),
        (lambda d: d["knowledge"]["chunking"].update(strategy="by_page"), "knowledge.chunking.strategy"),
        (
            lambda d: d["knowledge"]["chunking"].update(
                strategy="hierarchical", parent_max_tokens=300, child_max_tokens=300
            ),
            "child_max_tokens 300 must be smaller",
        ),
        (lambda d: d["knowledge"]["grounding"].update(grounding_threshold=1.0), "grounding_threshold"),
        (lambda d: d["knowledge"]["grounding"].update(action="ANONYMIZE"), "knowledge.grounding.action"),
        (lambda d: d["knowledge"]["documents"].update(prefix="hr/"), "`prefix` is set but `bucket` is not"),
        (lambda d: d["knowledge"].update(top_k=0), "knowledge.top_k"),
        (lambda d: d["guardrail"].update(enabled=False), "knowledge.grounding.enabled needs guardrail.enabled"),
        (lambda d: d.pop("knowledge"), "exit_criteria.max_ungrounded_rate is set but the use case has no"),
    ],
)
def test_a_wrong_knowledge_setting_names_the_file_and_field(tmp_path, change, words):
    with pytest.raises(ConfigError) as error:
        load_use_case_config(write(tmp_path, mutated(change)))
    assert "fixture-rag.yaml" in str(error.value)
    assert words in str(error.value)


def test_existing_prompts_keep_their_content_hash():
    # Given a prompt without retrieval / Then its hash leaves the new field out (published versions stay equal)
    plain = PromptSpec.model_validate(
        {"prompt_id": "p", "model_id": "m-1", "template": "{{x}}", "variables": [{"name": "x"}]}
    )
    content = {k: v for k, v in plain.model_dump(mode="json").items() if k not in ("output", "retrieval")}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    assert plain.content_hash() == hashlib.sha256(canonical.encode()).hexdigest()  # the hash of before retrieval
    with_retrieval = PromptSpec.model_validate(
        {**ANSWER, "prompt_id": "answer", "output": {"format": "json", "schema": SCHEMA}}
    )
    assert with_retrieval.content_hash() != plain.content_hash()


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda p: p.update(template="{{question}}"), "must place the passages: add {{context}}"),
        (lambda p: p["variables"].append({"name": "context"}), "do not declare it under `variables`"),
        (lambda p: p["retrieval"].update(query="{{topic}}"), "retrieval.query uses undeclared variables: topic"),
        (lambda p: p["retrieval"].update(no_context="guess"), "no_context"),
    ],
)
def test_a_wrong_retrieval_prompt_is_refused(change, words):
    data = json.loads(json.dumps({**ANSWER, "prompt_id": "answer", "output": {"format": "json", "schema": SCHEMA}}))
    change(data)
    with pytest.raises(ValueError, match=None) as error:
        PromptSpec.model_validate(data)
    assert words in str(error.value)


def _project(tmp_path: Path, config: dict, prompt: dict) -> Path:
    (tmp_path / "usecases").mkdir()
    write(tmp_path / "usecases", config)
    folder = tmp_path / "prompts" / config["name"]
    (folder / "schemas").mkdir(parents=True)
    (folder / "schemas" / "answer.json").write_text(json.dumps(SCHEMA))
    (folder / "answer.yaml").write_text(yaml.safe_dump(prompt))
    return tmp_path


def test_a_retrieval_prompt_needs_the_use_case_knowledge_base(tmp_path):
    config = mutated(
        lambda d: (
            d.pop("knowledge"),
            [
                d["exit_criteria"].pop(k)
                for k in list(d["exit_criteria"])
                if k in ("max_ungrounded_rate", "min_retrieval_recall", "max_hallucination_rate")
            ],
        )
    )
    root = _project(tmp_path, config, ANSWER)
    with pytest.raises(
        ConfigError, match=r"answer.yaml: field `retrieval` is set, but usecases/fixture-rag.yaml has no `knowledge:`"
    ):
        load_prompts(load_use_case_config(root / "usecases" / "fixture-rag.yaml"), root)


def test_a_retrieval_prompt_answers_json_with_answer_and_citations(tmp_path):
    prompt = {**ANSWER, "output": {"format": "text"}}
    root = _project(tmp_path, RAG, prompt)
    with pytest.raises(ConfigError, match=r"field `output`: a prompt with `retrieval` answers JSON"):
        load_prompts(load_use_case_config(root / "usecases" / "fixture-rag.yaml"), root)


def test_an_unanswerable_case_names_no_source(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(
        json.dumps({"id": "x", "variables": {"question": "q"}, "answerable": False, "expected_sources": ["a.md"]})
        + "\n"
    )
    with pytest.raises(ConfigError, match="has no `expected_sources`"):
        read_numbered_cases(path)
