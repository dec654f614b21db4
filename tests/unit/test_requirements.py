"""The runtime requirements exclude releases with published advisories, and hold no test tools.

pip-audit cannot reach an advisory database from these machines, so the advisories the floors
answer are listed here: (package, the last affected release, advisories). Add a row when a new
one is published, and raise the floor in requirements.txt.
"""
from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tools.check_lock import parse_requirements

ADVISORIES = [
    ("waitress", "3.0.0", "CVE-2024-49768, CVE-2024-49769"),
    ("requests", "2.32.3", "CVE-2024-35195 (< 2.32.0), CVE-2024-47081 (< 2.32.4)"),
    ("gunicorn", "22.0.0", "CVE-2024-1135 (< 22.0.0), CVE-2024-6827 (< 23.0.0)"),
    ("urllib3", "2.4.0", "CVE-2024-37891 (< 2.2.2), CVE-2025-50181, CVE-2025-50182 (< 2.5.0)"),
    ("werkzeug", "3.1.3", "CVE-2024-34069 (< 3.0.3), CVE-2024-49766/49767 (< 3.0.6), CVE-2025-66221 (< 3.1.4)"),
    ("flask", "3.1.0", "CVE-2025-47278"),
    ("jinja2", "3.1.5", "CVE-2024-56201/56326 (< 3.1.5), CVE-2025-27516 (< 3.1.6)"),
    ("idna", "3.6", "CVE-2024-3651"),
    ("certifi", "2024.6.2", "CVE-2024-39689"),
    ("protobuf", "6.31.0", "CVE-2025-4565"),
    ("zipp", "3.19.0", "CVE-2024-5569"),
    ("setuptools", "78.1.0", "CVE-2024-6345 (< 70.0), CVE-2025-47273 (< 78.1.1)"),
]


@pytest.fixture(scope="module")
def runtime():
    reqs, problems = parse_requirements((ROOT / "requirements.txt").read_text())
    assert problems == []
    return reqs


@pytest.mark.parametrize("name, affected, advisories", ADVISORIES, ids=[a[0] for a in ADVISORIES])
def test_floors_exclude_releases_with_advisories(runtime, name, affected, advisories):
    assert name in runtime, f"{name} needs a floor in requirements.txt ({advisories})"
    assert not runtime[name].specifier.contains(affected, prereleases=True), (
        f"requirements.txt allows {name} {affected}: {advisories}")


def test_the_runtime_set_holds_no_test_tools_and_the_dev_set_has_both(runtime):
    assert not {"pytest", "playwright"} & set(runtime)
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements.txt" in dev
    assert any(line.startswith("pytest") for line in dev) and any(line.startswith("playwright") for line in dev)
