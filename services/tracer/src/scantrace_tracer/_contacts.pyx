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


cdef int _by_person_then_time(const void* x, const void* y) noexcept nogil:
    cdef const Enc* a = <const Enc*>x
    cdef const Enc* b = <const Enc*>y
    if a.person != b.person:
        return -1 if a.person < b.person else 1
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
    cdef const Contact* a = <const Contact*>x
    cdef const Contact* b = <const Contact*>y
    if a.total != b.total:
        return -1 if a.total > b.total else 1
    cdef Py_ssize_t la = _lengths[a.person]
    cdef Py_ssize_t lb = _lengths[b.person]
    cdef int c = memcmp(_names[a.person], _names[b.person], la if la < lb else lb)
    if c != 0:
        return c
    return -1 if la < lb else (1 if la > lb else 0)


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
    cdef char digits[24]
    cdef int n = 0
    cdef bint negative = value < 0
    cdef uint64_t v = <uint64_t>(-value) if negative else <uint64_t>value
    while True:
        digits[23 - n] = <char>(48 + v % 10)
        n += 1
        v //= 10
        if v == 0:
            break
    if negative:
        digits[23 - n] = b'-'
        n += 1
    return _put(buf, &digits[24 - n], n)


cdef inline void _two(char* out, int64_t v) noexcept nogil:
    out[0] = <char>(48 + v // 10)
    out[1] = <char>(48 + v % 10)


cdef int _put_time(Buf* buf, int64_t ms, object iso_time) except -1:
    """RFC 3339 UTC as `jsonbody.iso_time` writes it: milliseconds only when not 0."""
    cdef int64_t days = ms // DAY_MS
    cdef int64_t rem = ms - days * DAY_MS
    if rem < 0:  # C division truncates; a day starts at its midnight
        days -= 1
        rem += DAY_MS
    # days since 1970-01-01 to a civil date (H. Hinnant's algorithm, proleptic Gregorian)
    cdef int64_t z = days + 719468
    cdef int64_t era = (z if z >= 0 else z - 146096) // 146097
    cdef int64_t doe = z - era * 146097
    cdef int64_t yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    cdef int64_t doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    cdef int64_t mp = (5 * doy + 2) // 153
    cdef int64_t day = doy - (153 * mp + 2) // 5 + 1
    cdef int64_t month = mp + 3 if mp < 10 else mp - 9
    cdef int64_t year = yoe + era * 400 + (1 if month <= 2 else 0)
    cdef char out[24]
    cdef int64_t milli = rem % 1000
    cdef int n = 20
    if year < 1 or year > 9999:  # outside what a date holds: let Python say so
        _put_bytes(buf, (<str>iso_time(ms)).encode())
        return 0
    _two(out, year // 100)
    _two(out + 2, year % 100)
    out[4] = b'-'
    _two(out + 5, month)
    out[7] = b'-'
    _two(out + 8, day)
    out[10] = b'T'
    _two(out + 11, rem // 3_600_000)
    out[13] = b':'
    _two(out + 14, rem // 60_000 % 60)
    out[16] = b':'
    _two(out + 17, rem // 1000 % 60)
    if milli:
        out[19] = b'.'
        out[20] = <char>(48 + milli // 100)
        _two(out + 21, milli % 100)
        n = 24
    out[n - 1] = b'Z'
    return _put(buf, out, n)


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
    cdef Contact* contacts = NULL
    cdef Py_ssize_t n = 0, cap = 0, n_contacts = 0, k, g, h
    cdef Buf buf
    cdef const unsigned char* p
    cdef const char* name
    cdef const char* cut
    cdef Py_ssize_t size, name_len
    cdef int64_t a, b, s, e, total
    cdef int32_t venue, owner, via
    cdef bytes member, person, vj
    cdef object found
    cdef list ranks, firsts = []
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
        qsort(encs, n, sizeof(Enc), _by_person_then_time)
        contacts = <Contact*>malloc(len(persons) * sizeof(Contact))
        if contacts == NULL:
            raise MemoryError()
        g = 0
        while g < n:  # one group of encounters per person
            h = g
            total = 0
            via = encs[g].owner  # the earliest encounter's owner, the smallest on a tie
            while h < n and encs[h].person == encs[g].person:
                total += (encs[h].e - encs[h].s) // MINUTE_MS
                if encs[h].s == encs[g].s and encs[h].owner < via:
                    via = encs[h].owner
                h += 1
            contacts[n_contacts].total = total
            contacts[n_contacts].person = encs[g].person
            contacts[n_contacts].first = <int32_t>g
            contacts[n_contacts].count = <int32_t>(h - g)
            contacts[n_contacts].via = via
            n_contacts += 1
            g = h
        _names = <const char**>malloc(len(persons) * sizeof(char*))
        _lengths = <Py_ssize_t*>malloc(len(persons) * sizeof(Py_ssize_t))
        if _names == NULL or _lengths == NULL:
            raise MemoryError()
        for k in range(len(persons)):
            person = <bytes>persons[k]
            _names[k] = PyBytes_AS_STRING(person)
            _lengths[k] = PyBytes_GET_SIZE(person)
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
                if g != contacts[k].first:
                    _put(&buf, b",", 1)
                _put_bytes(&buf, b'{"venue_id":')
                _put_bytes(&buf, <bytes>venue_json[encs[g].venue])
                _put_bytes(&buf, b',"start":"')
                _put_time(&buf, encs[g].s, iso_time)
                _put_bytes(&buf, b'","end":"')
                _put_time(&buf, encs[g].e, iso_time)
                _put_bytes(&buf, b'","overlap_minutes":')
                _put_int(&buf, (encs[g].e - encs[g].s) // MINUTE_MS)
                _put(&buf, b"}", 1)
            _put_bytes(&buf, b"]}")
            if want_firsts:
                firsts.append(
                    ((<bytes>persons[contacts[k].person]).decode(), encs[contacts[k].first].s)
                )
        return PyBytes_FromStringAndSize(buf.data, buf.size), firsts
    finally:
        free(encs)
        free(contacts)
        free(buf.data)
        free(_names)
        free(_lengths)
        _names = NULL
        _lengths = NULL
