"""Errors a client can fix or must know about. Each carries its HTTP status and a message that names the
problem; `callcenter.api` turns any of them into `{"detail": message}` with that status."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError):
    status = 422
