"""The error a simulated provider returns, carrying the HTTP status and the provider's error body.

In-process callers catch it as a :class:`~promptcache.errors.RuleViolation` (it names the rule and
the block); the loopback servers turn it into the HTTP response the real API would send, so the
official clients raise their own exception type (``anthropic.BadRequestError``...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from promptcache.errors import RuleViolation

__all__ = ["SimulatedAPIError"]

ErrorStyle = Literal["anthropic", "openai", "gemini"]

_GEMINI_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


class SimulatedAPIError(RuleViolation):
    """A request the simulated provider rejects, as the real API would (usually an HTTP 400)."""

    def __init__(
        self,
        message: str,
        *,
        rule: str,
        path: str | None = None,
        status_code: int = 400,
        style: ErrorStyle = "anthropic",
    ) -> None:
        super().__init__(message, path=path, rule=rule)
        self.message = message
        self.status_code = status_code
        self.style: ErrorStyle = style

    @property
    def body(self) -> Mapping[str, Any]:
        """The JSON error body in the provider's own shape, for the loopback servers."""
        if self.style == "anthropic":
            kind = {400: "invalid_request_error", 404: "not_found_error"}.get(
                self.status_code, "api_error"
            )
            return {"type": "error", "error": {"type": kind, "message": self.message}}
        if self.style == "openai":
            return {
                "error": {
                    "message": self.message,
                    "type": "invalid_request_error",
                    "param": self.path,
                    "code": self.rule,
                }
            }
        return {
            "error": {
                "code": self.status_code,
                "message": self.message,
                "status": _GEMINI_STATUS.get(self.status_code, "INTERNAL"),
            }
        }
