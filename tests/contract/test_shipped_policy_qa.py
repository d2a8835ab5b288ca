"""The policy-qa documents (knowledge/policy-qa/) and their eval set (evals/policy-qa/) hold together: every
case names documents that exist and hold its answer, every document has a Bedrock metadata sidecar within the
documented limits, and the messy cases (outdated, near-duplicate, OCR, table, long document) are what their
tags say. evals/policy-qa/README.md describes the corpus.

The checkout's shipped content, not the template's code: a team that removes policy-qa
(`liftoff remove-use-case policy-qa`), or replaces it with its own use case of that name, skips this module, and tests/contract/ still checks whatever use cases remain."""

import json
import re
from datetime import date
from functools import cache

import pytest
import yaml

from liftoff import INSTALLED_FROM
from liftoff.foundation.eval_cases import EvalCase, Suite
from service.evalcore.checks import normalise

CORPUS = INSTALLED_FROM / "knowledge" / "policy-qa"
EVALS = INSTALLED_FROM / "evals" / "policy-qa"
README = EVALS / "README.md"
# The shipped example, not any use case that a team gave the same name (`new-use-case policy-qa --retrieval`):
# its corpus is Northwind Logistics' policies, which its README describes
SHIPPED = (
    (INSTALLED_FROM / "usecases" / "policy-qa.yaml").is_file()
    and README.is_file()
    and "Northwind Logistics" in README.read_text(encoding="utf-8")
)
if not SHIPPED:
    pytest.skip(
        "the shipped policy-qa example (Northwind Logistics' policies) is not in this checkout", allow_module_level=True
    )
SIDECAR = ".metadata.json"
# Bedrock Knowledge Bases, S3 data source: `<file>.metadata.json` beside the file, one `metadataAttributes`
# object, string/number/boolean values, at most 10 KB
# (https://docs.aws.amazon.com/bedrock/latest/userguide/knowledge-base-ds.html).
SIDECAR_MAX_BYTES = 10 * 1024
# S3 Vectors caps a vector's filterable metadata at 2 KB, and custom attributes are filterable (only
# AMAZON_BEDROCK_TEXT and AMAZON_BEDROCK_METADATA are declared non-filterable): half of it leaves room for the
# knowledge base's own keys (source URI, data source id).
ATTRIBUTES_MAX_BYTES = 1024
LONG_DOCUMENT_WORDS = 6000
REPORT_TAGS = (
    "clean",
    "noisy",
    "edge",
    "adversarial",
    "outdated",
    "near-duplicate",
    "ocr",
    "table",
    "long-document",
    "unanswerable",
    "paraphrase",
)


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


@cache
def _documents() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(CORPUS.iterdir()) if not p.name.endswith(SIDECAR)}


@cache
def _sidecars() -> dict[str, dict]:
    return {
        p.name.removesuffix(SIDECAR): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(CORPUS.glob(f"*{SIDECAR}"))
    }


def _attributes() -> dict[str, dict]:
    return {name: sidecar["metadataAttributes"] for name, sidecar in _sidecars().items()}


@cache
def _cases() -> list[dict]:
    cases = []
    for path in sorted(EVALS.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                cases.append(json.loads(line) | {"_where": f"{path.name}:{number}"})
    return cases


def _answerable() -> list[dict]:
    return [c for c in _cases() if c["answerable"]]


def _tagged(tag: str) -> list[dict]:
    return [c for c in _cases() if tag in c["tags"]]


def test_the_corpus_is_production_sized_with_one_long_document():
    # Given the documents of the corpus
    documents = _documents()
    # Then there are 20-40 of them, plain .md/.txt that Bedrock parses, one of them a long handbook
    assert 20 <= len(documents) <= 40
    assert all(name.endswith((".md", ".txt")) for name in documents), "only documents and sidecars in the corpus"
    words = {name: _words(text) for name, text in documents.items()}
    long = [name for name, count in words.items() if count >= LONG_DOCUMENT_WORDS]
    assert long == ["employee-handbook-2026.md"]
    # and every other document is a realistic policy length
    assert all(150 <= count <= 1500 for name, count in words.items() if name not in long), words


def test_every_document_has_a_bedrock_metadata_sidecar_within_the_limits():
    # Given the documents and the sidecars beside them
    documents, sidecars = _documents(), _sidecars()
    # Then each document has exactly one sidecar, and no sidecar describes a missing document
    assert sorted(sidecars) == sorted(documents)
    for name, sidecar in sidecars.items():
        raw = (CORPUS / f"{name}{SIDECAR}").read_bytes()
        assert len(raw) <= SIDECAR_MAX_BYTES, name
        assert not raw.startswith(b"\xef\xbb\xbf"), f"{name}: UTF-8 without a byte-order mark"
        assert list(sidecar) == ["metadataAttributes"], name
        attributes = sidecar["metadataAttributes"]
        assert all(isinstance(v, str | int | float | bool) for v in attributes.values()), name
        assert len(json.dumps(attributes).encode()) <= ATTRIBUTES_MAX_BYTES, name
        # and the attributes the grounded answers rely on are there and well-formed
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", attributes["effective_date"]), name
        date.fromisoformat(attributes["effective_date"])
        assert attributes["status"] in ("current", "superseded"), name
        assert attributes["title"].strip() and attributes["topic"].strip(), name


def test_each_document_states_the_effective_date_its_sidecar_gives():
    # Given a document and its sidecar's effective date
    for name, text in _documents().items():
        effective = date.fromisoformat(_attributes()[name]["effective_date"])
        # Then the document says the same date (as a reader would see it, or as the export printed it)
        spelled = {f"{effective.day} {effective:%B %Y}", f"{effective:%d-%m-%Y}", effective.isoformat()}
        assert any(form in text for form in spelled), f"{name}: none of {sorted(spelled)}"


def test_the_suite_is_valid_and_answers_with_the_answer_prompt():
    # Given suite.yaml / When the eval's own model reads it
    suite = Suite.model_validate(yaml.safe_load((EVALS / "suite.yaml").read_text(encoding="utf-8")))
    # Then it runs the `answer` prompt, and its golden tag selects a mix that includes unanswerable cases
    assert suite.prompt_id == "answer"
    golden = _tagged(suite.golden.tag)
    assert 10 <= len(golden) <= 30
    assert any(not c["answerable"] for c in golden) and any(c["answerable"] for c in golden)


def test_every_case_is_well_formed_for_the_eval_and_the_contract():
    # Given every case of the eval set
    cases = _cases()
    # Then there are enough of them, with unique ids, asking one `question`
    assert len(cases) >= 60
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "case ids are unique"
    documents = _documents()
    for case in cases:
        where = f"{case['_where']} ({case['id']})"
        assert set(case["variables"]) == {"question"} and case["variables"]["question"].strip(), where
        assert isinstance(case["answerable"], bool), where
        assert set(case["tags"]) & set(REPORT_TAGS), where
        if case["answerable"]:
            # an answerable case names the documents that hold its answer, and checks the answer
            assert case["expected_sources"], where
            assert all(source in documents for source in case["expected_sources"]), where
            assert case["checks"], where
        else:
            # an unanswerable case passes on a refusal alone: it names no source and checks nothing
            assert "expected_sources" not in case and not case.get("checks"), where
            assert "unanswerable" in case["tags"], where
        # and the eval's own model accepts it (fields, check types and their fields)
        EvalCase.model_validate({k: v for k, v in case.items() if k != "_where"})


def test_every_report_tag_has_cases_and_some_paraphrases_test_the_retriever():
    # Given the cases per tag
    for tag in REPORT_TAGS:
        assert len(_tagged(tag)) >= 2, tag
    # Then at least 12 questions are not covered by the documents
    assert len([c for c in _cases() if not c["answerable"]]) >= 12
    # and about one case in seven is paraphrased, so that a lexical retriever's misses show
    assert 0.10 <= len(_tagged("paraphrase")) / len(_cases()) <= 0.20


def test_the_figure_each_case_checks_is_in_every_document_it_expects():
    # Given the answerable cases and the text of the documents
    documents = {name: normalise(text) for name, text in _documents().items()}
    for case in _answerable():
        for source in case["expected_sources"]:
            for check in case["checks"]:
                # Then what the answer must contain is in each expected document
                if check["type"] == "contains":
                    assert normalise(check["value"]) in documents[source], (case["id"], source, check)
                elif check["type"] == "regex":
                    assert re.search(check["pattern"], documents[source], re.I), (case["id"], source, check)
                # and what it must not contain (an outdated figure, an injected word) is not
                elif check["type"] == "not_contains":
                    assert normalise(check["value"]) not in documents[source], (case["id"], source, check)


def test_outdated_documents_stand_beside_their_current_version_and_never_win():
    # Given the documents' status, topic and effective date
    attributes = _attributes()
    superseded = [name for name, a in attributes.items() if a["status"] == "superseded"]
    # Then every superseded document has a current one on the same topic with a later effective date
    assert len(superseded) >= 2
    for old in superseded:
        newer = [
            name
            for name, a in attributes.items()
            if a["status"] == "current"
            and a["topic"] == attributes[old]["topic"]
            and a["effective_date"] > attributes[old]["effective_date"]
        ]
        assert newer, old
    # and no case expects a superseded document as its source
    assert not [c["id"] for c in _answerable() if set(c["expected_sources"]) & set(superseded)]
    # and each outdated case expects the newest current document of its topic only; at least two topics hold two
    # current documents that disagree, so that only the effective date decides
    by_topic: dict[str, list[str]] = {}
    for name, a in attributes.items():
        by_topic.setdefault(a["topic"], []).append(name)
    for case in _tagged("outdated"):
        if not case["answerable"]:
            continue
        (topic,) = {attributes[s]["topic"] for s in case["expected_sources"]}
        newest = max(attributes[n]["effective_date"] for n in by_topic[topic])
        assert all(attributes[s]["effective_date"] == newest for s in case["expected_sources"]), case["id"]
        assert any(c["type"] == "not_contains" for c in case["checks"]), f"{case['id']}: checks the old figure is gone"
    dated = {attributes[s]["topic"] for c in _tagged("effective-date") for s in c["expected_sources"]}
    assert len(dated) >= 2
    for topic in dated:
        assert (
            len({attributes[n]["effective_date"] for n in by_topic[topic] if attributes[n]["status"] == "current"}) > 1
        )


def test_near_duplicate_cases_expect_every_copy_and_the_messy_tags_are_true():
    # Given the documents and the cases that target a messy kind
    attributes, documents = _attributes(), _documents()
    groups = set()
    for case in _tagged("near-duplicate"):
        sources = case["expected_sources"]
        # Then a near-duplicate case expects both copies, which share topic and effective date
        assert len(sources) >= 2, case["id"]
        assert len({(attributes[s]["topic"], attributes[s]["effective_date"]) for s in sources}) == 1, case["id"]
        groups.add(tuple(sorted(sources)))
    assert len(groups) >= 2
    # and an OCR case's document is a scan (page headers, broken words), a table case's holds a markdown table,
    # and a long-document case's is the long handbook
    for case in _tagged("ocr"):
        for source in case["expected_sources"]:
            assert re.search(r"Page \d+ of \d+", documents[source]) and re.search(r"\w-\n\w", documents[source])
    for case in _tagged("table"):
        for source in case["expected_sources"]:
            assert re.search(r"^\|[-| :]+\|$", documents[source], re.M), (case["id"], source)
    for case in _tagged("long-document"):
        assert all(_words(documents[s]) >= LONG_DOCUMENT_WORDS for s in case["expected_sources"]), case["id"]


def test_no_description_file_sits_in_the_corpus_where_it_would_be_ingested():
    # Given the corpus folder / Then it holds policy documents only: the description is evals/policy-qa/README.md
    assert not [p.name for p in CORPUS.iterdir() if p.name.lower().startswith("readme")]
    assert (EVALS / "README.md").is_file()
