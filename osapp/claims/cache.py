"""The verified-claims cache: sha256(token) → Principal, until the token's `exp`.

A hit costs a hash and a dict lookup; it is what keeps a page load free of signature checks.
Bounded (LRU) by entries *and* by bytes, so neither many distinct valid tokens nor a few
very large ones (a member of hundreds of projects: ~50 KB per Principal) can grow memory
past `max_bytes`. An entry's size is measured once, when it is stored.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections import OrderedDict

from .principal import Principal


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def principal_bytes(principal: Principal) -> int:
    """Memory a cached Principal holds: its objects and their strings (shared interned
    strings are counted too, so this errs on the high side), plus the digest key."""
    total = sys.getsizeof(principal) + sys.getsizeof(principal._orgs_by_slug) + 64 + 64
    for text in (principal.user_id, principal.name, principal.email, principal.session_id):
        total += sys.getsizeof(text)
    total += sys.getsizeof(principal.orgs) + sys.getsizeof(principal.projects) + sys.getsizeof(principal.scopes)
    total += sum(sys.getsizeof(scope) for scope in principal.scopes)
    for item in (*principal.orgs, *principal.projects):
        total += sys.getsizeof(item) + sum(sys.getsizeof(value) for value in vars(item).values())
    return total


class VerifiedClaimsCache:
    def __init__(self, max_entries: int = 10000, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._entries: OrderedDict[str, tuple[Principal, int]] = OrderedDict()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, token: str, now: float) -> Principal | None:
        digest = token_digest(token)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                self.misses += 1
                return None
            principal, size = entry
            if principal.expires_at <= now:
                # Expired entries go: the caller re-verifies and learns TokenExpired properly.
                del self._entries[digest]
                self._bytes -= size
                self.misses += 1
                return None
            self._entries.move_to_end(digest)
            self.hits += 1
            return principal

    def put(self, token: str, principal: Principal) -> None:
        digest = token_digest(token)
        size = principal_bytes(principal)
        if size > self._max_bytes:
            return  # verified again on each request rather than evicting everything else
        with self._lock:
            previous = self._entries.pop(digest, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[digest] = (principal, size)
            self._bytes += size
            while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
                self._bytes -= self._entries.popitem(last=False)[1][1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def bytes(self) -> int:
        """The measured size of what is cached now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
