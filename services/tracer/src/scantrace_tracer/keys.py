"""Redis key layout. Every key starts with the namespace; the part in braces is the Redis Cluster
hash tag, so the keys one command or script touches together share a slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Venue co-presence buckets are 6 h of visit starts: small enough to stay listpack-encoded.
BUCKET_MS: Final = 6 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class Keys:
    namespace: str = ""

    @property
    def prefix(self) -> str:
        return f"{self.namespace}tracer:"

    def scan_log(self, person_id: str) -> str:
        """ZSET of a person's scans: score scanned_at, member direction + scan_id + venue_id."""
        return f"{self.prefix}p:{{{person_id}}}:scans"

    def person_visits(self, person_id: str) -> str:
        """ZSET of a person's visits: score start, member end + closed_by + venue_id (+ #n)."""
        return f"{self.prefix}p:{{{person_id}}}:visits"

    def venue_bucket(self, venue_id: str, bucket: int) -> str:
        """ZSET of the visits at a venue starting in one bucket: member end + closed_by + person."""
        return f"{self.prefix}v:{{{venue_id}}}:b:{bucket}"

    def venue_stays(self, venue_id: str) -> str:
        """HASH of the longest visit stored at the venue (ms): field `max` over all its visits
        (how far back a co-presence read must look), field `<N>` over those starting in bucket N
        (how far back within that bucket's starts)."""
        return f"{self.prefix}v:{{{venue_id}}}:stays"

    @property
    def venues(self) -> str:
        """HASH venue_id -> dwell in minutes, from venues.v1."""
        return f"{self.prefix}venues"

    def ingest_epoch(self, lane: int) -> str:
        """STRING counter the ingest increments with every batch on a lane: a value other than
        the one it expects means Redis is not as it left it (emptied, restored, another
        writer), so what it remembers of the persons is dropped."""
        return f"{self.prefix}ingest:epoch:{lane}"

    @property
    def open_visits(self) -> str:
        """ZSET person_id -> end of their still-open last visit (for the open-visits gauge)."""
        return f"{self.prefix}open"

    def case(self, case_id: str) -> str:
        """STRING: the JSON of a case (status and depth-1 contacts)."""
        return f"{self.prefix}case:{case_id}"

    def follow_up(self, follow_up_id: str) -> str:
        """STRING: the JSON of a follow-up record (SPEC 11)."""
        return f"{self.prefix}fu:{follow_up_id}"

    def case_follow_ups(self, case_id: str) -> str:
        """SET of the follow_up_ids of a case's depth-1 contacts."""
        return f"{self.prefix}fu:case:{case_id}"

    @property
    def follow_ups_until(self) -> str:
        """ZSET follow_up_id -> the end of its `until` day (ms): the records of a date."""
        return f"{self.prefix}fu:until"

    def declared_days(self, person_id: str) -> str:
        """HASH of a person's declared local days: `YYYY-MM-DD` -> `1` (a symptom) or `0`."""
        return f"{self.prefix}p:{{{person_id}}}:declared"

    def case_presences(self, venue_id: str) -> str:
        """HASH of the cases' visits at a venue: case_id -> JSON [[start, end], ...], each visit
        of the case's person clipped to its infectious period (SPEC 11 presences)."""
        return f"{self.prefix}v:{{{venue_id}}}:cases"

    def venue_clusters(self, venue_id: str) -> str:
        """STRING: the JSON of a venue's cluster list as last published on clusters.v1."""
        return f"{self.prefix}v:{{{venue_id}}}:clusters"

    @property
    def clusters(self) -> str:
        """ZSET cluster_id -> the instant it closes (end + the open days): the current ones."""
        return f"{self.prefix}clusters"

    @property
    def venue_kinds(self) -> str:
        """HASH venue_id -> kind, from venues.v1 (the cluster threshold of its kind)."""
        return f"{self.prefix}venue-kinds"


def bucket_of(ms: int) -> int:
    return ms // BUCKET_MS
