"""Google Ads REST stand-in: routing, credentials, throttling and error shapes.

Paths below `/google-ads` are Google's, e.g.
`POST /google-ads/v25/customers/1234567890:uploadClickConversions`. Conversions live
in `google_ads_conversions`, Customer Match jobs in `google_ads_jobs`, mutates in
`google_ads_mutate`, GAQL search in `google_ads_search`. Bearer tokens minted by the
OAuth stand-in (`google_oauth`) expire and can be revoked; other `sandbox-` tokens follow
the sandbox's plain token rule.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from werkzeug.wrappers import Request, Response

from usher.sandbox.behaviour import account_behaviour, review_status
from usher.sandbox.google_ads_conversions import upload_click_conversions
from usher.sandbox.google_ads_jobs import add_job_operations, create_job, run_job
from usher.sandbox.google_ads_mutate import mutate
from usher.sandbox.google_ads_search import search, search_stream
from usher.sandbox.google_common import (
    GOOGLE,
    RETRY_INFO_TYPE,
    AdsError,
    failure_detail,
    google_error,
    permission_denied,
    snake_keys,
)
from usher.sandbox.google_oauth import ACCESS_TOKEN_PREFIX, access_token_refusal
from usher.sandbox.platform import Call, Handler, PlatformAPI, json_response, parse_body, route
from usher.sandbox.state import SandboxState
from usher.sandbox.validation import GOOGLE_CUSTOMER_ID

# v20-v22 are sunset (docs/platforms.md, Versions): their URLs answer 404.
OLDEST_SUPPORTED_VERSION = 23

V = r"(?P<version>v[0-9]+)"
CID = r"customers/(?P<customer_id>[^/:]+)"
JOB = r"offlineUserDataJobs/(?P<job_id>[0-9]+)"
MUTABLE = (
    r"campaignBudgets|campaigns|userLists|adGroups|adGroupAds|adGroupCriteria|campaignCriteria"
    r"|assetSets|assets|assetSetAssets"
)


# policy_summary by review state [U: what Google shows while an ad is in review].
POLICY_SUMMARIES = {
    "IN_REVIEW": {"review_status": "REVIEW_IN_PROGRESS", "approval_status": "UNKNOWN"},
    "APPROVED": {"review_status": "REVIEWED", "approval_status": "APPROVED"},
    "DISAPPROVED": {
        "review_status": "REVIEWED",
        "approval_status": "DISAPPROVED",
        "policy_topic_entries": [{"topic": "DESTINATION_NOT_WORKING", "type": "PROHIBITED"}],
    },
    "WITH_ISSUES": {
        "review_status": "REVIEWED",
        "approval_status": "APPROVED_LIMITED",
        "policy_topic_entries": [{"topic": "TRADEMARKS_IN_AD_TEXT", "type": "LIMITED"}],
    },
}


def reviewed(handler: Handler) -> Handler:
    """Bring ads' policy summaries up to the sandbox clock before a GAQL read."""

    def run(state: SandboxState, call: Call) -> Response:
        customer = call.account or ""
        behaviour = account_behaviour(state, GOOGLE, customer)
        for ad in state.objects_of(GOOGLE, customer, "ad_group_ad"):
            status = review_status(behaviour, ad.get("created_at", 0.0), state.now())
            ad["fields"]["policy_summary"] = copy.deepcopy(POLICY_SUMMARIES[status])
        return handler(state, call)

    return run


LOGIN_CUSTOMER_ID_HINT = (
    "User doesn't have permission to access customer. Note: If you're accessing a client "
    "customer, the manager's customer id must be set in the 'login-customer-id' header."
)


def login_customer_refusal(state: SandboxState, call: Call, version: str) -> Response | None:
    """A customer reached through managers (setting `managers`) needs one as login-customer-id."""
    managers = account_behaviour(state, GOOGLE, call.account).managers
    login = call.request.headers.get("login-customer-id", "").strip()
    if not managers or login in managers:
        return None
    if not login:
        return permission_denied(version, LOGIN_CUSTOMER_ID_HINT)
    return google_error(
        version,
        403,
        "PERMISSION_DENIED",
        "The caller does not have permission",
        [
            AdsError(
                "authorizationError",
                "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION",
                "The login customer specified does not have access to the account "
                "specified, so the request is invalid.",
            )
        ],
    )


class GoogleAdsAPI(PlatformAPI):
    name = GOOGLE
    routes = (
        route(
            "POST", f"/{V}/{CID}:uploadClickConversions", upload_click_conversions, "conversions"
        ),
        route("POST", f"/{V}/{CID}/offlineUserDataJobs:create", create_job, "customer_match"),
        route("POST", f"/{V}/{CID}/{JOB}:addOperations", add_job_operations, "customer_match"),
        route("POST", f"/{V}/{CID}/{JOB}:run", run_job, "customer_match"),
        route("POST", f"/{V}/{CID}/(?P<collection>{MUTABLE}):mutate", mutate, "mutate"),
        route("POST", f"/{V}/{CID}/googleAds:search", reviewed(search), "search"),
        route("POST", f"/{V}/{CID}/googleAds:searchStream", reviewed(search_stream), "search"),
    )

    def parse(self, request: Request) -> Any:
        return snake_keys(parse_body(request))

    def resolve_account(self, state: SandboxState, call: Call) -> str | None:
        return call.params.get("customer_id")

    def authenticate(self, state: SandboxState, call: Call) -> Response | None:
        version = call.params["version"]
        auth = call.request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        call.token = token
        if not token:
            return google_error(
                version,
                401,
                "UNAUTHENTICATED",
                "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            )
        customer_id = call.account or ""
        if token.startswith(ACCESS_TOKEN_PREFIX):
            # Minted by the sandbox's OAuth endpoint: it expires and can be revoked.
            refusal = access_token_refusal(state, version, token, customer_id)
            if refusal is not None:
                return refusal
        elif not state.token_valid(GOOGLE, customer_id, token):
            return google_error(
                version,
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                [
                    AdsError(
                        "authenticationError",
                        "OAUTH_TOKEN_INVALID",
                        "Oauth token in the header is not valid.",
                    )
                ],
            )
        if not call.request.headers.get("developer-token"):
            return google_error(
                version,
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                [
                    AdsError(
                        "requestError",
                        "DEVELOPER_TOKEN_PARAMETER_MISSING",
                        "The developer-token parameter is required for all requests.",
                    )
                ],
            )
        if not GOOGLE_CUSTOMER_ID.match(customer_id):
            return google_error(
                version,
                400,
                "INVALID_ARGUMENT",
                "Request contains an invalid argument.",
                [
                    AdsError(
                        "requestError",
                        "INVALID_CUSTOMER_ID",
                        f"Invalid customer ID '{customer_id}'. Use 10 digits without dashes.",
                    )
                ],
            )
        if not state.is_known(GOOGLE, customer_id):
            return permission_denied(version, LOGIN_CUSTOMER_ID_HINT)
        return login_customer_refusal(state, call, version)

    def throttled(self, state: SandboxState, call: Call, retry_after: float) -> Response:
        """429 RESOURCE_EXHAUSTED with the delay twice: Ads' quotaErrorDetails and rpc RetryInfo."""
        delay = f"{max(1, math.ceil(retry_after))}s"
        error = AdsError(
            "quotaError",
            "RESOURCE_EXHAUSTED",
            f"Too many requests. Retry in {delay}.",
            details={
                "quotaErrorDetails": {
                    "rateScope": "ACCOUNT",
                    "rateName": "Requests per customer",
                    "retryDelay": delay,
                }
            },
        )
        detail = failure_detail(call.params["version"], [error])
        body = {
            "error": {
                "code": 429,
                "message": "Resource has been exhausted (e.g. check quota).",
                "status": "RESOURCE_EXHAUSTED",
                "details": [detail, {"@type": RETRY_INFO_TYPE, "retryDelay": delay}],
            }
        }
        return json_response(body, status=429)

    def server_error(self, state: SandboxState, call: Call, status: int) -> Response:
        version = call.params["version"]
        if status == 503:
            return google_error(
                version, 503, "UNAVAILABLE", "The service is currently unavailable."
            )
        return google_error(
            version,
            status,
            "INTERNAL",
            "Internal error encountered.",
            [AdsError("internalError", "INTERNAL_ERROR", "An internal error has occurred.")],
        )

    def not_found(self, request: Request, subpath: str, path_exists: bool) -> Response:
        return json_response(
            {
                "error": {
                    "code": 404,
                    "message": f"The requested URL {request.path} was not found on this server.",
                    "status": "NOT_FOUND",
                }
            },
            status=404,
        )

    def bad_body(self, request: Request, reason: str) -> Response:
        return json_response(
            {
                "error": {
                    "code": 400,
                    "message": f"Invalid JSON payload received. {reason}",
                    "status": "INVALID_ARGUMENT",
                }
            },
            status=400,
        )

    def match(self, method: str, subpath: str) -> tuple[Any, dict[str, str], bool]:
        found, params, exists = super().match(method, subpath)
        if found is not None and int(params["version"][1:]) < OLDEST_SUPPORTED_VERSION:
            return None, {}, False  # sunset versions answer 404, as Google's front end does
        return found, params, exists
