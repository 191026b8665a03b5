"""What every audiences connector shares: the dataclasses exchanged with the audiences
app, and the batching of member changes within a platform's per-call limit.

The audiences app hands over plain values (an account, a list, members' hashed
identifiers) and gets platform ids back; it never sees a request. Member changes go out
in batches: each platform has its own limit per call and its own "session" around a
multi-batch upload (Meta's session fields, Google's offline user data job, TikTok's
files), and its own point from which the platform has the batch for sure (`committed`):
after each call for Meta and TikTok, only after the job runs for Google. Members are
reported as sent only from that point, so a sync that fails resumes where it stopped
and never sends a confirmed batch twice.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from django.conf import settings

from usher.lib.ratelimit import account_bucket
from usher.platforms.base import ErrorKind, PlatformError

# A throttle wait shorter than this is slept through; a longer one stops the sync (the
# task is retried when the bucket has refilled) rather than holding a worker.
RATE_LIMIT_WAIT_INLINE_SECONDS = 2.0


@dataclass(frozen=True)
class AudienceAccount:
    """The platform account audiences live in, with the credential to manage them."""

    platform: str
    account_id: str
    access_token: str = field(default="", repr=False)
    settings: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class CustomerList:
    """A list of hashed customer identifiers (Meta customer file, Customer Match, TikTok
    customer file); `external_id` is empty until it exists on the platform."""

    name: str
    description: str = ""
    retention_days: int = 540
    external_id: str = ""


@dataclass(frozen=True)
class PixelRule:
    """A rule-based audience the platform fills from its own pixel: visitors who fired
    `events` (our names) on pages whose URL contains `url_contains`, at least
    `min_actions` times within `retention_days`, minus those who fired `exclude_events`."""

    name: str
    pixel_id: str
    events: tuple[str, ...]
    retention_days: int
    url_contains: str = ""
    min_actions: int = 1
    exclude_events: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class LookalikeSpec:
    name: str
    source_audience_id: str
    percentage: int  # 1-10: the share of the country's people most like the source
    country: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class Member:
    """One identity: `key` is Usher's id for it, `identifiers` the hashed wire values
    under our field names (email, phone, first_name, last_name, country, zip)."""

    key: str
    identifiers: Mapping[str, str]


class SyncProgress(Protocol):
    """What a connector reports while it pushes members (the sync service persists it)."""

    def created(self, external_id: str) -> None: ...

    def committed(self, keys: Sequence[str], *, removed: bool) -> None: ...


SessionT = TypeVar("SessionT")


class AudiencesConnector(ABC, Generic[SessionT]):
    """The audiences capability of one platform.

    Subclasses set the platform's limits and implement list creation and the three
    steps of a batched upload (`begin`, `send`, `finish`); `push_members` does the rest.
    """

    platform: ClassVar[str]
    max_members_per_call: ClassVar[int]
    # The smallest customer list the platform serves ads to (or, TikTok, lets Usher
    # edit); below it an audience waits, with the reason shown.
    min_members: ClassVar[int]
    # The smallest seed a lookalike accepts; None: the platform has no lookalikes.
    min_lookalike_seed: ClassVar[int | None]
    # The identifiers a member is keyed on, best first (the first one a buyer has).
    identity_fields: ClassVar[tuple[str, ...]] = ("email", "phone")
    # True: a batch is the platform's as soon as `send` returns; False: only once
    # `finish` returns (Google applies a job's operations when it runs).
    commits_per_call: ClassVar[bool] = True
    # The platform cannot create an empty list (TikTok): up to this many of the adds
    # create it (0: lists are created empty).
    max_members_on_create: ClassVar[int] = 0

    def __init__(self, *, throttle: Callable[[AudienceAccount], None] | None = None) -> None:
        self._throttle = throttle or take_rate_limit_token

    # --- what each platform implements ---

    @abstractmethod
    def create_list(
        self, account: AudienceAccount, target: CustomerList, first: Sequence[Member]
    ) -> str:
        """Create the list; `first` holds up to `max_members_on_create` members."""

    @abstractmethod
    def begin(
        self, account: AudienceAccount, audience_id: str, total: int, *, remove: bool
    ) -> SessionT:
        """Open an upload of `total` members (a Meta session, a Google job...)."""

    @abstractmethod
    def send(
        self,
        account: AudienceAccount,
        audience_id: str,
        session: SessionT,
        batch: Sequence[Member],
        *,
        remove: bool,
        last: bool,
    ) -> None:
        """Send one batch of at most `max_members_per_call` members."""

    def finish(self, account: AudienceAccount, session: SessionT) -> None:
        """Close the upload (Google runs its job); nothing to do by default."""
        return None

    @abstractmethod
    def create_pixel_audience(self, account: AudienceAccount, rule: PixelRule) -> str:
        """A rule-based website audience filled by the platform from its pixel."""

    def create_lookalike(self, account: AudienceAccount, spec: LookalikeSpec) -> str:
        raise PlatformError(
            ErrorKind.PERMANENT,
            f"{self.platform} has no lookalike audiences",
            platform=self.platform,
        )

    # --- shared ---

    def call(self, account: AudienceAccount) -> None:
        """Before every HTTP call: the account's shared outbound rate limit."""
        self._throttle(account)

    def push_members(
        self,
        account: AudienceAccount,
        target: CustomerList,
        adds: Sequence[Member],
        removes: Sequence[Member],
        progress: SyncProgress,
    ) -> str:
        """Create the list if need be, then send `adds` and `removes` in batches;
        returns the platform's id of the list."""
        audience_id = target.external_id
        if not audience_id:
            first = list(adds[: self.max_members_on_create])
            audience_id = self.create_list(account, target, first)
            progress.created(audience_id)
            if first:
                progress.committed([m.key for m in first], removed=False)
                adds = adds[len(first) :]
        for members, remove in ((adds, False), (removes, True)):
            if members:
                self._upload(account, audience_id, members, remove, progress)
        return audience_id

    def _upload(
        self,
        account: AudienceAccount,
        audience_id: str,
        members: Sequence[Member],
        remove: bool,
        progress: SyncProgress,
    ) -> None:
        session = self.begin(account, audience_id, len(members), remove=remove)
        batches = list(chunked(members, self.max_members_per_call))
        for index, batch in enumerate(batches):
            self.send(
                account, audience_id, session, batch, remove=remove, last=index == len(batches) - 1
            )
            if self.commits_per_call:
                progress.committed([m.key for m in batch], removed=remove)
        self.finish(account, session)
        if not self.commits_per_call:
            progress.committed([m.key for m in members], removed=remove)


def chunked(items: Sequence[Member], size: int) -> Iterator[Sequence[Member]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def take_rate_limit_token(account: AudienceAccount) -> None:
    """Wait for the account's token bucket (shared with conversions), or raise
    `rate_limited` when the wait is long enough to give the worker back."""
    rate, capacity = settings.PLATFORM_RATE_LIMITS[account.platform]
    wait = account_bucket(account.platform, account.account_id, rate, capacity).take()
    if wait > RATE_LIMIT_WAIT_INLINE_SECONDS:
        raise PlatformError(
            ErrorKind.RATE_LIMITED,
            "outbound rate limit of this account reached",
            retry_after_seconds=wait,
            platform=account.platform,
        )
    if wait:
        time.sleep(wait)


def require_token(account: AudienceAccount) -> str:
    if not account.access_token:
        raise PlatformError(
            ErrorKind.AUTH, "no credential for this ad account", platform=account.platform
        )
    return account.access_token
