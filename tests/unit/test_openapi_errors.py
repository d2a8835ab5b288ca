"""openapi.yaml names every error code invoke can answer with, under the status it answers with."""

import pytest

from liftoff.openapi import ERROR_STATUSES
from service.handlers import idempotency
from service.models import errors


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


# a failed variable check is named as a kind ("a variable check"): its codes are the 400's own family
VARIABLE_CHECKS = {errors.MissingVariable, errors.UnknownVariable, errors.VariableTooLong}
INVOKE_ERRORS = sorted(
    {c for c in _subclasses(errors.ServiceError) if c.__module__ in (errors.__name__, idempotency.__name__)}
    - VARIABLE_CHECKS
    - {errors.BadRequest},  # Idempotency-Key's own 400, named by the header's pattern
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("error", INVOKE_ERRORS, ids=lambda c: c.__name__)
def test_every_error_code_is_documented_under_its_status(error):
    assert error.code in ERROR_STATUSES.get(str(error.status), ""), f"openapi.yaml's {error.status} omits {error.code}"
