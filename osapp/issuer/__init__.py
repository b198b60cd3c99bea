"""The development OIDC issuer: a separate Django project run as its own process.

Start it with ``python -m osapp.issuer``. It is built on django-oauth-toolkit and behaves
like the strictest production issuer osapp must survive: authorization code + PKCE (S256),
RFC 9068 JWT access tokens carrying ``orgs``/``projects`` claims, refresh-token rotation with
reuse protection and no grace period, RFC 7009 revocation and RP-initiated logout.

It shares nothing with ``osapp.claims`` or ``osapp.workspace`` but the token claim format.
"""
