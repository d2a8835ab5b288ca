"""A pytest plugin, `-p tests.e2e.quick_contract_checks`: deselects the tests that need one of the contract suite's
heavy session jobs (both stages synthesized and checked, a use case in local mode), so only its quick checks of
each use case run (config, prompts, eval set, exit criteria, scope). test_clone_own_use_case runs those on a clone."""

import pytest

HEAVY_FIXTURES = ("synthesized_checkout", "local_run")  # tests/contract/conftest.py


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    heavy = [item for item in items if set(HEAVY_FIXTURES) & set(getattr(item, "fixturenames", ()))]
    if heavy:
        config.hook.pytest_deselected(items=heavy)
        items[:] = [item for item in items if item not in heavy]
