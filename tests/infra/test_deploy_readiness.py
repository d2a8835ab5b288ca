"""What preflight checks before a deploy agrees with what the synthesized templates require."""

from liftoff.preflight import MIN_BOOTSTRAP_VERSION


def test_preflight_bootstrap_minimum_is_the_templates(synthesized):
    # Given the CheckBootstrapVersion rule CDK writes into every template
    _, _, templates = synthesized
    for template in templates.values():
        rule = template.to_json()["Rules"]["CheckBootstrapVersion"]
        refused = rule["Assertions"][0]["Assert"]["Fn::Not"][0]["Fn::Contains"][0]
        # Then preflight's minimum is the first version the rule accepts
        assert max(int(v) for v in refused) + 1 == MIN_BOOTSTRAP_VERSION
