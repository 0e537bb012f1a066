"""Phone numbers for the lookup by calling number (ANI).

Normalisation, applied to stored numbers and to the number looked up alike:

1. spaces and the separators `-` `.` `/` `(` `)` are dropped;
2. an international prefix, a leading `+` or `00`, is dropped: `+49 30 1234567` and `0049 30 1234567`
   both become `49301234567`;
3. what is left must be 3 to 20 digits, else it is not a phone number (`None`).

A national number (`030 1234567`) is kept as it is and does not match its international form: store a
customer's numbers in the form the trunk delivers the calling number, or store both forms.
"""

from __future__ import annotations

import re

from callcenter.customers.models import PHONE_DIGITS_MAX

_SEPARATORS = re.compile(r"[\s\-./()]")
_DIGITS = re.compile(rf"[0-9]{{3,{PHONE_DIGITS_MAX}}}")


def normalise(number: str) -> str | None:
    """The lookup form of `number`, or None when it is not a phone number."""
    compact = _SEPARATORS.sub("", number)
    if compact.startswith("+"):
        compact = compact[1:]
    elif compact.startswith("00"):
        compact = compact[2:]
    return compact if _DIGITS.fullmatch(compact) else None
