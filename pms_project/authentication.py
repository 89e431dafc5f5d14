"""Token authentication that never takes a malformed key to the database."""

from __future__ import annotations

import re

from rest_framework import authentication, exceptions

_KEY = re.compile(r"[0-9a-f]{40}")


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication; a key that is not 40 hex digits is refused up front (a NUL in
    the header would otherwise reach PostgreSQL as a DataError)."""

    def authenticate_credentials(self, key):
        if not _KEY.fullmatch(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
