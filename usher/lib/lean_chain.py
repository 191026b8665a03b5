"""A lean middleware chain for the browser's busiest public endpoint (the collector).

A browser posts events to `POST /api/collect` many times per page; the request carries
no session, no login and no CSRF token, and its answer is JSON in one language. Yet the
full chain ran session, locale, common, CSRF, authentication and message middleware
for it: about 0.3 ms, a tenth of a batch of 10's CPU in a gunicorn worker
(bench/README.md, sixth round). `LeanPathsMiddleware` sits after the middleware every
response needs (request id, security headers, whitenoise, X-Frame-Options) and hands
the exact paths in `settings.LEAN_PATHS` to a chain of `settings.LEAN_MIDDLEWARE` (the
API's input guard) and the view; every other path goes on through the full chain.

Paths are matched exactly, never by prefix: a private route added beside the collector
(or `/api/collect/` with a slash) keeps its session, CSRF check and authentication.
The endpoints served lean must need none of them: no `request.user`, no
`request.session`, no messages, no CSRF protection (they authenticate by public site
key and set no cookie).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

# Hooks Django calls from around a view, which the lean chain does not run: a middleware
# that needs them cannot be part of it.
VIEW_HOOKS = ("process_view", "process_template_response", "process_exception")


class _LeanHandler(BaseHandler):
    """Django's request handling (URL resolution, the view, a 404 or 500 for what it
    raises) behind `middleware` alone, each a plain `__call__` middleware."""

    def __init__(self, middleware: list[str]) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        chain = convert_exception_to_response(self._get_response)
        for path in reversed(middleware):
            factory = import_string(path)
            if any(hasattr(factory, hook) for hook in VIEW_HOOKS):
                raise ImproperlyConfigured(
                    f"{path} has view hooks; it cannot be in LEAN_MIDDLEWARE"
                )
            chain = convert_exception_to_response(factory(chain))
        self.chain = chain


class LeanPathsMiddleware:
    """Serves `settings.LEAN_PATHS` through the lean chain, the rest through the full one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.paths = frozenset(settings.LEAN_PATHS)
        self.lean = _LeanHandler(settings.LEAN_MIDDLEWARE).chain

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in self.paths:
            return self.lean(request)
        return self.get_response(request)
