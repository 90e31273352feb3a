"""trawl's one error tree.

Every error that crosses an actor boundary is one of these: plain, picklable
(all state lives in ``args``-compatible attributes), and free of third-party
objects. Adapters convert openai / aiohttp / duckdb exceptions into them at the
edge, so a Ray actor never has to ship an ``openai.RateLimitError`` (whose
``response`` object does not pickle cleanly) to the driver.

    TrawlError
    ├── SpecError                  a job spec is invalid; ``problems`` lists every one
    ├── StoreError                 the output folder cannot be read or written
    │   └── ReadOnlyQueryError     `trawl query` was asked to write, attach or copy
    ├── RetryableError             worth trying again (possibly elsewhere)
    │   ├── RateLimitedError       429 or a local limit; ``retry_after`` seconds if known
    │   ├── UnavailableError       5xx, connection refused, circuit open
    │   └── TimeoutError_          connect/read/total timeout
    ├── PermanentError             trying again with the same input will not help
    │   ├── BadRequestError        400/404/422, context length, unsupported parameter
    │   ├── AuthError              401/403 or a missing API key
    │   ├── UnparseableOutputError the LLM answered but not in a shape we can parse
    │   ├── TruncatedOutputError   the reply hit the output cap (finish_reason "length")
    │   ├── RefusedError           the model refused (message.refusal, finish_reason "content_filter")
    │   ├── BlockedError           address guard or robots.txt refused a URL
    │   └── ContentError           body too large, wrong content type, undecodable
    └── BudgetExhaustedError       the job's token/cost cap is reached; resumable

``reason`` on every error is a short machine-friendly slug (``http_429``,
``robots_disallowed``, ``too_large``...) that lands in the ``error``/``reason``
columns of the output tables; ``str(err)`` is the human message.
"""

from __future__ import annotations

__all__ = [
    "TrawlError",
    "SpecError",
    "SpecProblem",
    "StoreError",
    "ReadOnlyQueryError",
    "RetryableError",
    "RateLimitedError",
    "UnavailableError",
    "TimeoutError_",
    "PermanentError",
    "BadRequestError",
    "AuthError",
    "UnparseableOutputError",
    "BlockedError",
    "TruncatedOutputError",
    "RefusedError",
    "ContentError",
    "BudgetExhaustedError",
    "exception_chain",
]

from collections.abc import Iterator
from dataclasses import dataclass


class TrawlError(Exception):
    """Base of every error trawl raises on purpose."""

    reason: str = "error"

    def __init__(self, message: str = "", *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def __reduce__(self):  # keep subclasses' keyword-only state through pickling
        return (_rebuild, (type(self), self.__dict__.copy()))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls, state):
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err


@dataclass(frozen=True)
class SpecProblem:
    """One problem in a job spec: where it is, what is wrong, what was there."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(TrawlError):
    """A job spec is invalid. ``problems`` holds every problem found, in file order."""

    reason = "invalid_spec"

    def __init__(self, problems: list[SpecProblem] | list[str], *, source: str = "") -> None:
        self.problems = [p if isinstance(p, SpecProblem) else SpecProblem("", str(p)) for p in problems]
        self.source = source
        head = f"{source}: " if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{head}{len(self.problems)} problem(s) in job spec:\n{lines}")


class StoreError(TrawlError):
    reason = "store_error"


class ReadOnlyQueryError(StoreError):
    reason = "read_only"


class RetryableError(TrawlError):
    """Transient: the same request may succeed later or on another provider."""

    reason = "retryable"


class RateLimitedError(RetryableError):
    reason = "rate_limited"

    def __init__(self, message: str = "", *, retry_after: float | None = None, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class UnavailableError(RetryableError):
    reason = "unavailable"
    retry_after: float | None = None  # seconds, when the server said when to come back (a 503 with Retry-After)


class TimeoutError_(RetryableError):  # noqa: N801 - avoid shadowing the builtin
    reason = "timeout"


class PermanentError(TrawlError):
    """Deterministic failure: retrying the same request will fail the same way."""

    reason = "permanent"


class BadRequestError(PermanentError):
    reason = "bad_request"
    param: str = ""  # the request parameter a 400 names (OpenAI's error.param), read by pipelines.llm.adapt


class AuthError(PermanentError):
    reason = "auth"


class UnparseableOutputError(PermanentError):
    reason = "unparseable_output"


class TruncatedOutputError(PermanentError):
    reason = "truncated"


class RefusedError(PermanentError):
    reason = "refused"


class BlockedError(PermanentError):
    reason = "blocked"


class ContentError(PermanentError):
    reason = "content"


class BudgetExhaustedError(TrawlError):
    reason = "budget_exhausted"


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception behind it (``__cause__``, ``__context__``, an aiohttp ``os_error``), each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        todo.extend([getattr(cur, "os_error", None), cur.__cause__, cur.__context__])
