"""Google Customer Match through offline user data jobs.

What Google checks: docs/platforms.md, Google Ads: Customer Match.

create -> addOperations (create/remove/removeAll of hashed identifiers) -> run.
The sandbox runs a job at once: it goes PENDING -> SUCCESS and its operations are
applied to the user list's members, so a following GAQL read shows the new size.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.behaviour import account_behaviour
from usher.sandbox.google_common import (
    GOOGLE,
    GOOGLE_ID_BASE,
    AdsError,
    AdsFailure,
    partial_failure_error,
    resource_id,
)
from usher.sandbox.platform import Call, json_response
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import is_one_of, is_sha256, list_or_empty

MAX_IDENTIFIERS_PER_REQUEST = 100_000
MAX_IDENTIFIERS_PER_OPERATION = 20
JOB_TYPES = frozenset({"CUSTOMER_MATCH_USER_LIST", "CUSTOMER_MATCH_WITH_ATTRIBUTES"})
HASHED_KEYS = ("hashed_email", "hashed_phone_number")
ADDRESS_HASHED_KEYS = ("hashed_first_name", "hashed_last_name", "hashed_street_address")
RAW_KEYS = ("mobile_id", "third_party_user_id")
CONSENT_VALUES = frozenset({"UNSPECIFIED", "UNKNOWN", "GRANTED", "DENIED"})
# Which identifiers a CRM-based list takes, by its upload_key_type.
IDENTIFIERS_BY_UPLOAD_KEY = {
    "CONTACT_INFO": frozenset({"hashed_email", "hashed_phone_number", "address_info"}),
    "CRM_ID": frozenset({"third_party_user_id"}),
    "MOBILE_ADVERTISING_ID": frozenset({"mobile_id"}),
}
NOT_ALLOWLISTED_MESSAGE = (
    "Customer Match uploads aren't supported in the Google Ads API for the developer token "
    "of the request. Use the Data Manager API for Customer Match workflows."
)


def _job_failure(code: str, message: str) -> AdsFailure:
    """A whole-request offlineUserDataJobError (no field to point at)."""
    return AdsFailure([_job_error(code, message, [])])


def customer_match_refusal(state: SandboxState, customer_id: str) -> AdsFailure | None:
    """Why this customer may not upload Customer Match data, if it may not.

    Since 1 April 2026 the Ads API refuses Customer Match from developers that were not
    already using it (docs/platforms.md, Google Ads: Customer Match); the customer must
    also have accepted the customer data terms.
    """
    if not account_behaviour(state, GOOGLE, customer_id).customer_match_allowlisted:
        return AdsFailure(
            [
                AdsError(
                    "notAllowlistedError",
                    "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE",
                    NOT_ALLOWLISTED_MESSAGE,
                )
            ],
            status=403,
            rpc_status="PERMISSION_DENIED",
            message="The caller does not have permission",
        )
    if not customer_data_terms_accepted(state, customer_id):
        return _job_failure(
            "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS",
            "The customer has not accepted the customer data terms.",
        )
    return None


def customer_data_terms_accepted(state: SandboxState, customer_id: str) -> bool:
    registered = state.account(GOOGLE, customer_id)
    return (
        bool(registered.settings.get("accepted_customer_data_terms", True)) if registered else True
    )


def _job_error(code: str, message: str, path: list[tuple[str, int | None]]) -> AdsError:
    return AdsError("offlineUserDataJobError", code, message, path)


def create_job(state: SandboxState, call: Call) -> Response:
    """offlineUserDataJobs:create for a CRM-based user list of this customer."""
    version = call.params["version"]
    customer_id = call.account or ""
    body = call.body if isinstance(call.body, dict) else {}
    job = body.get("job")
    try:
        refusal = customer_match_refusal(state, customer_id)
        if refusal is not None:
            raise refusal
        if not isinstance(job, dict) or not is_one_of(job.get("type"), JOB_TYPES):
            raise AdsFailure(
                [
                    AdsError(
                        "fieldError",
                        "REQUIRED",
                        "job.type must be CUSTOMER_MATCH_USER_LIST.",
                        [("job", None), ("type", None)],
                    )
                ]
            )
        metadata = job.get("customer_match_user_list_metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        list_id = resource_id(metadata.get("user_list"), customer_id, "userLists")
        user_list = state.get_object(GOOGLE, f"userLists:{customer_id}:{list_id}")
        if user_list is None or "crm_based_user_list" not in user_list["fields"]:
            raise AdsFailure(
                [
                    _job_error(
                        "INVALID_USER_LIST_ID",
                        "The user list is not a CRM-based list of this customer.",
                        [
                            ("job", None),
                            ("customer_match_user_list_metadata", None),
                            ("user_list", None),
                        ],
                    )
                ]
            )
        consent = metadata.get("consent")
        consent = consent if isinstance(consent, dict) else {}
        for key in ("ad_user_data", "ad_personalization"):
            if consent.get(key) is not None and not is_one_of(consent[key], CONSENT_VALUES):
                raise AdsFailure(
                    [
                        AdsError(
                            "fieldError",
                            "INVALID_VALUE",
                            f"consent.{key} must be GRANTED or DENIED.",
                            [
                                ("job", None),
                                ("customer_match_user_list_metadata", None),
                                ("consent", None),
                                (key, None),
                            ],
                        )
                    ]
                )
    except AdsFailure as failure:
        return failure.response(version)
    job_id = state.next_id(GOOGLE, GOOGLE_ID_BASE)
    name = f"customers/{customer_id}/offlineUserDataJobs/{job_id}"
    if not body.get("validate_only"):
        state.put_object(
            GOOGLE,
            f"offlineUserDataJobs:{customer_id}:{job_id}",
            {
                "id": job_id,
                "type": "offline_user_data_job",
                "account": customer_id,
                "resource_name": name,
                "fields": {
                    "resource_name": name,
                    "id": job_id,
                    "type": job["type"],
                    "status": "PENDING",
                    "customer_match_user_list_metadata": metadata,
                    "pending": [],
                },
            },
        )
    return json_response({"resourceName": name})


def _job(state: SandboxState, call: Call) -> dict[str, Any]:
    customer_id = call.account or ""
    job = state.get_object(GOOGLE, f"offlineUserDataJobs:{customer_id}:{call.params['job_id']}")
    if job is None:
        raise AdsFailure(
            [
                AdsError(
                    "mutateError",
                    "RESOURCE_NOT_FOUND",
                    "The offline user data job was not found.",
                    [("resource_name", None)],
                )
            ]
        )
    if job["fields"]["status"] != "PENDING":
        raise _job_failure(
            "JOB_ALREADY_STARTED", "Operations can't be added to a job that has already started."
        )
    return job


def add_job_operations(state: SandboxState, call: Call) -> Response:
    """{job}:addOperations; per-operation errors go to partialFailureError when enabled."""
    version = call.params["version"]
    body = call.body if isinstance(call.body, dict) else {}
    try:
        job = _job(state, call)
        operations = body.get("operations")
        if not isinstance(operations, list) or not operations:
            raise AdsFailure(
                [
                    AdsError(
                        "fieldError",
                        "REQUIRED_NONEMPTY_LIST",
                        "The field must contain at least one element.",
                        [("operations", None)],
                    )
                ]
            )
        total = sum(
            len(list_or_empty(op[kind].get("user_identifiers")))
            for op in operations
            if isinstance(op, dict)
            for kind in ("create", "remove")
            if isinstance(op.get(kind), dict)
        )
        if total > MAX_IDENTIFIERS_PER_REQUEST:
            raise AdsFailure(
                [
                    _job_error(
                        "TOO_MANY_USER_IDENTIFIERS",
                        f"At most {MAX_IDENTIFIERS_PER_REQUEST} identifiers per request.",
                        [("operations", None)],
                    )
                ]
            )
    except AdsFailure as failure:
        return failure.response(version)
    accepted: list[tuple[str, list[str]]] = []
    errors: list[AdsError] = []
    allowed = IDENTIFIERS_BY_UPLOAD_KEY[_upload_key_type(state, call.account or "", job)]
    for index, operation in enumerate(operations):
        result = _operation(operation, index, allowed)
        if isinstance(result, AdsError):
            errors.append(result)
        else:
            accepted.append(result)
    if errors and not body.get("enable_partial_failure"):
        return AdsFailure(errors).response(version)
    if not body.get("validate_only"):
        job["fields"]["pending"].extend([kind, keys] for kind, keys in accepted)
        state.dirty = True
    answer: dict[str, Any] = {}
    if errors:
        answer["partialFailureError"] = partial_failure_error(version, errors)
    return json_response(answer)


def _upload_key_type(state: SandboxState, customer_id: str, job: dict[str, Any]) -> str:
    metadata = job["fields"]["customer_match_user_list_metadata"]
    list_id = resource_id(metadata.get("user_list"), customer_id, "userLists")
    user_list = state.get_object(GOOGLE, f"userLists:{customer_id}:{list_id}")
    crm = user_list["fields"].get("crm_based_user_list") if user_list else None
    key_type = crm.get("upload_key_type") if isinstance(crm, dict) else None
    return key_type if key_type in IDENTIFIERS_BY_UPLOAD_KEY else "CONTACT_INFO"


def _operation(
    operation: Any, index: int, allowed: frozenset[str]
) -> tuple[str, list[str]] | AdsError:
    """("create"|"remove"|"remove_all", member keys) or the operation's error."""
    where: list[tuple[str, int | None]] = [("operations", index)]
    kinds = [
        k
        for k in ("create", "remove", "remove_all")
        if isinstance(operation, dict) and k in operation
    ]
    if len(kinds) != 1:
        return AdsError(
            "mutateError",
            "OPERATION_REQUIRED",
            "Each operation needs exactly one of create, remove or removeAll.",
            where,
        )
    kind = kinds[0]
    if kind == "remove_all":
        return (
            ("remove_all", [])
            if index == 0
            else _job_error(
                "INVALID_OPERATION_ORDER", "removeAll must be the first operation.", where
            )
        )
    identifiers = list_or_empty(
        operation[kind].get("user_identifiers") if isinstance(operation[kind], dict) else None
    )
    if not identifiers:
        return _job_error(
            "MISSING_USER_IDENTIFIER",
            "The operation has no user identifiers.",
            [*where, (kind, None)],
        )
    if len(identifiers) > MAX_IDENTIFIERS_PER_OPERATION:
        return _job_error(
            "TOO_MANY_USER_IDENTIFIERS",
            f"At most {MAX_IDENTIFIERS_PER_OPERATION} identifiers per operation.",
            [*where, (kind, None)],
        )
    keys = []
    for position, identifier in enumerate(identifiers):
        path = [*where, (kind, None), ("user_identifiers", position)]
        if isinstance(identifier, dict) and not set(identifier) <= allowed:
            return _job_error(
                "INCOMPATIBLE_UPLOAD_KEY_TYPE",
                f"The user list takes only {', '.join(sorted(allowed))} identifiers.",
                path,
            )
        key = _identifier_key(identifier, path)
        if isinstance(key, AdsError):
            return key
        keys.append(key)
    return kind, keys


def _identifier_key(identifier: Any, path: list[tuple[str, int | None]]) -> str | AdsError:
    if not isinstance(identifier, dict):
        return _job_error("MISSING_USER_IDENTIFIER", "A user identifier must be an object.", path)
    for key in HASHED_KEYS:
        if key in identifier:
            if not is_sha256(identifier[key]):
                return _job_error(
                    "INVALID_SHA256_FORMAT",
                    "The value is not a SHA-256 hash (64 lowercase hex characters).",
                    [*path, (key, None)],
                )
            return f"{key}:{identifier[key]}"
    address = identifier.get("address_info")
    if isinstance(address, dict):
        for key in ADDRESS_HASHED_KEYS:
            if key in address and not is_sha256(address[key]):
                return _job_error(
                    "INVALID_SHA256_FORMAT",
                    "The value is not a SHA-256 hash (64 lowercase hex characters).",
                    [*path, ("address_info", None), (key, None)],
                )
        country = address.get("country_code")
        if country is not None and not re.fullmatch(r"[A-Z]{2}", str(country)):
            return _job_error(
                "INVALID_COUNTRY_CODE",
                "country_code must be ISO 3166-1 alpha-2, not hashed.",
                [*path, ("address_info", None), ("country_code", None)],
            )
        return "address:" + "|".join(str(address.get(k, "")) for k in sorted(address))
    for key in RAW_KEYS:
        if identifier.get(key):
            return f"{key}:{identifier[key]}"
    return _job_error("MISSING_USER_IDENTIFIER", "No supported user identifier was set.", path)


def run_job(state: SandboxState, call: Call) -> Response:
    """{job}:run: applies the pending operations at once and marks the job SUCCESS."""
    version = call.params["version"]
    try:
        job = _job(state, call)
    except AdsFailure as failure:
        return failure.response(version)
    customer_id = call.account or ""
    metadata = job["fields"]["customer_match_user_list_metadata"]
    list_id = resource_id(metadata.get("user_list"), customer_id, "userLists") or ""
    members = state.members_of(GOOGLE, f"userLists:{customer_id}:{list_id}")
    for kind, keys in job["fields"].pop("pending"):
        if kind == "remove_all":
            members.clear()
        elif kind == "create":
            members.update(keys)
        else:
            members.difference_update(keys)
    job["fields"]["status"] = "SUCCESS"
    state.dirty = True
    return json_response({"name": f"customers/{customer_id}/operations/{job['id']}"})
