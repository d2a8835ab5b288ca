import pytest
import requests

from liftoff.local import runtime

USE_CASE = "support-triage"


@pytest.fixture(scope="session")
def local():
    """Local mode as a user runs it (`liftoff local up`), stopped at the end of the session."""
    state = runtime.up(USE_CASE)
    yield state
    runtime.down()


@pytest.fixture
def post(local):
    def _post(body=None, *, raw: str | None = None, key: str | None = "default"):
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["x-api-key"] = local.api_key if key == "default" else key
        data = raw if raw is not None else requests.compat.json.dumps(body)
        response = requests.post(local.invoke_url, data=data, headers=headers, timeout=30)
        return response.status_code, response.json()

    return _post
