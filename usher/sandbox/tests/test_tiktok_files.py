"""The sandbox's TikTok creative upload by URL answers material ids ads can reference."""

from __future__ import annotations

import pytest

from usher.lib.http import get_client
from usher.platforms.base import PlatformError

PATH = "/open_api/v1.3/file/image/ad/upload/"
HEADERS = {"Access-Token": "sandbox-tiktok-token"}


def upload(body: dict) -> dict:
    return get_client("tiktok").request("POST", PATH, json=body, headers=HEADERS).json["data"]


def test_the_same_url_gives_the_same_image_id(sandbox) -> None:
    body = {
        "advertiser_id": "7001",
        "upload_type": "UPLOAD_BY_URL",
        "image_url": "https://i.example/a.jpg",
    }

    first, second = upload(body), upload(body)

    assert first["image_id"] == second["image_id"]
    assert upload(body | {"image_url": "https://i.example/b.jpg"})["image_id"] != first["image_id"]


@pytest.mark.parametrize(
    "body",
    [
        {"advertiser_id": "7001", "upload_type": "UPLOAD_BY_URL", "image_url": "ftp://x/a.jpg"},
        {"advertiser_id": "7001", "upload_type": "UPLOAD_BY_URL"},
        {"advertiser_id": "7001", "upload_type": "UPLOAD_BY_FILE", "image_url": "https://x/a"},
    ],
)
def test_uploads_it_cannot_take_are_refused_as_tiktok_does(sandbox, body: dict) -> None:
    with pytest.raises(PlatformError) as caught:
        upload(body)

    assert caught.value.platform_code == "40002"
