"""Typed errors of the gramfleet client.

Every error the jobs HTTP API answers is a JSON body ``{"code", "message", "details"}`` whose
``code`` comes from gramfleet's error catalogue (``core/src/errors.ts``). The client raises it
as a :class:`GramfleetError` subclass chosen by the HTTP status, keeping the code, so callers
branch on ``err.code`` (or the class), never on the message text.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional


class GramfleetError(Exception):
    """An error answered by the cluster (or found by the client before a request).

    Attributes:
        code: The catalogue code, e.g. ``"API_UNAUTHENTICATED"``, ``"INPUT_INVALID"``.
        message: What happened and what to fix; starts with ``[CODE]``.
        details: Structured context: the field, the bound, the value.
        status: The HTTP status (0 when the client raised it itself).
    """

    def __init__(self, code: str, message: str, details: Optional[Mapping[str, Any]] = None, status: int = 0) -> None:
        super().__init__(message)
        self.code: str = code
        self.message: str = message
        self.details: Dict[str, Any] = dict(details or {})
        self.status: int = status

    @property
    def field(self) -> Optional[str]:
        """The field the error names, when it names one."""
        f = self.details.get("field")
        return f if isinstance(f, str) else None


class AuthenticationError(GramfleetError):
    """401: the token is missing, malformed, unknown or revoked (``API_UNAUTHENTICATED``) or expired (``API_TOKEN_EXPIRED``)."""


class InputError(GramfleetError):
    """400 or 413: a parameter is missing, of the wrong type, out of range or too large; ``field`` names it."""


class NotFoundError(GramfleetError):
    """404: no such job (``JOB_NOT_FOUND``), campaign or object (``API_NOT_FOUND``)."""


class JobRunningError(GramfleetError):
    """409: a result was asked for before the job ended (``API_JOB_RUNNING``)."""


class JobFailedError(GramfleetError):
    """422: the job failed, was cancelled or timed out; ``code`` is the job's own error code."""


class ServerError(GramfleetError):
    """5xx: the cluster could not answer (``CLUSTER_UNAVAILABLE``, ``QUEUE_FULL``, ``API_INTERNAL``, ...)."""


def error_from_response(status: int, body: bytes) -> GramfleetError:
    """The typed error of an HTTP error answer."""
    code, message, details = "API_INTERNAL", "", {}  # type: str, str, Dict[str, Any]
    try:
        parsed = json.loads(body.decode("utf-8"))
        if isinstance(parsed, dict):
            code = str(parsed.get("code", code))
            message = str(parsed.get("message", ""))
            d = parsed.get("details")
            details = d if isinstance(d, dict) else {}
    except (ValueError, UnicodeDecodeError):
        message = body[:200].decode("utf-8", "replace")
    if message == "":
        message = f"[{code}] HTTP {status}"
    cls = {401: AuthenticationError, 400: InputError, 413: InputError, 404: NotFoundError, 409: JobRunningError, 422: JobFailedError}.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else GramfleetError
    return cls(code, message, details, status)
