"""What the functions' package is made of, as the CDK app builds it (stacks/function_package.py) and the CLI
checks it (`liftoff doctor`): the runtime's Python version and the lock file of the libraries it bundles."""

from __future__ import annotations

import re
from pathlib import Path

from liftoff import INSTALLED_FROM

LAMBDAS_DIR = INSTALLED_FROM / "lambdas"
LOCK_FILE = LAMBDAS_DIR / "requirements.txt"
# What stacks/lambda_factory.py deploys on: the wheels must match it.
PYTHON_VERSION = "3.13"
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;#]+)")


class PackageBuildError(RuntimeError):
    """The function package could not be built; the message says what to do."""


def normalize(name: str) -> str:
    """PEP 503 name: `Pydantic_Core` and `pydantic-core` are the same package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(lock_file: Path = LOCK_FILE) -> dict[str, str]:
    """{normalized name: version} of the lock file; every requirement must be pinned with ==."""
    pins: dict[str, str] = {}
    for number, line in enumerate(lock_file.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        match = _PIN.match(text)
        if match is None:
            raise PackageBuildError(f"{lock_file}:{number}: `{text}` is not pinned exactly (name==version)")
        pins[normalize(match.group(1))] = match.group(3)
    return pins
