"""TikTok creative files: `file/image/ad/upload/` and `file/video/ad/upload/` by URL.

Ads reference uploaded material by id (`image_ids`, `video_id`); the real API fetches
the URL and answers the id (images at once, videos after transcoding). The sandbox
fetches nothing: the id is derived from the advertiser and the URL, as re-uploading
the same file gives the same material on TikTok.
"""

from __future__ import annotations

import hashlib

from werkzeug.wrappers import Response

from usher.sandbox.platform import Call
from usher.sandbox.state import SandboxState
from usher.sandbox.tiktok_common import TIKTOK, TikTokProblem, enum, param, required, tiktok_ok

UPLOAD_TYPES = frozenset({"UPLOAD_BY_URL", "UPLOAD_BY_FILE", "UPLOAD_BY_FILE_ID"})


def upload_material(state: SandboxState, call: Call) -> Response:
    kind = call.params["material"]
    try:
        upload_type = enum(
            param(call, "upload_type", "UPLOAD_BY_FILE"), "upload_type", UPLOAD_TYPES
        )
        if upload_type != "UPLOAD_BY_URL":
            raise TikTokProblem("upload_type: the sandbox takes UPLOAD_BY_URL only.")
        url = str(required(call, f"{kind}_url"))
        if not url.startswith(("https://", "http://")):
            raise TikTokProblem(f"{kind}_url: must be an http(s) URL.")
    except TikTokProblem as problem:
        return problem.response()
    digest = hashlib.sha256(f"{call.account}:{url}".encode()).hexdigest()
    material_id = (
        f"ad-site-i18n-sg/{digest[:32]}" if kind == "image" else f"v10033g50000{digest[:20]}"
    )
    state.put_object(
        TIKTOK,
        f"{kind}:{material_id}",
        {"id": material_id, "type": kind, "account": call.account, "fields": {"url": url}},
    )
    return tiktok_ok({f"{kind}_id": material_id, "signature": digest[:32], f"{kind}_url": url})
