"""The verified-claims cache: sha256(token) → Principal, until the token's `exp`.

A hit costs a hash and a dict lookup; it is what keeps a page load free of signature checks.
Bounded (LRU) so hostile traffic with many distinct valid tokens cannot grow memory.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from .principal import Principal


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class VerifiedClaimsCache:
    def __init__(self, max_entries: int = 10000) -> None:
        self._entries: OrderedDict[str, Principal] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, token: str, now: float) -> Principal | None:
        digest = token_digest(token)
        with self._lock:
            principal = self._entries.get(digest)
            if principal is None:
                self.misses += 1
                return None
            if principal.expires_at <= now:
                # Expired entries go: the caller re-verifies and learns TokenExpired properly.
                del self._entries[digest]
                self.misses += 1
                return None
            self._entries.move_to_end(digest)
            self.hits += 1
            return principal

    def put(self, token: str, principal: Principal) -> None:
        digest = token_digest(token)
        with self._lock:
            self._entries[digest] = principal
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
