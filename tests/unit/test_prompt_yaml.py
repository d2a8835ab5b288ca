"""`liftoff prompts show` and `prompts diff` print a version as its prompt file is written: multi-line text
as `|` blocks (they printed quoted, folded strings), and what they print loads back to the same content."""

from types import SimpleNamespace

import yaml

from liftoff.foundation.usecases import load_use_case
from liftoff.prompts_cli import spec_yaml


def test_multi_line_text_is_a_block_and_the_yaml_loads_back_to_the_same_spec():
    spec = load_use_case("fixture-triage").prompts[0]
    text = spec_yaml(SimpleNamespace(spec=spec))
    assert "system: |\n" in text and "template: |\n" in text
    assert yaml.safe_load(text) == spec.model_dump(mode="json")


def test_text_a_block_cannot_hold_exactly_stays_quoted_and_still_round_trips():
    spec = load_use_case("fixture-triage").prompts[0]
    awkward = spec.model_copy(update={"system": "trailing spaces   \nsecond line"})
    text = spec_yaml(SimpleNamespace(spec=awkward))
    assert "system: |" not in text
    assert yaml.safe_load(text)["system"] == "trailing spaces   \nsecond line"
