"""Domain errors that services raise and the API turns into clear HTTP answers, and the
documented shapes of every error answer.

Services stay free of HTTP; `usher.api` maps `InvalidInput` to 422 (in the same shape
as schema validation errors, so clients parse one format) and `Conflict` to 409. Every
operation declares its error answers with `error_responses(...)`, so generated clients
and schema fuzzers know each status and its body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ninja import Schema


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


class ErrorOut(Schema):
    detail: str


class FieldErrorOut(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(Schema):
    detail: list[FieldErrorOut]


class ConflictOut(Schema):
    detail: str
    existing_id: int | None


ERROR_SCHEMAS: dict[int, type[Schema]] = {
    400: ErrorOut,  # unparsable, too deep, not UTF-8, NUL (ApiInputGuardMiddleware)
    401: ErrorOut,  # missing, invalid or revoked credentials / site key
    404: ErrorOut,  # no such row, or another tenant's
    409: ConflictOut,  # the write would duplicate `existing_id`
    413: ErrorOut,  # body over the limit
    422: ValidationErrorOut,  # a field is wrong; `loc` names it
    429: ErrorOut,  # flood limit; see Retry-After
}
# What any API request can be answered before its view runs: the input guard (400, 413,
# a lone surrogate's 422) and parameter validation (422).
INPUT_ERRORS = (400, 413, 422)


def error_responses(*codes: int) -> dict[int, type[Schema]]:
    """The error answers to declare on an operation: the input errors every operation
    can give, plus `codes` (401 for authenticated ones, 404, 409, 429 where they apply)."""
    return {code: ERROR_SCHEMAS[code] for code in sorted({*INPUT_ERRORS, *codes})}
