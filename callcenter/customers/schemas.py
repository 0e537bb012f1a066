"""Request bodies of the customer routes, also used to check the rows of a CSV import.

Unknown fields are refused, text is stripped and bounded, phone numbers must normalise.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from callcenter.customers.models import (
    ADDRESS_MAX,
    LABEL_MAX,
    NAME_MAX,
    NOTES_MAX,
    PHONE_MAX,
    REFERENCE_MAX,
    RESULT_MAX,
    SEGMENT_MAX,
    TITLE_MAX,
)
from callcenter.customers.phones import normalise
from callcenter.validation import reject_nul

PHONES_MAX = 10


class TicketStatus(StrEnum):
    OPEN = "open"
    SOLVED = "solved"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return reject_nul(data)


def _phone_number(number: str) -> str:
    if normalise(number) is None:
        raise ValueError(f"{number!r} is not a phone number (3 to 20 digits, optionally + and separators)")
    return number


class PhoneIn(_Body):
    number: Annotated[str, Field(min_length=1, max_length=PHONE_MAX), AfterValidator(_phone_number)]
    label: str | None = Field(None, max_length=LABEL_MAX)


def _distinct(phones: list[PhoneIn] | None) -> list[PhoneIn] | None:
    seen: dict[str | None, str] = {}
    for phone in phones or ():
        key = normalise(phone.number)
        if key in seen:
            raise ValueError(f"{phone.number!r} is the same number as {seen[key]!r}")
        seen[key] = phone.number
    return phones


Reference = Annotated[str, Field(min_length=1, max_length=REFERENCE_MAX)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]
Phones = Annotated[list[PhoneIn], Field(max_length=PHONES_MAX), AfterValidator(_distinct)]


class CustomerIn(_Body):
    reference: Reference
    name: Name
    company: str | None = Field(None, max_length=NAME_MAX)
    address: str | None = Field(None, max_length=ADDRESS_MAX)
    segment: str | None = Field(None, max_length=SEGMENT_MAX)
    vip: bool = False
    value: int | None = Field(None, ge=0, le=2**31 - 1)
    notes: str | None = Field(None, max_length=NOTES_MAX)
    phones: Phones = []

    @field_validator("company", "address", "segment", "notes")
    @classmethod
    def _empty_is_none(cls, text: str | None) -> str | None:
        return text or None


class CustomerPatchIn(_Body):
    """Fields to change; `phones`, when given, replaces the whole list. null clears an optional field."""

    reference: Reference | None = None
    name: Name | None = None
    company: str | None = Field(None, max_length=NAME_MAX)
    address: str | None = Field(None, max_length=ADDRESS_MAX)
    segment: str | None = Field(None, max_length=SEGMENT_MAX)
    vip: bool | None = None
    value: int | None = Field(None, ge=0, le=2**31 - 1)
    notes: str | None = Field(None, max_length=NOTES_MAX)
    phones: Phones | None = None

    @field_validator("company", "address", "segment", "notes")
    @classmethod
    def _empty_is_none(cls, text: str | None) -> str | None:
        return text or None


class InteractionIn(_Body):
    call_id: str | None = Field(None, min_length=1, max_length=64)
    result: str = Field(min_length=1, max_length=RESULT_MAX)
    notes: str | None = Field(None, max_length=NOTES_MAX)


class TicketIn(_Body):
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    description: str | None = Field(None, max_length=NOTES_MAX)


class TicketPatchIn(_Body):
    title: str | None = Field(None, min_length=1, max_length=TITLE_MAX)
    description: str | None = Field(None, max_length=NOTES_MAX)
    status: TicketStatus | None = None
