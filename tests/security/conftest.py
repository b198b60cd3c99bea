"""Security tests: the real middleware stack, a local test key, and a fake issuer that records.

`fake_issuer` installs a claims runtime whose HTTP transport is the fake (the issuer client is
the one every issuer call goes through, the refresh coordinator's included), so a test can
assert exactly which calls osapp made — usually none.
"""

from __future__ import annotations

import pytest

from osapp.claims.runtime import reset_runtime
from tests.security.helpers import FakeIssuer

MATRIX_TEST = "test_hostile_tokens.py::test_hostile_token_is_rejected_everywhere["
CALLBACK_TEST = "test_hostile_tokens.py::test_hostile_tokens_at_the_callback_are_refused["


@pytest.fixture
def fake_issuer(claims_env):
    yield FakeIssuer(claims_env).attach()
    reset_runtime()


def pytest_terminal_summary(terminalreporter) -> None:
    """Print how many hostile-token cases ran, whatever the verbosity."""
    for label, marker in (("access-token matrix", MATRIX_TEST), ("callback matrix", CALLBACK_TEST)):
        outcomes = {
            outcome: sum(marker in report.nodeid for report in terminalreporter.stats.get(outcome, []))
            for outcome in ("passed", "failed")
        }
        if any(outcomes.values()):
            terminalreporter.write_line(
                f"hostile tokens, {label}: {sum(outcomes.values())} cases "
                f"({outcomes['passed']} passed, {outcomes['failed']} failed)"
            )
