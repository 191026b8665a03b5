"""Domain errors that services raise and the API turns into clear HTTP answers.

Services stay free of HTTP; `usher.api` maps `InvalidInput` to 422 (in the same shape
as schema validation errors, so clients parse one format) and `Conflict` to 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class InvalidInput(Exception):
    """Input that is well-formed but wrong (an unknown reference, a taken slug...)."""

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.loc = list(loc)
        self.message = message

    def as_detail(self) -> list[dict[str, Any]]:
        return [{"loc": self.loc, "msg": self.message, "type": "value_error"}]


class Conflict(Exception):
    """The write would duplicate an existing row; `existing_id` tells the caller which."""

    def __init__(self, message: str, existing_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.existing_id = existing_id
