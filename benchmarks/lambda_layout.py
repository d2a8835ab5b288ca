"""The function package laid out as Lambda lays it out, to measure its cold start on this machine.

Lambda unpacks the zip into `/var/task`, which is read-only: Python finds the `.pyc` files the zip
holds, and compiles (in memory, every cold start) whatever has none. Here the zip is unpacked into a
folder made read-only, and the probe runs with `-B` (PYTHONDONTWRITEBYTECODE: this machine's user may
be root, whom file modes do not stop) and `-S` (no site-packages: only the package is on sys.path, as
`/var/task` comes first in Lambda). The zip's native extensions are built for arm64; where this machine
is another CPU, each is replaced by the host build of the same pinned version from .venv (checked),
and the report says which.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from functools import cache
from importlib import metadata
from pathlib import Path

from liftoff.foundation.packaging import normalize, pinned_requirements

_EXTENSION = re.compile(r"^(?P<stem>[^.]+)\.cpython-\d+-(?P<platform>[^.]+)\.so$")


def unpack(package: Path, into: Path, *, bytecode: bool) -> list[str]:
    """Unpack `package` into `into` (without its .pyc files unless `bytecode`), substitute the host's
    native extensions, make it read-only; the substituted extensions, as paths in the package."""
    with zipfile.ZipFile(package) as archive:
        for name in archive.namelist():
            if bytecode or not name.endswith(".pyc"):
                archive.extract(name, into)
    substituted = _host_extensions(into)
    for folder, _dirs, files in os.walk(into):
        for file in files:
            Path(folder, file).chmod(0o444)
        Path(folder).chmod(0o555)
    return substituted


def remove(root: Path) -> None:
    """Delete an unpacked package (its folders are read-only)."""
    if root.exists():
        for folder, _dirs, _files in os.walk(root):
            Path(folder).chmod(0o755)
        shutil.rmtree(root)


def file_count(root: Path) -> int:
    return sum(len(files) for _folder, _dirs, files in os.walk(root))


@cache
def _distributions() -> dict[str, list[str]]:
    """Which installed distributions own each top-level package: a scan of every installed one (about a second),
    the same for both unpacked packages."""
    return metadata.packages_distributions()


def _host_extensions(root: Path) -> list[str]:
    suffix = sysconfig.get_config_var("EXT_SUFFIX")  # e.g. .cpython-313-x86_64-linux-gnu.so
    host_lib = Path(sysconfig.get_paths()["platlib"])
    owners = _distributions()
    pins = pinned_requirements()
    substituted = []
    for path in sorted(root.rglob("*.so")):
        found = _EXTENSION.match(path.name)
        if found is None or path.name.endswith(suffix):
            continue  # not a CPython extension, or already built for this machine
        relative = path.relative_to(root)
        host = host_lib / relative.parent / f"{found.group('stem')}{suffix}"
        top = relative.parts[0]
        versions = {metadata.version(dist) for dist in owners.get(top, [])}
        pinned = {pins.get(normalize(dist)) for dist in owners.get(top, [])}
        if not host.is_file() or not versions or versions != pinned:
            raise RuntimeError(f"no host build of {relative} at the pinned version in {host_lib} (make setup)")
        path.unlink()
        shutil.copyfile(host, path.parent / host.name)
        substituted.append(relative.as_posix())
    return substituted


def run_probe(root: Path, code: str, env: dict[str, str], *args: str) -> dict:
    """Run `code` in a fresh interpreter that sees only the package at `root`; `code` prints its figures
    as one JSON line starting with `BENCH `."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    environment.update(env, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(  # noqa: S603 - our interpreter, our probe
        [sys.executable, "-S", "-B", "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
        env=environment,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"probe failed in {root}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len("BENCH ") :])
