"""Request bodies of the sign-in and user routes. Unknown fields are refused (a misspelt `disabled`
must not be ignored silently); lengths are bounded before any work is done."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callcenter.auth.models import ENDPOINT_MAX, LOGIN_MAX, NAME_MAX
from callcenter.auth.service import PASSWORD_MAX, Role
from callcenter.validation import reject_nul


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return reject_nul(data)


Password = Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX)]


class LoginIn(_Body):
    login: str = Field(min_length=1, max_length=LOGIN_MAX)
    password: Password


class UserIn(_Body):
    login: str = Field(min_length=1, max_length=LOGIN_MAX)
    display_name: str = Field(min_length=1, max_length=NAME_MAX)
    role: Role
    endpoint: str | None = Field(None, min_length=1, max_length=ENDPOINT_MAX)
    password: Password


class UserPatchIn(_Body):
    display_name: str | None = Field(None, min_length=1, max_length=NAME_MAX)
    role: Role | None = None
    endpoint: str | None = Field(None, min_length=1, max_length=ENDPOINT_MAX)
    disabled: bool | None = None


class PasswordChangeIn(_Body):
    current_password: Password
    new_password: Password


class PasswordResetIn(_Body):
    new_password: Password
