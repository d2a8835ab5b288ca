"""Tested is deployed: the package CDK uploads holds the libraries the tests ran, at their pinned
versions, built for the runtime the functions run on."""

import hashlib
import json
import re
import sys
import zipfile
from email.parser import HeaderParser
from importlib import metadata
from pathlib import Path

import pytest

from stacks.function_package import LOCK_FILE, PYTHON_VERSION, function_package, normalize, pinned_requirements
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
    assert not any(n.endswith(".pyc") or "__pycache__" in n for n in names)


def test_package_is_reproducible(package):
    # Built twice from the same inputs, the zip is byte-identical (an unchanged function is not redeployed)
    first = hashlib.sha256(package.read_bytes()).hexdigest()
    package.unlink()
    assert hashlib.sha256(function_package().read_bytes()).hexdigest() == first


def test_every_python_function_deploys_the_package(synthesized):
    # Given the synthesized stacks / Then each of our Python functions runs the package, with no layers
    _, outdir, templates = synthesized
    digest = hashlib.sha256(function_package().read_bytes()).hexdigest()
    staged = []
    for manifest in Path(outdir).glob("*.assets.json"):
        for asset in json.loads(manifest.read_text())["files"].values():
            path = Path(outdir) / asset["source"]["path"]
            if path.suffix == ".zip":
                staged.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert staged and set(staged) == {digest}
    for template in templates.values():
        functions = template.find_resources("AWS::Lambda::Function", {"Properties": {"Runtime": RUNTIME.name}})
        assert len(functions) == 5  # invoke, golden canary, canary rollback, feedback and prompt sync
        for function in functions.values():
            assert "Layers" not in function["Properties"]


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
    from stacks.function_package import PackageBuildError

    lock = tmp_path / "requirements.txt"
    lock.write_text("boto3==1.44.5\npydantic>=2\n")
    with pytest.raises(PackageBuildError, match=r"requirements.txt:2: `pydantic>=2` is not pinned exactly"):
        pinned_requirements(lock)
