"""Tested is deployed: the package CDK uploads holds the libraries the tests ran, at their pinned
versions, built for the runtime the functions run on."""

import hashlib
import importlib.util
import json
import marshal
import re
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

import pytest

from liftoff.foundation.packaging import LOCK_FILE, PYTHON_VERSION, PackageBuildError, normalize, pinned_requirements
from stacks import function_package as packaging
from stacks.function_package import PLATFORMS, function_package, pip_command
from stacks.lambda_factory import ARCHITECTURE, RUNTIME

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def package():
    return function_package()


def packaged_versions(path: Path) -> dict[str, str]:
    """{name: version} from every *.dist-info/METADATA in the zip."""
    found = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if re.fullmatch(r"[^/]+\.dist-info/METADATA", name):
                headers = HeaderParser().parsestr(archive.read(name).decode())
                found[normalize(headers["Name"])] = headers["Version"]
    return found


def test_package_holds_exactly_the_pinned_versions(package):
    # Given the lock file and the package CDK deploys / Then they list the same packages at the same versions
    assert packaged_versions(package) == pinned_requirements()


def test_tests_run_the_pinned_versions():
    # The venv the tests run in has every locked package at the locked version (make setup installs the lock)
    installed = {name: metadata.version(name) for name in pinned_requirements()}
    assert installed == pinned_requirements()


def test_powertools_deployed_is_powertools_tested(package):
    # The check the "Tested is deployed" issue asked for, by name: change either side and this fails
    assert packaged_versions(package)["aws-lambda-powertools"] == metadata.version("aws-lambda-powertools")
    assert packaged_versions(package)["boto3"] == metadata.version("boto3")


def test_wheels_are_built_for_the_lambda_runtime(package):
    # Given the runtime the stacks deploy on
    assert RUNTIME.name == f"python{PYTHON_VERSION}"
    assert ARCHITECTURE.name == "arm64"
    # Then the compiled extensions in the package are for that Python and CPU
    with zipfile.ZipFile(package) as archive:
        extensions = [n for n in archive.namelist() if n.endswith(".so")]
    assert extensions, "pydantic-core ships a compiled extension"
    tag = f"cpython-{PYTHON_VERSION.replace('.', '')}-aarch64-linux-gnu"
    assert all(tag in name for name in extensions if "pydantic_core" in name), extensions


def test_package_has_the_service_code_at_the_top(package):
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
    source = {
        p.relative_to(REPO / "lambdas").as_posix()
        for p in (REPO / "lambdas" / "service").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert source <= names
    assert "boto3/__init__.py" in names  # /var/task is first on sys.path: this boto3, not the runtime's


# Python 3.13's bytecode magic number (Lib/importlib/_bootstrap_external.py: 3571), written out here so the
# test does not take it from the code it checks. The flags word 1 is PEP 552's unchecked hash-based .pyc.
PY313_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"
UNCHECKED_HASH = (1).to_bytes(4, "little")


def bytecode_of(name: str) -> str:
    """Where Python 3.13 looks for the bytecode of the module file `name`."""
    folder, _, file = name.rpartition("/")
    return f"{folder}/__pycache__/{file[:-3]}.cpython-313.pyc".lstrip("/")


def test_every_module_in_the_package_has_its_313_bytecode(package):
    # Given the package / Then every .py in it has its Python 3.13 .pyc where the import system looks,
    # unchecked-hash (the zip's fixed times cannot invalidate it), made from that very source
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        modules = sorted(n for n in names if n.endswith(".py"))
        assert len(modules) > 500 and "service/handlers/invoke.py" in modules
        missing = [n for n in modules if bytecode_of(n) not in names]
        assert not missing, missing[:10]
        for name in modules:
            pyc = archive.read(bytecode_of(name))
            assert pyc[:4] == PY313_MAGIC, name
            assert pyc[4:8] == UNCHECKED_HASH, name
            assert pyc[8:16] == importlib.util.source_hash(archive.read(name)), name
        stray = {n for n in names if n.endswith(".pyc")} - {bytecode_of(n) for n in modules}
        assert not stray, sorted(stray)[:10]  # no bytecode without its source (nothing from a working copy)


def test_bytecode_names_the_files_where_lambda_unpacks_them(package):
    # A traceback in Lambda names /var/task/..., the path the runtime imported the module from
    if sys.version_info[:2] != (3, 13):
        pytest.skip("reading 3.13 bytecode needs Python 3.13")
    with zipfile.ZipFile(package) as archive:
        for name in ("service/handlers/invoke.py", "boto3/session.py", "pydantic/main.py"):
            code = marshal.loads(archive.read(bytecode_of(name))[16:])
            assert code.co_filename == f"/var/task/{name}"


def test_package_is_within_lambdas_size_limits(package):
    # Lambda quotas: 50 MB zipped for a direct upload (CDK goes through S3, but stay uploadable either way)
    # and 250 MB unzipped (262,144,000 bytes, function and layers together)
    with zipfile.ZipFile(package) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    assert package.stat().st_size < 50 * 2**20
    assert unzipped < 250 * 2**20


def test_bytecode_is_refused_from_another_python(monkeypatch):
    # Given a runtime whose Python this machine does not have / Then the build says what to install
    monkeypatch.setattr(packaging, "PYTHON_VERSION", "3.99")
    packaging.runtime_python.cache_clear()
    try:
        with pytest.raises(PackageBuildError, match=r"compiled by Python 3\.99 .*pyenv install 3\.99"):
            packaging.runtime_python()
    finally:
        packaging.runtime_python.cache_clear()


def test_package_is_reproducible(package):
    # Built twice from the same inputs, the zip is byte-identical (an unchanged function is not redeployed)
    first = hashlib.sha256(package.read_bytes()).hexdigest()
    package.unlink()
    assert hashlib.sha256(function_package().read_bytes()).hexdigest() == first


def _wheel(folder: Path, name: str, platform: str) -> Path:
    """A minimal binary wheel of `name` 1.0 for CPython 3.13 on `platform`."""
    path = folder / f"{name}-1.0-cp313-cp313-{platform}.whl"
    info = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": "",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: cp313-cp313-{platform}\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{n},,\n" for n in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


@pytest.mark.parametrize(
    ("platform", "installs"),
    [
        ("manylinux2014_aarch64", True),
        ("manylinux_2_28_aarch64", True),  # a pin that ships only manylinux_2_28 wheels
        ("manylinux_2_34_aarch64", True),  # Amazon Linux 2023's glibc
        ("manylinux_2_35_aarch64", False),  # newer than the runtime's glibc: would not load
        ("manylinux_2_28_x86_64", False),  # another CPU
    ],
)
def test_the_build_takes_every_wheel_the_runtimes_glibc_runs(tmp_path, platform, installs):
    # Given a package published only as a wheel for `platform`, on a local index
    _wheel(tmp_path, "onlywheel", platform)
    lock = tmp_path / "requirements.txt"
    lock.write_text("onlywheel==1.0\n")
    # When the build's own pip command installs the lock file from it
    command = pip_command(lock, tmp_path / "target", "--no-index", "--find-links", str(tmp_path))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    # Then it installs exactly when the python3.13 runtime (arm64, glibc 2.34) can load it
    assert (done.returncode == 0) is installs, done.stderr
    assert (tmp_path / "target" / "onlywheel" / "__init__.py").exists() is installs


def test_the_newest_manylinux_the_runtime_runs_is_preferred():
    # pip prefers the first tag a wheel matches: Amazon Linux 2023's glibc 2.34 first, manylinux2014 last
    assert PLATFORMS[0] == "manylinux_2_34_aarch64"
    assert PLATFORMS[-1] == "manylinux2014_aarch64"


def test_every_python_function_deploys_the_package(synthesized):
    # Given the synthesized stacks / Then each of our Python functions runs the package, with no layers
    _, outdir, templates = synthesized
    digest = hashlib.sha256(function_package().read_bytes()).hexdigest()
    # A knowledge base's documents are copied in by CDK's BucketDeployment, whose own function (CDK's code, not
    # ours) runs with the AWS CLI layer: that layer's zip is the one other zip asset a stack may stage.
    cli_layers = {
        Path(layer["Properties"]["Content"]["S3Key"]).stem
        for template in templates.values()
        for layer in template.find_resources("AWS::Lambda::LayerVersion").values()
    }
    staged = []
    for manifest in Path(outdir).glob("*.assets.json"):
        for asset_id, asset in json.loads(manifest.read_text())["files"].items():
            path = Path(outdir) / asset["source"]["path"]
            if path.suffix == ".zip" and asset_id not in cli_layers:
                staged.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert staged and set(staged) == {digest}
    for name, template in templates.items():
        functions = template.find_resources("AWS::Lambda::Function", {"Properties": {"Runtime": RUNTIME.name}})
        ours = {k: f for k, f in functions.items() if f["Properties"]["Handler"].startswith("service.handlers.")}
        assert len(ours) == 5  # invoke, golden canary, canary rollback, feedback and prompt sync
        for function in ours.values():
            assert "Layers" not in function["Properties"]
        others = set(functions) - set(ours)
        deployments = template.find_resources("Custom::CDKBucketDeployment")
        assert len(others) == (1 if deployments else 0), name  # the BucketDeployment's handler, one per stack
        assert len(cli_layers) <= len(templates)


def test_tests_run_on_the_lambda_python_when_this_machine_has_it():
    # make setup builds .venv with tools/find-python: Python 3.13 wherever it is installed
    has_313 = any(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))
    if not has_313:
        pytest.skip("Python 3.13 is not installed here; the tests run on " + sys.version.split()[0])
    assert sys.version_info[:2] == (3, 13)


def test_lock_file_is_what_requirements_dev_installs():
    assert "-r lambdas/requirements.txt" in (REPO / "requirements-dev.txt").read_text()
    assert LOCK_FILE == REPO / "lambdas" / "requirements.txt"


def test_a_lock_entry_that_is_not_pinned_is_refused_with_file_and_line(tmp_path):
    lock = tmp_path / "requirements.txt"
    lock.write_text("boto3==1.44.5\npydantic>=2\n")
    with pytest.raises(PackageBuildError, match=r"requirements.txt:2: `pydantic>=2` is not pinned exactly"):
        pinned_requirements(lock)


def test_one_build_at_a_time_in_the_build_folder():
    # Given a build under way (the tests' two workers, or two `cdk synth`s, share .build/lambda)
    import threading
    import time

    from stacks.function_package import _build_lock

    order = []

    def second():
        with _build_lock():
            order.append("second")

    with _build_lock():
        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.3)
        # Then another waits for it (each would otherwise clear the other's zip as an old one)
        order.append("first")
    other.join(timeout=30)
    assert order == ["first", "second"]
