"""The load tool, run briefly so it cannot rot: 3 people × 2 tabs × 20 s, 15-second tokens.

It runs `python -m bench.load` as a subprocess (locust monkey-patches with gevent, which must
not leak into pytest) and asserts the targets it checks: no issuer call on the page path, one
refresh grant per rotation, no invalid_grant, no sign-out, no error, and osapp's /metrics
agreeing with the issuer's request log. The full-size run is documented in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.support.issuer import REPO_ROOT

pytestmark = pytest.mark.integration

# Only look for locust: importing it runs gevent's monkey.patch_all(), which would turn every
# later test's threads into greenlets (and break Django's per-thread database connections).
if importlib.util.find_spec("locust") is None:
    pytest.skip("the load tool needs locust (pip install -e '.[dev]')", allow_module_level=True)


def test_load_tool_meets_its_targets_on_a_short_run(tmp_path):
    result_file = tmp_path / "load.json"
    completed = subprocess.run(
        [
            sys.executable, "-m", "bench.load",
            "--users", "3", "--tabs", "2", "--minutes", "0.33", "--ttl", "15",
            "--min-rotations", "1", "--json", str(result_file),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    print(completed.stdout[-6000:], completed.stderr[-3000:])
    result = json.loads(result_file.read_text())
    assert result["page_loads"] > 0
    assert result["sign_ins"] == 3
    assert result["page_path_issuer_calls"] == 0
    assert result["refresh_grants"] == result["rotations"] >= 3
    assert result["invalid_grant"] == 0
    assert result["sign_outs"] == 0
    assert result["error_count"] == 0, result["errors"]
    assert all(result["checks"].values()), result["checks"]
    assert completed.returncode == 0
