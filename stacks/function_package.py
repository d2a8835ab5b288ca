"""The deployment package of every Python function: `lambdas/service` plus the exact dependencies of
`lambdas/requirements.txt`, built for the Lambda runtime (Python 3.13, arm64) without Docker.

Why a bundle rather than the public Powertools layer resolved from its SSM parameter: the layer pins
Powertools only (pydantic comes with it, boto3 from the runtime), so the function would run
libraries the tests never ran, and Powertools has once failed to publish a version's parameter
(powertools-lambda-python#7689). The bundle holds every library at the version `make test` ran,
and `/var/task` is first on the runtime's `sys.path`, ahead of the runtime's own boto3.

Wheels come from PyPI (`pip install --platform manylinux2014_aarch64 --python-version 3.13
--only-binary=:all: --no-deps`): the lock file lists every package, so nothing is resolved at build
time. The dependencies are cached by the lock file's hash in `.build/lambda/`, the zip by the hash of
the dependencies and the source; both are deterministic (sorted entries, fixed times), so an
unchanged function is not redeployed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
LOCK_FILE = LAMBDAS_DIR / "requirements.txt"
SOURCE_PACKAGE = "service"
BUILD_DIR = LAMBDAS_DIR.parent / ".build" / "lambda"
# What stacks/lambda_factory.py deploys on: the wheels must match it.
PYTHON_VERSION = "3.13"
PLATFORM = "manylinux2014_aarch64"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
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


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:20]


def dependencies_dir() -> Path:
    """The lock file's packages installed for the Lambda runtime (built once per lock file)."""
    key = _digest(LOCK_FILE.read_bytes(), PLATFORM.encode(), PYTHON_VERSION.encode())
    target = BUILD_DIR / f"deps-{key}"
    if target.is_dir():
        return target
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    scratch = BUILD_DIR / f"deps-{key}.partial-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"liftoff: building the function's dependencies from {LOCK_FILE.name} for Python {PYTHON_VERSION} "
        f"on arm64 (once per lock file) ...",
        file=sys.stderr,
        flush=True,
    )
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--no-deps", "--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION,
        "--platform", PLATFORM, "--target", str(scratch), "-r", str(LOCK_FILE),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our pip, our lock
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        errors = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("WARNING"))
        raise PackageBuildError(
            f"pip could not fetch the function's dependencies ({LOCK_FILE}) for Python {PYTHON_VERSION} arm64; "
            f"is PyPI reachable, and does every pinned package publish such a wheel?\n{errors.strip()}"
        )
    shutil.rmtree(scratch / "bin", ignore_errors=True)  # console scripts: nothing runs them in Lambda
    scratch.replace(target)
    return target


def _files(root: Path) -> list[tuple[str, Path]]:
    """(path inside the zip, file) under `root`, sorted, without caches."""
    found = []
    for path in root.rglob("*"):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def function_package() -> Path:
    """The zip Lambda runs (`service/` and its dependencies at the top level), built when its
    inputs changed."""
    deps = dependencies_dir()
    source = [(f"{SOURCE_PACKAGE}/{name}", path) for name, path in _files(LAMBDAS_DIR / SOURCE_PACKAGE)]
    key = _digest(deps.name.encode(), *(part for name, path in source for part in (name.encode(), path.read_bytes())))
    target = BUILD_DIR / f"function-{key}.zip"
    if target.exists():
        return target
    scratch = target.with_suffix(f".partial-{os.getpid()}")
    with zipfile.ZipFile(scratch, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name, path in sorted(_files(deps) + source):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16  # readable by the runtime's user; nothing is executed directly
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    for old in BUILD_DIR.glob("function-*.zip"):  # keep .build/ from growing with every source change
        old.unlink(missing_ok=True)
    scratch.replace(target)
    return target
