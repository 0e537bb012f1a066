"""What can go wrong in sign-in and user administration, with the HTTP status each one means."""

from __future__ import annotations

import math

from callcenter.errors import Conflict, Invalid, NotFound, ServiceError


class SignInFailed(ServiceError):
    """Unknown name, wrong password or disabled user: one message for all, so that it tells an attacker
    nothing; the audit trail keeps the real reason."""

    status = 401

    def __init__(self) -> None:
        super().__init__("wrong login name or password")


class RateLimited(ServiceError):
    status = 429

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(f"too many failed sign-ins: try again in {seconds} s",
                         headers={"Retry-After": str(seconds)})
        self.retry_after = seconds


class NotSignedIn(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class WrongPassword(ServiceError):
    status = 403

    def __init__(self) -> None:
        super().__init__("the current password is wrong")


class UnknownUser(NotFound):
    def __init__(self, user_id: int) -> None:
        super().__init__(f"no user with id {user_id}")


class UserExists(Conflict):
    pass


class LastAdmin(Conflict):
    def __init__(self) -> None:
        super().__init__("the last enabled admin cannot be disabled or lose the admin role")


class BadUser(Invalid):
    """A login name, endpoint, role or password that the rules refuse."""
