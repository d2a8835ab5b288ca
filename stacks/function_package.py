"""The deployment package of every Python function: `lambdas/service` plus the exact dependencies of
`lambdas/requirements.txt`, built for the Lambda runtime (Python 3.13, arm64) without Docker.

Why a bundle rather than the public Powertools layer resolved from its SSM parameter: the layer pins
Powertools only (pydantic comes with it, boto3 from the runtime), so the function would run
libraries the tests never ran, and Powertools has once failed to publish a version's parameter
(powertools-lambda-python#7689). The bundle holds every library at the version `make test` ran,
and `/var/task` is first on the runtime's `sys.path`, ahead of the runtime's own boto3.

Wheels come from PyPI (`pip install --platform manylinux_2_34_aarch64 ... --platform manylinux2014_aarch64
--python-version 3.13 --only-binary=:all: --no-deps`): every manylinux tag the runtime's glibc runs
(Amazon Linux 2023: glibc 2.34), so a pin that ships only newer manylinux wheels still installs. The lock
file lists every package, so nothing is resolved at build time.

Every module is compiled to Python 3.13 bytecode in the package (`__pycache__/*.cpython-313.pyc`):
`/var/task` is read-only, so without it every cold start compiles every module it imports (make bench:
the `cold_start` figures). The `.pyc` files are unchecked-hash ones (PEP 552): the zip's fixed times
cannot invalidate them, and the same source gives the same bytes. The dependencies are cached by the
lock file's hash in `.build/lambda/`, the zip by the hash of the dependencies and the source; both are
deterministic (sorted entries, fixed times), so an unchanged function is not redeployed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from functools import lru_cache
from pathlib import Path

from liftoff.foundation.packaging import LAMBDAS_DIR, LOCK_FILE, PYTHON_VERSION, PackageBuildError

SOURCE_PACKAGE = "service"
BUILD_DIR = LAMBDAS_DIR.parent / ".build" / "lambda"
ARCH = "aarch64"
# The python3.13 runtime runs on Amazon Linux 2023 (glibc 2.34): wheels for any manylinux up to it run there.
# Newest first: pip prefers the first tag a wheel matches.
GLIBC_MINOR = 34
PLATFORMS = (*(f"manylinux_2_{minor}_{ARCH}" for minor in range(GLIBC_MINOR, 16, -1)), f"manylinux2014_{ARCH}")
# Where Lambda unpacks the zip: the path the bytecode names in tracebacks.
TASK_ROOT = "/var/task"
# Bump when the package's layout changes (2: bytecode), so no cache built the old way is reused.
_LAYOUT = b"2"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()[:20]


def pip_command(lock_file: Path, target: Path, *extra: str) -> list[str]:
    """pip installing exactly `lock_file`'s wheels for the Lambda runtime into `target`."""
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--no-deps", "--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION,
        *platforms, "--target", str(target), *extra, "-r", str(lock_file),
    ]  # fmt: skip


@lru_cache(maxsize=1)
def runtime_python() -> tuple[str, bytes]:
    """(interpreter, its bytecode magic number) of a Python of the runtime's version: this one, or the one
    tools/find-python finds. Bytecode of another version would be ignored by Lambda's Python."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == PYTHON_VERSION:
        return sys.executable, importlib.util.MAGIC_NUMBER
    finder = LAMBDAS_DIR.parent / "tools" / "find-python"
    found = subprocess.run([str(finder)], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
    probe = "import importlib.util, sys; print('%d.%d' % sys.version_info[:2], importlib.util.MAGIC_NUMBER.hex())"
    if found:
        answer = subprocess.run([found, "-c", probe], capture_output=True, text=True, check=False).stdout.split()  # noqa: S603
        if answer and answer[0] == PYTHON_VERSION:
            return found, bytes.fromhex(answer[1])
    raise PackageBuildError(
        f"the function package's bytecode must be compiled by Python {PYTHON_VERSION} (the Lambda runtime's), "
        f"and this is Python {sys.version.split()[0]} with no {PYTHON_VERSION} found by tools/find-python; "
        f"install it (e.g. `pyenv install {PYTHON_VERSION}`) and run `make setup` again"
    )


_COMPILE = """
import compileall, py_compile, sys
ok = compileall.compile_dir(sys.argv[1], ddir=sys.argv[2], quiet=1, workers=1,
                            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
sys.exit(0 if ok else 1)
"""


def compile_tree(root: Path) -> None:
    """Compile every module under `root` to the runtime's bytecode, unchecked-hash, named as Lambda
    will find it (under /var/task)."""
    python, _magic = runtime_python()
    done = subprocess.run([python, "-c", _COMPILE, str(root), TASK_ROOT], capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise PackageBuildError(
            f"Python {PYTHON_VERSION} could not compile {root}:\n{(done.stdout + done.stderr).strip()}"
        )


def dependencies_dir() -> Path:
    """The lock file's packages installed for the Lambda runtime and compiled (built once per lock file)."""
    magic = runtime_python()[1]
    key = _digest(LOCK_FILE.read_bytes(), " ".join(PLATFORMS).encode(), PYTHON_VERSION.encode(), _LAYOUT, magic)
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
    done = subprocess.run(pip_command(LOCK_FILE, scratch), capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        errors = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("WARNING"))
        raise PackageBuildError(
            f"pip could not fetch the function's dependencies ({LOCK_FILE}) for Python {PYTHON_VERSION} arm64; "
            f"is PyPI reachable, and does every pinned package publish such a wheel?\n{errors.strip()}"
        )
    shutil.rmtree(scratch / "bin", ignore_errors=True)  # console scripts: nothing runs them in Lambda
    try:
        compile_tree(scratch)
    except PackageBuildError:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    scratch.replace(target)
    return target


@contextlib.contextmanager
def _build_lock():
    """One build at a time in .build/lambda: two `cdk synth`s of the same checkout at once (two stages, or the tests'
    two workers) would otherwise each remove the other's zip (old ones are cleared) or collide on the same folder."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with (BUILD_DIR / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _files(root: Path) -> list[tuple[str, Path]]:
    """(path inside the zip, file) under `root`, sorted; the bytecode compile_tree wrote included."""
    found = []
    for path in root.rglob("*"):
        if path.is_dir():
            continue
        found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def function_package() -> Path:
    """The zip Lambda runs (`service/` and its dependencies at the top level), built when its
    inputs changed."""
    with _build_lock():
        return _function_package()


def _function_package() -> Path:
    deps = dependencies_dir()
    source = [
        (name, path)
        for name, path in _files(LAMBDAS_DIR / SOURCE_PACKAGE)
        if "__pycache__" not in Path(name).parts  # the working copy's own caches: compiled afresh below
    ]
    key = _digest(
        deps.name.encode(), _LAYOUT, *(part for name, path in source for part in (name.encode(), path.read_bytes()))
    )
    target = BUILD_DIR / f"function-{key}.zip"
    if target.exists():
        return target
    scratch = target.with_suffix(f".partial-{os.getpid()}")
    stage = BUILD_DIR / f"stage-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    try:
        for name, path in source:
            (stage / SOURCE_PACKAGE / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, stage / SOURCE_PACKAGE / name)
        compile_tree(stage)
        with zipfile.ZipFile(scratch, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for name, path in sorted(_files(deps) + _files(stage)):
                info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
                info.external_attr = 0o644 << 16  # readable by the runtime's user; nothing is executed directly
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    for old in BUILD_DIR.glob("function-*.zip"):  # keep .build/ from growing with every source change
        old.unlink(missing_ok=True)
    scratch.replace(target)
    return target
