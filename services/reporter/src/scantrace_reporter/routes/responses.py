"""What the routes answer besides their bodies: the OpenAPI error responses they share, and the
answer of a batch (each item judged on its own)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from scantrace_common.errors import error_doc
from scantrace_reporter.service import Rejection

Responses = dict[int | str, dict[str, Any]]
T = TypeVar("T")

#: The operations on one unit or venue, which may not exist (officials get 403 instead).
NO_SUCH: Final[Responses] = {404: error_doc("no such unit or venue")}
#: The writes, which are published to Kafka (and applied to Redis) before they are answered.
UNAVAILABLE: Final[Responses] = {
    503: error_doc(
        "Kafka or Redis unavailable: nothing was stored; retry after Retry-After seconds",
        retry_after=True,
    )
}
#: The creations of one unit or venue.
CREATE: Final[Responses] = {
    **UNAVAILABLE,
    409: error_doc("that id exists already (ids are never reused)"),
}


def file_doc(media_type: str, description: str) -> Responses:
    """The 200 of an operation that answers a file of `media_type`, not JSON."""
    return {200: {"description": description, "content": {media_type: {}}}}


def batch_answer(
    results: Sequence[T | Rejection], created: Callable[[T], dict[str, Any]]
) -> dict[str, Any]:
    """`{"created": [{index, ...}], "rejected": [{index, status, error}]}`."""
    answer: dict[str, Any] = {"created": [], "rejected": []}
    for index, result in enumerate(results):
        if isinstance(result, Rejection):
            answer["rejected"].append(
                {"index": index, "status": result.status, "error": result.error}
            )
        else:
            answer["created"].append({"index": index, **created(result)})
    return answer
