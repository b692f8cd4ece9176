"""What a service refuses, in terms any entry point (API, CLI) can turn into its own errors."""

from __future__ import annotations


class ServiceError(Exception):
    pass


class Rejected(ServiceError):
    """The request is invalid; ``errors`` are ``(path, message)`` pairs naming the fields."""

    def __init__(self, message: str, errors: list[tuple[str, str]]):
        super().__init__(message)
        self.errors = errors


class Conflict(ServiceError):
    """The request contradicts what is already stored (same number, other content; wrong state)."""


class NotFound(ServiceError):
    pass
