"""A cheap password hasher for the development issuer's published demo secrets.

The demo passwords and the dev client secret are written in the README; stretching them a
million rounds (Django's default) protects nothing and makes every login and every
client-authenticated ``/token/`` call cost ~0.6 s of CPU. Do not copy this into a product.
"""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class DevelopmentPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_dev"
    iterations = 1_000
