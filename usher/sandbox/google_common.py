"""Google Ads REST answers shared by the conversion, Customer Match, mutate and search modules.

Error shape (docs/platforms.md, Google Ads: quotas and errors): `{"error": {"code",
"message", "status", "details": [{"@type": "...GoogleAdsFailure", "errors": [{"errorCode":
{"<category>": "<CODE>"}, "message", "location": {"fieldPathElements": [...]}}],
"requestId"}]}}`. Partial failures come back in `partialFailureError` (google.rpc.Status,
code 3) beside the results. REST JSON is lowerCamelCase; requests may use either case, as
proto3 JSON parsing allows, so bodies are read as snake_case and answers written in
camelCase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.platform import json_response, trace_id

GOOGLE = "google_ads"
FAILURE_TYPE = "type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"
# Google Ads ids are int64; deterministic so tests can predict them.
GOOGLE_ID_BASE = 20_000_000_000
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower() if not name.startswith("@") else name


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake_keys(value: Any) -> Any:
    """Request bodies in snake_case, whichever case the client used."""
    if isinstance(value, dict):
        return {snake(k): snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    return value


def camel_keys(value: Any) -> Any:
    """Answers in lowerCamelCase, as Google's REST JSON is."""
    if isinstance(value, dict):
        return {camel(k): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value


Path = list[tuple[str, int | None]]


@dataclass
class AdsError:
    """One GoogleAdsError: which enum says what, and where in the request."""

    category: str
    code: str
    message: str
    path: Path = field(default_factory=list)
    trigger: str | None = None
    # ErrorDetails (e.g. budgetPerDayMinimumErrorDetails), already in camelCase
    details: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"errorCode": {self.category: self.code}, "message": self.message}
        if self.trigger is not None:
            error["trigger"] = {"stringValue": self.trigger}
        if self.details is not None:
            error["details"] = self.details
        if self.path:
            error["location"] = {
                "fieldPathElements": [
                    {"fieldName": name, **({"index": index} if index is not None else {})}
                    for name, index in self.path
                ]
            }
        return error

    def path_text(self) -> str:
        return ".".join(
            name + (f"[{index}]" if index is not None else "") for name, index in self.path
        )


class AdsFailure(Exception):
    """Raised to answer the whole request with a GoogleAdsFailure."""

    def __init__(
        self,
        errors: list[AdsError],
        status: int = 400,
        rpc_status: str = "INVALID_ARGUMENT",
        message: str = "Request contains an invalid argument.",
    ) -> None:
        super().__init__(message)
        self.errors = errors
        self.status = status
        self.rpc_status = rpc_status
        self.message = message

    def response(self, version: str) -> Response:
        return google_error(version, self.status, self.rpc_status, self.message, self.errors)


class BadRequestFailure(Exception):
    """A JSON value of the wrong type: Google rejects it before reading the request."""

    def __init__(self, violations: list[tuple[str, str]]) -> None:
        super().__init__("Invalid JSON payload received.")
        self.violations = violations

    def response(self) -> Response:
        return json_response(
            {
                "error": {
                    "code": 400,
                    "message": "Invalid JSON payload received. "
                    + " ".join(description for _, description in self.violations),
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {
                            "@type": BAD_REQUEST_TYPE,
                            "fieldViolations": [
                                {"field": name, "description": description}
                                for name, description in self.violations
                            ],
                        }
                    ],
                }
            },
            status=400,
        )


def google_error(
    version: str,
    status: int,
    rpc_status: str,
    message: str,
    errors: list[AdsError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": rpc_status}
    if errors:
        error["details"] = [failure_detail(version, errors)]
    return json_response({"error": error}, status=status, headers=headers)


def failure_detail(version: str, errors: list[AdsError]) -> dict[str, Any]:
    return {
        "@type": FAILURE_TYPE.format(version=version),
        "errors": [error.to_json() for error in errors],
        "requestId": trace_id(),
    }


def partial_failure_error(version: str, errors: list[AdsError]) -> dict[str, Any]:
    """The google.rpc.Status Google puts in `partialFailureError` (code 3 = INVALID_ARGUMENT)."""
    return {
        "code": 3,
        "message": ", ".join(f"{e.message}, at {e.path_text()}" for e in errors),
        "details": [failure_detail(version, errors)],
    }


def int64(value: Any) -> int | None:
    """int64 fields arrive as JSON strings (proto3 JSON) or numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    return None


def resource_id(resource_name: Any, customer_id: str, collection: str) -> str | None:
    """The id in `customers/{cid}/{collection}/{id}`, or None if it is not one of ours."""
    if not isinstance(resource_name, str):
        return None
    found = re.fullmatch(rf"customers/([0-9]+)/{collection}/([0-9~]+)", resource_name)
    if not found or found.group(1) != customer_id:
        return None
    return found.group(2)


def permission_denied(version: str, message: str) -> Response:
    """Google's answer when the caller may not act on a customer account."""
    return google_error(
        version,
        403,
        "PERMISSION_DENIED",
        "The caller does not have permission",
        [AdsError("authorizationError", "USER_PERMISSION_DENIED", message)],
    )
