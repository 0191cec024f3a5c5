"""What the web-chat channel says to people outside the widget, in one place.

The confirmation mail goes to an address a visitor typed, which may be anyone's: its
text is fixed (the hub catalog's `email.confirmation.body`) and carries nothing a
visitor wrote, only the code. It is written in the visitor's language.
"""

from __future__ import annotations

from hub.sdk import hub_texts


def confirmation_mail(locale: str, code: str) -> str:
    return hub_texts(locale).get("email.confirmation.body", code=code)
