# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""An exposure query's contacts, compiled: co-presence rows in, the contacts' JSON out.

The same rules and bytes as the pure Python path (`exposures._encounters`, `exposures._contacts`,
`jsonbody.exposures_body`), which stays the reference: tests compare the two on random visits.
In CPython that path costs about 1.6 us per encounter (the heaviest depth-1 answer of the
bench, 1,951 encounters, 3.4 ms); here each member costs one small bytes object and two hash
look-ups, and the grouping, sorting and JSON are C (see docs/tracer.md, "Compiled contacts").
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memchr, memcmp, memcpy

cdef int64_t MINUTE_MS = 60_000
cdef int64_t DAY_MS = 86_400_000

cdef struct Enc:
    int64_t s
    int64_t e
    int32_t person
    int32_t venue
    int32_t owner

cdef struct Contact:
    int64_t total
    uint64_t key0  # the person's first 16 bytes, big-endian, zero-padded: most ties end here
    uint64_t key1
    int32_t person
    int32_t first
    int32_t count
    int32_t via

cdef struct Buf:
    char* data
    Py_ssize_t size
    Py_ssize_t cap

# the persons' bytes, for the contacts' comparator (qsort takes no context; the GIL is held)
cdef const char** _names
cdef Py_ssize_t* _lengths


cdef int _by_time(const void* x, const void* y) noexcept nogil:
    """One person's encounters in the SPEC's order: start, venue_id, end (then the owner)."""
    cdef const Enc* a = <const Enc*>x
    cdef const Enc* b = <const Enc*>y
    if a.s != b.s:
        return -1 if a.s < b.s else 1
    if a.venue != b.venue:
        return -1 if a.venue < b.venue else 1
    if a.e != b.e:
        return -1 if a.e < b.e else 1
    if a.owner != b.owner:
        return -1 if a.owner < b.owner else 1
    return 0


cdef int _by_total_then_person(const void* x, const void* y) noexcept nogil:
    """Contacts: longest total first, then person_id as bytes."""
    cdef const Contact* a = <const Contact*>x
    cdef const Contact* b = <const Contact*>y
    if a.total != b.total:
        return -1 if a.total > b.total else 1
    if a.key0 != b.key0:
        return -1 if a.key0 < b.key0 else 1
    if a.key1 != b.key1:
        return -1 if a.key1 < b.key1 else 1
    cdef Py_ssize_t la = _lengths[a.person]
    cdef Py_ssize_t lb = _lengths[b.person]
    cdef int c = memcmp(_names[a.person], _names[b.person], la if la < lb else lb)
    if c != 0:
        return c
    return -1 if la < lb else (1 if la > lb else 0)


cdef inline uint64_t _key(const char* text, Py_ssize_t n, Py_ssize_t at) noexcept nogil:
    """Bytes [at, at + 8) of text as a big-endian integer, zeros past its end."""
    cdef uint64_t key = 0
    cdef Py_ssize_t i
    for i in range(at, at + 8):
        key = (key << 8) | (<uint64_t>(<const unsigned char*>text)[i] if i < n else 0)
    return key


cdef int _grow(Buf* buf, Py_ssize_t more) except -1:
    cdef Py_ssize_t cap
    cdef char* data
    if buf.size + more <= buf.cap:
        return 0
    cap = buf.cap * 2
    if cap < buf.size + more:
        cap = buf.size + more
    data = <char*>realloc(buf.data, cap)
    if data == NULL:
        raise MemoryError()
    buf.data = data
    buf.cap = cap
    return 0


cdef inline int _put(Buf* buf, const char* text, Py_ssize_t n) except -1:
    _grow(buf, n)
    memcpy(buf.data + buf.size, text, n)
    buf.size += n
    return 0


cdef inline int _put_bytes(Buf* buf, bytes text) except -1:
    return _put(buf, PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text))


cdef int _put_int(Buf* buf, int64_t value) except -1:
    """An integer in decimal (`_digits`, with the capacity checked and a sign)."""
    _grow(buf, 21)
    if value < 0:
        buf.data[buf.size] = b'-'
        buf.size += 1
        value = -value
    buf.size += _digits(buf.data + buf.size, value)
    return 0


#: the first and last instants a date holds (0001-01-01, 9999-12-31): outside them Python says
#: what to do (iso_time raises, as on the Python path)
cdef int64_t FIRST_MS = -62_135_596_800_000
cdef int64_t LAST_MS = 253_402_300_799_999
#: "YYYY-MM-DDT" of the last days written, one slot per day number modulo 64 (an answer spans a
#: few days; the civil date is then computed once per day, not per time)
cdef int64_t _day_of[64]
cdef char _day_text[64][11]
for _slot in range(64):
    _day_of[_slot] = -(1 << 62)


cdef inline void _two(char* out, int64_t v) noexcept nogil:
    out[0] = <char>(48 + v // 10)
    out[1] = <char>(48 + v % 10)


cdef void _civil(int64_t days, char* out) noexcept nogil:
    """"YYYY-MM-DDT" of a day number since 1970-01-01 (H. Hinnant's algorithm, proleptic
    Gregorian), for years 1 to 9999."""
    cdef int64_t z = days + 719468
    cdef int64_t era = (z if z >= 0 else z - 146096) // 146097
    cdef int64_t doe = z - era * 146097
    cdef int64_t yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    cdef int64_t doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    cdef int64_t mp = (5 * doy + 2) // 153
    cdef int64_t day = doy - (153 * mp + 2) // 5 + 1
    cdef int64_t month = mp + 3 if mp < 10 else mp - 9
    cdef int64_t year = yoe + era * 400 + (1 if month <= 2 else 0)
    _two(out, year // 100)
    _two(out + 2, year % 100)
    out[4] = b'-'
    _two(out + 5, month)
    out[7] = b'-'
    _two(out + 8, day)
    out[10] = b'T'


cdef inline int _time(char* out, int64_t ms) noexcept nogil:
    """Writes ms (FIRST_MS..LAST_MS) as `jsonbody.iso_time` does, RFC 3339 UTC with
    milliseconds only when not 0; returns the length (20 or 24)."""
    cdef int64_t days = ms // DAY_MS
    cdef int64_t rem = ms - days * DAY_MS
    if rem < 0:  # C division truncates; a day starts at its midnight
        days -= 1
        rem += DAY_MS
    cdef int slot = <int>(days & 63)
    if _day_of[slot] != days:
        _civil(days, _day_text[slot])
        _day_of[slot] = days
    memcpy(out, _day_text[slot], 11)
    _two(out + 11, rem // 3_600_000)
    out[13] = b':'
    _two(out + 14, rem // 60_000 % 60)
    out[16] = b':'
    _two(out + 17, rem // 1000 % 60)
    cdef int64_t milli = rem % 1000
    if milli:
        out[19] = b'.'
        out[20] = <char>(48 + milli // 100)
        _two(out + 21, milli % 100)
        out[23] = b'Z'
        return 24
    out[19] = b'Z'
    return 20


cdef inline int _digits(char* out, int64_t value) noexcept nogil:
    """A non-negative integer in decimal; returns its length. (On a negative one the slow path
    of `_put_encounter` calls `_put_int`.)"""
    cdef char tmp[20]
    cdef int n = 0
    cdef uint64_t v = <uint64_t>value
    while True:
        tmp[19 - n] = <char>(48 + v % 10)
        n += 1
        v //= 10
        if v == 0:
            break
    memcpy(out, &tmp[20 - n], n)
    return n


cdef int _put_encounter(Buf* buf, const Enc* enc, bytes venue, bint comma, object iso_time) except -1:
    """One encounter's JSON object: written in place (one capacity check) when its times are in
    the years a date holds, else through the Python renderer."""
    cdef Py_ssize_t vn = PyBytes_GET_SIZE(venue)
    cdef char* out
    # (e < s cannot come from the filter, whose overlap is >= 0; it would not fit _digits)
    if enc.s < FIRST_MS or enc.e > LAST_MS or enc.e < enc.s:
        if comma:
            _put(buf, b",", 1)
        _put_bytes(buf, b'{"venue_id":' + venue + b',"start":"')
        _put_bytes(buf, (<str>iso_time(enc.s)).encode() + b'","end":"')
        _put_bytes(buf, (<str>iso_time(enc.e)).encode() + b'","overlap_minutes":')
        _put_int(buf, (enc.e - enc.s) // MINUTE_MS)
        return _put(buf, b"}", 1)
    _grow(buf, 128 + vn)
    out = buf.data + buf.size
    if comma:
        out[0] = b','
        out += 1
    memcpy(out, b'{"venue_id":', 12)
    out += 12
    memcpy(out, PyBytes_AS_STRING(venue), vn)
    out += vn
    memcpy(out, b',"start":"', 10)
    out += 10
    out += _time(out, enc.s)
    memcpy(out, b'","end":"', 9)
    out += 9
    out += _time(out, enc.e)
    memcpy(out, b'","overlap_minutes":', 20)
    out += 20
    out += _digits(out, (enc.e - enc.s) // MINUTE_MS)
    out[0] = b'}'
    out += 1
    buf.size = out - buf.data
    return 0


cdef inline bint _plain(const char* text, Py_ssize_t n) noexcept nogil:
    """Ids as the event schemas allow them ([A-Za-z0-9_.-]) need no JSON escaping."""
    cdef Py_ssize_t i
    cdef char c
    for i in range(n):
        c = text[i]
        if not (
            (c >= b'a' and c <= b'z') or (c >= b'A' and c <= b'Z') or (c >= b'0' and c <= b'9')
            or c == b'_' or c == b'.' or c == b'-'
        ):
            return False
    return True


def contacts_json(
    list rows,
    list venue_json,
    list owner_ranks,
    list owner_json,
    int64_t min_overlap_ms,
    skip,
    int depth,
    bint via_of,
    bint want_firsts,
    json_string,
    iso_time,
):
    """(the contacts' JSON objects joined by commas, [(person_id, first encounter start)] in
    the answer's order when `want_firsts`) from `TracerStore.co_present_rows` rows.

    venue_json[i]: request i's venue as a JSON string (bytes); owner_ranks[i][j]: the rank of
    window j's owner among the owners (their order as strings), owner_json[rank] its JSON;
    skip: persons (bytes) left out; json_string(str) -> str and iso_time(ms) -> str: the Python
    renderers, for ids that need escaping and times outside years 1-9999.
    """
    global _names, _lengths
    cdef dict index = {}
    cdef list persons = []
    cdef Enc* encs = NULL
    cdef Enc* grouped = NULL
    cdef Contact* contacts = NULL
    cdef Py_ssize_t n = 0, cap = 0, n_contacts = 0, k, g, h, i
    cdef Buf buf
    cdef const unsigned char* p
    cdef const char* name
    cdef const char* cut
    cdef Py_ssize_t size, name_len
    cdef int64_t a, b, s, e, total
    cdef int32_t venue, owner, via
    cdef bytes member, person
    cdef object found
    cdef list firsts = []
    cdef tuple row
    cdef Enc* enc
    buf.data = NULL
    buf.size = 0
    buf.cap = 0
    try:
        for row in rows:
            venue = <int32_t>row[0]
            owner = <int32_t>(<list>owner_ranks[venue])[row[1]]
            a = row[2]
            b = row[3]
            for member in <list>row[4]:
                p = <const unsigned char*>PyBytes_AS_STRING(member)
                size = PyBytes_GET_SIZE(member)
                if size < 17:  # only this code writes members: a shorter one is a corrupt store
                    raise ValueError(f"malformed visit member {member!r}: run `scantrace tracer rebuild`")
                s = <int64_t>(
                    (<uint64_t>p[0] << 56) | (<uint64_t>p[1] << 48) | (<uint64_t>p[2] << 40)
                    | (<uint64_t>p[3] << 32) | (<uint64_t>p[4] << 24) | (<uint64_t>p[5] << 16)
                    | (<uint64_t>p[6] << 8) | <uint64_t>p[7]
                )
                e = <int64_t>(
                    (<uint64_t>p[8] << 56) | (<uint64_t>p[9] << 48) | (<uint64_t>p[10] << 40)
                    | (<uint64_t>p[11] << 32) | (<uint64_t>p[12] << 24) | (<uint64_t>p[13] << 16)
                    | (<uint64_t>p[14] << 8) | <uint64_t>p[15]
                )
                # the overlap with the window; the read is a superset
                if s < a:
                    s = a
                if e > b:
                    e = b
                if e - s < min_overlap_ms:
                    continue
                name = <const char*>p + 17  # after start, end and closed_by
                name_len = size - 17
                cut = <const char*>memchr(name, 35, name_len)  # a rare "#n" suffix dropped
                if cut != NULL:
                    name_len = cut - name
                person = PyBytes_FromStringAndSize(name, name_len)
                if person in skip:
                    continue
                found = index.get(person)
                if found is None:
                    found = len(persons)
                    index[person] = found
                    persons.append(person)
                if n == cap:
                    cap = cap * 2 if cap else 1024
                    enc = <Enc*>realloc(encs, cap * sizeof(Enc))
                    if enc == NULL:
                        raise MemoryError()
                    encs = enc
                encs[n].s = s
                encs[n].e = e
                encs[n].person = <int32_t>found
                encs[n].venue = venue
                encs[n].owner = owner
                n += 1
        if n == 0:
            return b"", firsts
        # Grouped per person by a counting sort (most persons have one encounter), then each
        # group of several sorted by time: cheaper than one sort of everything (glibc's merge
        # sort was a third of the time here).
        n_contacts = len(persons)
        contacts = <Contact*>malloc(n_contacts * sizeof(Contact))
        grouped = <Enc*>malloc(n * sizeof(Enc))
        _names = <const char**>malloc(n_contacts * sizeof(char*))
        _lengths = <Py_ssize_t*>malloc(n_contacts * sizeof(Py_ssize_t))
        if contacts == NULL or grouped == NULL or _names == NULL or _lengths == NULL:
            raise MemoryError()
        for k in range(n_contacts):
            contacts[k].count = 0
        for k in range(n):
            contacts[encs[k].person].count += 1
        g = 0
        for k in range(n_contacts):
            contacts[k].first = <int32_t>g
            g += contacts[k].count
            contacts[k].count = 0
        for k in range(n):
            h = contacts[encs[k].person].first + contacts[encs[k].person].count
            grouped[h] = encs[k]
            contacts[encs[k].person].count += 1
        for k in range(n_contacts):
            g = contacts[k].first
            h = g + contacts[k].count
            if h - g > 1:
                qsort(grouped + g, h - g, sizeof(Enc), _by_time)
            total = 0
            via = grouped[g].owner  # the earliest encounter's owner, the smallest on a tie
            for i in range(g, h):
                total += (grouped[i].e - grouped[i].s) // MINUTE_MS
                if grouped[i].s == grouped[g].s and grouped[i].owner < via:
                    via = grouped[i].owner
            person = <bytes>persons[k]
            name = PyBytes_AS_STRING(person)
            name_len = PyBytes_GET_SIZE(person)
            _names[k] = name
            _lengths[k] = name_len
            contacts[k].total = total
            contacts[k].key0 = _key(name, name_len, 0)
            contacts[k].key1 = _key(name, name_len, 8)
            contacts[k].person = <int32_t>k
            contacts[k].via = via
        free(encs)
        encs = grouped
        grouped = NULL
        qsort(contacts, n_contacts, sizeof(Contact), _by_total_then_person)
        for k in range(n_contacts):
            if k:
                _put(&buf, b",", 1)
            name = _names[contacts[k].person]
            name_len = _lengths[contacts[k].person]
            _put_bytes(&buf, b'{"person_id":')
            if _plain(name, name_len):
                _put(&buf, b'"', 1)
                _put(&buf, name, name_len)
                _put(&buf, b'"', 1)
            else:
                person = <bytes>persons[contacts[k].person]
                _put_bytes(&buf, (<str>json_string(person.decode())).encode())
            _put_bytes(&buf, b',"depth":')
            _put_int(&buf, depth)
            if via_of:
                _put_bytes(&buf, b',"via":')
                _put_bytes(&buf, <bytes>owner_json[contacts[k].via])
            else:
                _put_bytes(&buf, b',"via":null')
            _put_bytes(&buf, b',"total_overlap_minutes":')
            _put_int(&buf, contacts[k].total)
            _put_bytes(&buf, b',"encounters":[')
            for g in range(contacts[k].first, contacts[k].first + contacts[k].count):
                _put_encounter(
                    &buf, &encs[g], <bytes>venue_json[encs[g].venue], g != contacts[k].first,
                    iso_time,
                )
            _put_bytes(&buf, b"]}")
            if want_firsts:
                firsts.append(
                    ((<bytes>persons[contacts[k].person]).decode(), encs[contacts[k].first].s)
                )
        return PyBytes_FromStringAndSize(buf.data, buf.size), firsts
    finally:
        free(encs)
        free(grouped)
        free(contacts)
        free(buf.data)
        free(_names)
        free(_lengths)
        _names = NULL
        _lengths = NULL
