"""Resources that run code during a deploy (custom resources) wait for every permission that code
needs: each IAM policy attached to the role of a function the deploy invokes."""

ARN_OF_FUNCTION = "Arn"


def functions_invoked_by(resources: dict, function_id: str) -> set[str]:
    """The function and every function it invokes by an ARN in its environment (the Provider
    framework names the user's handler in USER_ON_EVENT_FUNCTION_ARN)."""
    found = {function_id}
    env = resources[function_id]["Properties"].get("Environment", {}).get("Variables", {})
    for value in env.values():
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            target, attribute = value["Fn::GetAtt"]
            if attribute == ARN_OF_FUNCTION and resources.get(target, {}).get("Type") == "AWS::Lambda::Function":
                found |= functions_invoked_by(resources, target)
    return found


def depends_on_closure(resources: dict, logical_id: str) -> set[str]:
    seen, stack = set(), [logical_id]
    while stack:
        current = stack.pop()
        for dep in resources[current].get("DependsOn", []):
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def test_custom_resources_wait_for_every_policy_of_the_functions_they_run(synthesized):
    _, _, templates = synthesized
    for name, template in templates.items():
        resources = template.to_json()["Resources"]
        custom = {k: v for k, v in resources.items() if v["Type"].startswith("Custom::")}
        assert custom, name
        for logical_id, resource in custom.items():
            token = resource["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
            roles = {
                resources[f]["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions_invoked_by(resources, token)
            }
            policies = {
                k
                for k, v in resources.items()
                if v["Type"] == "AWS::IAM::Policy" and {r["Ref"] for r in v["Properties"]["Roles"]} & roles
            }
            assert roles, (name, logical_id)
            if resource["Type"] == "Custom::LiftoffPromptSync":  # the framework's and the sync function's
                assert len(roles) == 2 and policies, (name, logical_id)
            missing = policies - depends_on_closure(resources, logical_id)
            assert not missing, f"{name}: {logical_id} may run before {sorted(missing)}"
