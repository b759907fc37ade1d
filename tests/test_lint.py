"""The linter, as part of the README's test command: ruff with pyproject.toml's rules (mistakes, not style: unused
or undefined names, bugbear's pitfalls, statements that cannot run) over the package, the tests and the scripts."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "No module named ruff" not in r.stderr, "ruff is in the test extra: pip install -e '.[test]'"
    assert r.returncode == 0, r.stdout + r.stderr
