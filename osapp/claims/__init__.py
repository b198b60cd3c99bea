"""Claims-only sessions: JWT cookies verified locally against a baked JWKS.

A self-contained Django component: add `osapp.claims` to INSTALLED_APPS, its middleware to
MIDDLEWARE and `osapp.claims.urls` under `auth/`. It knows nothing of the product around it.
"""
