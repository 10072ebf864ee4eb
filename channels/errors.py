"""Typed outbound errors: callers decide by type (retry, wait, stop, fix config), never by text.

Every message is content-free: it names the provider and, where the provider gave one, its
numeric error code or HTTP status. Never the survivor's words, number, chat id or the
provider's response body (which can echo the text back).
"""

from __future__ import annotations

from typing import Optional, Union


class ChannelError(Exception):
    """A provider call failed; `provider` and `code` say where and why (no content)."""

    def __init__(self, provider: str, detail: str = "", code: Optional[Union[int, str]] = None) -> None:
        self.provider = provider
        self.detail = detail
        self.code = code
        parts = [provider]
        if detail:
            parts.append(detail)
        if code is not None:
            parts.append(f"code={code}")
        super().__init__(": ".join(parts[:2]) + (f" ({parts[2]})" if len(parts) > 2 else ""))


class Retryable(ChannelError):
    """A temporary failure (5xx, connection error, timeout): the same call may succeed later.

    `maybe_sent` is True when the provider may already have accepted the message (a read timeout
    after the request went out): resending could deliver it twice, so nothing retries it blindly.
    """

    def __init__(
        self, provider: str, detail: str = "", code: Optional[Union[int, str]] = None, maybe_sent: bool = False
    ) -> None:
        self.maybe_sent = maybe_sent
        super().__init__(provider, detail, code)


class Throttled(Retryable):
    """The provider asked us to slow down; retry no sooner than `retry_after` seconds."""

    def __init__(self, provider: str, retry_after: float, detail: str = "throttled", code: Optional[Union[int, str]] = None) -> None:
        self.retry_after = max(0.0, float(retry_after))
        super().__init__(provider, f"{detail}, retry after {self.retry_after:g}s", code)


class ContactStopped(ChannelError):
    """The contact cannot or does not want to be reached (SMS STOP / 21610, bot blocked): never retry."""


class Misconfigured(ChannelError):
    """Our side is wrong (credentials, sender number, template, request shape): fix config, do not retry."""
