"""The feedback loop through local mode: answers carry a feedback token, a user rates one bad with a
correction, `liftoff eval harvest` turns it into a case of harvested.jsonl, and `liftoff eval run`
runs it (and it fails: the prompt has not been fixed)."""

import json

import pytest
import requests
from click.testing import CliRunner

from liftoff import REPO_ROOT
from liftoff.evals.cli import eval_group
from liftoff.local import runtime

pytestmark = pytest.mark.e2e
USE_CASE = "fixture-summary"  # its own local mode: the session's fixture-triage keeps its settings
HARVESTED = REPO_ROOT / "evals" / USE_CASE / "harvested.jsonl"
DOCUMENTS = [
    "From 1 March all travel must be booked through the Navan portal; economy class under six hours.",
    "The orders database was down for 47 minutes after a schema migration locked the orders table.",
    "Version 4.2 adds offline mode, Apple Pay in 11 more countries and a fix for the Android crash.",
]


@pytest.fixture
def capturing(local, monkeypatch):
    assert not HARVESTED.exists(), f"{HARVESTED} exists: the test would mix with it"
    runtime.down(USE_CASE)
    monkeypatch.setenv("LIFTOFF_LOCAL_CAPTURE", "true")
    state = runtime.up(USE_CASE)
    yield state
    runtime.down(USE_CASE)
    HARVESTED.unlink(missing_ok=True)


def test_a_bad_rating_with_a_correction_becomes_an_eval_case_that_fails(capturing, tmp_path):
    headers = {"x-api-key": capturing.api_key, "Content-Type": "application/json"}
    answers = []
    for document in DOCUMENTS:  # Given three answered requests
        response = requests.post(
            capturing.invoke_url,
            json={"prompt_id": "summarize", "variables": {"document": document, "max_words": "40"}},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    # When the first is rated bad with a correction, the second good
    feedback_url = f"{capturing.api_url}/v1/feedback"
    correction = {"summary": "Book all travel in Navan; economy under six hours."}
    bad = requests.post(
        feedback_url,
        json={"feedback_token": answers[0]["feedback_token"], "rating": "bad", "correction": correction},
        headers=headers,
        timeout=30,
    )
    assert bad.status_code == 200, bad.text
    assert bad.json()["captured"] is True
    good = requests.post(
        feedback_url,
        json={"feedback_token": answers[1]["feedback_token"], "rating": "good"},
        headers=headers,
        timeout=30,
    )
    assert good.status_code == 200, good.text
    forged = requests.post(
        feedback_url, json={"feedback_token": "x" * 40 + "." + "y" * 43, "rating": "bad"}, headers=headers, timeout=30
    )
    assert forged.status_code == 404 and forged.json()["error"]["code"] == "RequestNotFound"
    # Then the harvest writes one case, whose check is the correction
    harvested = CliRunner().invoke(eval_group, ["harvest", "--use-case", USE_CASE, "--since", "1h"])
    assert harvested.exit_code == 0, harvested.output
    assert "wrote 1 case(s)" in harvested.output
    (case,) = [json.loads(line) for line in HARVESTED.read_text().splitlines()]
    assert case["variables"]["document"] == DOCUMENTS[0]
    assert case["checks"] == [{"type": "json_field", "path": "summary", "equals": correction["summary"]}]
    assert set(case["tags"]) == {"harvested", "rating:bad"}
    # a second harvest finds nothing new (the same variables are a duplicate)
    again = CliRunner().invoke(eval_group, ["harvest", "--use-case", USE_CASE, "--since", "1h"])
    assert "nothing new" in again.output
    # and `liftoff eval run` runs it: it fails until the prompt is fixed
    run = CliRunner().invoke(
        eval_group,
        ["run", "--use-case", USE_CASE, "--file", "harvested.jsonl", "--keep-local", "--out", str(tmp_path)],
    )
    assert run.exit_code in (0, 1), run.output
    (result,) = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert result["id"] == case["id"]
    assert result["status"] == "fail"  # the simulator's summary is not the corrected one


def test_harvest_with_capture_off_says_so_and_how_to_turn_it_on(local, monkeypatch):
    # Given local mode without capture, and a rated answer
    runtime.down(USE_CASE)
    monkeypatch.delenv("LIFTOFF_LOCAL_CAPTURE", raising=False)
    state = runtime.up(USE_CASE)
    try:
        assert not state.capture
        headers = {"x-api-key": state.api_key, "Content-Type": "application/json"}
        answer = requests.post(
            state.invoke_url,
            json={"prompt_id": "summarize", "variables": {"document": DOCUMENTS[0], "max_words": "40"}},
            headers=headers,
            timeout=30,
        ).json()
        rated = requests.post(
            f"{state.api_url}/v1/feedback",
            json={"feedback_token": answer["feedback_token"], "rating": "bad"},
            headers=headers,
            timeout=30,
        )
        assert rated.status_code == 200, rated.text
        # When it is harvested / Then it says capture is off (it said only "nothing new") and how to turn it on
        harvested = CliRunner().invoke(eval_group, ["harvest", "--use-case", USE_CASE, "--since", "1h"])
        assert harvested.exit_code == 0, harvested.output
        assert "capture is off for fixture-summary (this local mode)" in harvested.output
        assert "LIFTOFF_LOCAL_CAPTURE=true liftoff local up --use-case fixture-summary" in harvested.output
    finally:
        runtime.down(USE_CASE)
