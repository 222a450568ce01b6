from collections.abc import Callable, Collection

def contacts_json(
    rows: list[tuple[int, int, int, int, list[bytes]]],
    venue_json: list[bytes],
    owner_ranks: list[list[int]],
    owner_json: list[bytes],
    min_overlap_ms: int,
    skip: Collection[bytes],
    depth: int,
    via_of: bool,
    want_firsts: bool,
    json_string: Callable[[str], str],
    iso_time: Callable[[int], str],
) -> tuple[bytes, list[tuple[str, int]]]: ...
