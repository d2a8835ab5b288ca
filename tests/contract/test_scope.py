"""Every use case of this checkout (liftoff.INSTALLED_FROM's usecases/, the team's own, whatever they are) is
within the scope its charter agreed: `liftoff scope check` in make test, as CI runs it."""

import pytest

from liftoff import INSTALLED_FROM
from liftoff.charter import check_scope
from liftoff.foundation.usecases import load_use_case, use_case_names


@pytest.mark.parametrize("name", use_case_names(INSTALLED_FROM))
def test_the_use_case_is_within_its_agreed_scope(name):
    # Given one of the checkout's use cases, When its scope is checked against its charter's agreement
    result = check_scope(load_use_case(name, INSTALLED_FROM))
    # Then it is within it (a poc not agreed yet passes: its scope is still being written)
    assert result.ok, f"{result.detail}; {result.fix}"
