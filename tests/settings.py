"""osapp's settings for the in-process tests: the development issuer's client secret.

osapp has no default client secret (only the development run sets one); the tests that run
the app in process sign tokens with a local key and talk to a fake issuer, and configure the
rest per test (`claims_env` in tests/conftest.py).
"""

from osapp.settings import *  # noqa: F403
from osapp.settings import CLAIMS_SESSION

CLAIMS_SESSION = {**CLAIMS_SESSION, "CLIENT_SECRET": CLAIMS_SESSION.get("CLIENT_SECRET") or "osapp-dev-secret"}
