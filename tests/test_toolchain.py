"""The test command itself: it fails when it runs no test, and it runs what a Frappe bench runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def make(*args: str) -> subprocess.CompletedProcess:
	return subprocess.run(
		["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True, text=True
	)


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
def test_node_tests_run_and_are_counted():
	done = make("nodetest")
	assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
	passed = re.search(r"^node v\d+\S*: (\d+) tests passed$", done.stdout, re.M)
	assert passed and int(passed.group(1)) >= 38


def test_a_node_run_with_no_test_fails(tmp_path):
	# What Node 22 does with a folder argument: exits 0 having run nothing.
	fake = tmp_path / "node"
	fake.write_text(
		'#!/bin/sh\n[ "$1" = --version ] && echo v99.0.0 && exit 0\necho "# tests 0"\necho "# pass 0"\n'
	)
	fake.chmod(0o755)
	done = make("nodetest", f"NODE={fake}")
	assert done.returncode != 0
	assert "node ran no test: treating as a failure" in done.stdout


def test_a_failing_node_run_fails(tmp_path):
	fake = tmp_path / "node"
	fake.write_text('#!/bin/sh\n[ "$1" = --version ] && echo v99.0.0 && exit 0\necho "# pass 3"\nexit 1\n')
	fake.chmod(0o755)
	assert make("nodetest", f"NODE={fake}").returncode != 0


def pins() -> dict[str, str]:
	lines = (ROOT / "tests" / "bench-pins.txt").read_text().splitlines()
	return dict(line.split("~=", 1) for line in (raw.split("#")[0].strip() for raw in lines) if "~=" in line)


def test_the_tests_run_under_the_libraries_a_frappe_15_bench_pins():
	found = pins()
	assert found == {"requests": "2.32.0", "tenacity": "8.2.2", "phonenumbers": "8.13.13"}
	for name, pin in found.items():
		# ~=X.Y.Z: the same X.Y, at least Z
		assert version(name).split(".")[:2] == pin.split(".")[:2], f"{name} {version(name)} is not ~={pin}"


def test_claims_match_what_was_run():
	project = (ROOT / "pyproject.toml").read_text()
	assert 'requires-python = ">=3.10"' in project
	# The suite runs on the oldest and newest Python claimed (make test-pythons, in CI)...
	assert re.search(r"^PYTHONS \?= 3\.10 3\.13$", (ROOT / "Makefile").read_text(), re.M)
	assert "make test-pythons" in (ROOT / ".ci" / "run").read_text()
	# ...and no Frappe major that was never run is claimed (15.55.1 is the bench it is checked in).
	assert re.search(r'^frappe = ">=15\.55\.1,<16\.0\.0"', project, re.M)
