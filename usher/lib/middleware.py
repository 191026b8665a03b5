"""Refuse NUL characters in API requests before any view sees them.

PostgreSQL cannot store NUL in text or JSON columns, so one `\\u0000` anywhere in a
body or query string would otherwise surface as a 500 from deep inside a write —
including on the public collector. One check here covers every endpoint, present and
future; forms (admin, panel) already refuse NUL through Django's own validators.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from usher.lib.validation import contains_nul

API_PREFIX = "/api/"
NUL_DETAIL = "NUL characters (\\u0000) are not accepted"


class RejectNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX) and self._has_nul(request):
            return JsonResponse({"detail": NUL_DETAIL}, status=400)
        return self.get_response(request)

    @staticmethod
    def _has_nul(request: HttpRequest) -> bool:
        if any("\x00" in key or "\x00" in value for key, value in request.GET.items()):
            return True
        body = request.body
        if b"\x00" in body:
            return True
        if b"\\u0000" not in body:
            return False
        try:  # decode to tell a real escaped NUL from a literal backslash-u text
            return contains_nul(json.loads(body))
        except ValueError:
            return False  # not JSON: the endpoint's own parser will answer 400
