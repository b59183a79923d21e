# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled reader of the dominant reason shape, optional: reason.py uses it when it was built.

The shape is the one `reason._decode_dominant` reads with its regexes, bracketed

    [Reason: ][{LED=<smtp> <enhanced> <reply>[<metadata brackets>]};{MSG=..};{FQDN=..};{IP=..};
    {LRT=..}][. OutboundProxyTargetIP: <ip>. OutboundProxyTargetHostName: <host>[.]]

or as NDR text (`<smtp> <enhanced> <reply>[<metadata brackets>]<after>`), read character by
character in C, where the regex engine and the Python around it cost most of a decode. It takes
the reading the regexes would take first and declines (None) anything else, so reason.py goes on
to the regex path: declining is always safe, accepting must give exactly what `_decode_general`
gives (tests/test_reason_fastpath.py compares them). Rare cases inside an accepted string (a
reply ending in `)` or `#`, an `error code` to look for, a time in another form) are handed to
reason.py's own helpers.

The text is attacker-influenced: a read at one position goes through `_char`, which answers 0
outside the text; loops read only below an end they test, never past the text's length.
"""

from cpython.datetime cimport datetime_new, import_datetime
from cpython.object cimport Py_TPFLAGS_HAVE_GC, PyObject, Py_TYPE
from cpython.unicode cimport (PyUnicode_DATA, PyUnicode_Find, PyUnicode_FindChar, PyUnicode_KIND,
                              PyUnicode_READ, Py_UNICODE_ISSPACE)
from libc.string cimport memset, strlen

from datetime import timezone


cdef extern from "Python.h":
    void PyObject_GC_UnTrack(object)


import_datetime()

cdef object UTC = timezone.utc
cdef const char *METADATA[4]
METADATA[:] = [b"[Message=", b"[LastAttemptedServerName=", b"[LastAttemptedIP=", b"[SmtpSecurity="]
cdef const char *FIELD_ENDS[4]  # what ends MSG, FQDN, IP and LRT
FIELD_ENDS[:] = [b"};{FQDN=", b"};{IP=", b"};{LRT=", b"}]"]


cdef struct Text:
    int kind
    void *data
    Py_ssize_t n
    PyObject *text  # for the C API's own searches (memchr and two-way: faster than a loop)


cdef inline unsigned int _char(const Text *t, Py_ssize_t i) noexcept:
    if i < 0 or i >= t.n:
        return 0
    return <unsigned int>PyUnicode_READ(t.kind, t.data, i)


cdef inline bint _digit(unsigned int c) noexcept:
    return 48 <= c <= 57


cdef inline bint _alnum(unsigned int c) noexcept:
    return _digit(c) or 65 <= c <= 90 or 97 <= c <= 122


cdef inline bint _hex(unsigned int c) noexcept:
    return _digit(c) or 65 <= c <= 70 or 97 <= c <= 102


cdef inline bint _word_char(unsigned int c) noexcept:
    return 33 <= c <= 126 and c != 58  # printable ASCII but space and `:`


cdef bint _at(const Text *t, Py_ssize_t i, const char *literal) noexcept:
    """The ASCII `literal` is in the text at `i`."""
    cdef Py_ssize_t k = 0
    while literal[k] != 0:
        if _char(t, i + k) != <unsigned char>literal[k]:
            return False
        k += 1
    return True


cdef inline Py_ssize_t _find(const Text *t, Py_ssize_t i, Py_ssize_t end, Py_UCS4 c) except -2:
    """The first `c` in [i, end), or -1."""
    return PyUnicode_FindChar(<object>t.text, c, i, end, 1)


cdef inline bint _holds(const Text *t, Py_ssize_t i, Py_ssize_t end, str part) except -1:
    """`part` is somewhere in [i, end)."""
    return PyUnicode_Find(<object>t.text, part, i, end, 1) >= 0


cdef Py_ssize_t _digits(const Text *t, Py_ssize_t i, Py_ssize_t end) noexcept:
    """Where the run of ASCII digits from `i` ends (at most `end`)."""
    while i < end and _digit(<unsigned int>PyUnicode_READ(t.kind, t.data, i)):
        i += 1
    return i


cdef long _number(const Text *t, Py_ssize_t i, Py_ssize_t end) noexcept:
    """The value of the ASCII digits in [i, end) (at most nine of them)."""
    cdef long value = 0
    while i < end:
        value = value * 10 + (<long>PyUnicode_READ(t.kind, t.data, i) - 48)
        i += 1
    return value


cdef Py_ssize_t _field_end(const Text *t, Py_ssize_t i, const char *anchor) except -2:
    """The end of a `[^}]*` value from `i` when `anchor` follows it; -1 otherwise."""
    cdef Py_ssize_t close = _find(t, i, t.n, 125)  # `}`
    if close < 0 or not _at(t, close, anchor):
        return -1
    return close


cdef object _clean(str text, const Text *t, const Py_ssize_t *part):
    """`value and value.strip() or None` for value = text[part[0]:part[1]] (None when absent),
    as the regex path writes it."""
    cdef Py_ssize_t a = part[0], b = part[1]
    if a < 0:
        return None
    while a < b and Py_UNICODE_ISSPACE(PyUnicode_READ(t.kind, t.data, a)):
        a += 1
    while b > a and Py_UNICODE_ISSPACE(PyUnicode_READ(t.kind, t.data, b - 1)):
        b -= 1
    return text[a:b] if b > a else None


cdef object _us_time(const Text *t, Py_ssize_t i, Py_ssize_t end):
    """The value [i, end) in the service's US form (`3/16/2017 4:59:18 PM`) as a UTC datetime,
    None for a day or time that does not exist, False when it has another form."""
    cdef Py_ssize_t j
    cdef long month, day, year, hour, minute, second
    j = _digits(t, i, end)
    if not 1 <= j - i <= 2 or _char(t, j) != 47:  # `/`
        return False
    month = _number(t, i, j)
    i = j + 1
    j = _digits(t, i, end)
    if not 1 <= j - i <= 2 or _char(t, j) != 47:
        return False
    day = _number(t, i, j)
    i = j + 1
    j = _digits(t, i, end)
    if j - i != 4 or _char(t, j) != 32:
        return False
    year = _number(t, i, j)
    i = j + 1
    j = _digits(t, i, end)
    if not 1 <= j - i <= 2 or _char(t, j) != 58 or _char(t, i) == 48:  # `:`, no leading 0
        return False
    hour = _number(t, i, j)
    i = j + 1
    j = _digits(t, i, end)
    if hour > 12 or j - i != 2 or _char(t, j) != 58:
        return False
    minute = _number(t, i, j)
    i = j + 1
    j = _digits(t, i, end)
    if j - i != 2 or j + 3 != end or _char(t, j) != 32 or _char(t, j + 2) != 77:  # ` `, `M`
        return False
    second = _number(t, i, j)
    if _char(t, j + 1) == 80:  # `P`
        hour = hour % 12 + 12
    elif _char(t, j + 1) == 65:  # `A`
        hour = hour % 12
    else:
        return False
    try:
        return datetime_new(year, month, day, hour, minute, second, 0, UTC)
    except ValueError:  # no such day or minute: what the ISO parser of the regex path says
        return None


cdef struct Parts:
    # Where the parts of one string are: [start, end) pairs, -1 for a part that is absent.
    bint bracketed
    long smtp
    Py_ssize_t enhanced[2], reply[2], led[2]
    Py_ssize_t meta[4][2]  # Message, LastAttemptedServerName, LastAttemptedIP, SmtpSecurity
    Py_ssize_t host[2], time[2], session
    Py_ssize_t msg[2], fqdn[2], ip[2], lrt[2], proxy_ip[2], proxy_host[2]


cdef Py_ssize_t _codes(const Text *t, Py_ssize_t i, Parts *p) noexcept:
    """`450 4.4.316 ` at `i`: the reply code, a space or dash, the enhanced code, a space.
    Where the text after them starts, or -1."""
    cdef Py_ssize_t j
    if not (50 <= _char(t, i) <= 53 and _digit(_char(t, i + 1)) and _digit(_char(t, i + 2))):
        return -1
    p.smtp = _number(t, i, i + 3)
    i += 3
    if (_char(t, i) != 32 and _char(t, i) != 45) or not 50 <= _char(t, i + 1) <= 53:
        return -1
    p.enhanced[0] = i + 1
    i += 2
    for _ in range(2):
        if _char(t, i) != 46:  # `.`
            return -1
        j = _digits(t, i + 1, t.n)
        if not 1 <= j - i - 1 <= 3:
            return -1
        i = j
    if _char(t, i) != 32:
        return -1
    p.enhanced[1] = i
    return i + 1


cdef bint _fields(const Text *t, Parts *p) except -1:
    """`};{MSG=..};{FQDN=..};{IP=..};{LRT=..}]` after the LED, each value without `}`, then the
    suffix or the end."""
    cdef Py_ssize_t i = p.led[1] + 7, j, k  # after `};{MSG=`
    cdef Py_ssize_t *fields[4]
    fields[0], fields[1], fields[2], fields[3] = &p.msg[0], &p.fqdn[0], &p.ip[0], &p.lrt[0]
    for k in range(4):  # each value up to the anchor that ends it
        fields[k][0] = i
        fields[k][1] = _field_end(t, i, FIELD_ENDS[k])
        if fields[k][1] < 0:
            return False
        i = fields[k][1] + strlen(FIELD_ENDS[k])
    # `. OutboundProxyTargetIP: <word>. OutboundProxyTargetHostName: <word>[.]` to the end, each
    # word printable ASCII but `:`, not ending in `.`.
    if i == t.n:
        # A suffix keyword inside a value would move the general path's cut.
        return not _holds(t, 0, t.n, "OutboundProxyTarget")
    if not _at(t, i, ". OutboundProxyTargetIP: "):
        return False
    i += 25
    j = i
    while j < t.n and _word_char(_char(t, j)):
        j += 1
    # The word runs to the space; the `.` before it ends the sentence.
    if j - i < 2 or _char(t, j - 1) != 46 or _char(t, j - 2) == 46 or \
            not _at(t, j - 1, ". OutboundProxyTargetHostName: "):
        return False
    p.proxy_ip[0], p.proxy_ip[1] = i, j - 1
    i = j - 1 + 31
    j = i
    while j < t.n and _word_char(_char(t, j)):
        j += 1
    if j != t.n or j == i:
        return False
    if _char(t, j - 1) == 46:
        j -= 1
    if j == i or _char(t, j - 1) == 46:
        return False
    p.proxy_host[0], p.proxy_host[1] = i, j
    return True


cdef bint _metadata(const Text *t, Parts *p) except -1:
    """The LED's reply up to its first `[`, then its brackets in their usual order: Message,
    LastAttemptedServerName, LastAttemptedIP, SmtpSecurity (each `[Key=value]`, a space after
    it or not), then `[host[ yyyy-mm-ddThh:mm:ss.fffZ][ <16 hex>]]`, then text without
    brackets."""
    cdef Py_ssize_t i, j, k, end = p.led[1]
    p.reply[0] = p.led[0]
    p.reply[1] = i = _find(t, p.led[0], end, 91)  # `[`
    if i < 0:
        p.reply[1] = end
        return True
    for k in range(4):
        if _at(t, i, METADATA[k]):
            p.meta[k][0] = i + strlen(METADATA[k])
            p.meta[k][1] = _find(t, p.meta[k][0], end, 93)  # `]`
            if p.meta[k][1] < 0:
                return False
            i = p.meta[k][1] + 1
            if i < end and _char(t, i) == 32:
                i += 1
    if i < end and _char(t, i) == 91:
        # The host: two labels or more, none empty.
        p.host[0] = j = i + 1
        if not _alnum(_char(t, j)):
            return False
        while j < end and (_alnum(_char(t, j)) or _char(t, j) == 45 or _char(t, j) == 46):
            if _char(t, j) == 46 and (_char(t, j - 1) == 46 or _char(t, j + 1) == 46):
                return False
            j += 1
        p.host[1] = i = j
        if _find(t, p.host[0], j, 46) < 0 or _char(t, j - 1) == 46:
            return False
        j = i + 1  # ` yyyy-mm-ddT`, then `[0-9:.]+`, then `Z` or not
        if _char(t, i) == 32 and _digits(t, j, end) == j + 4 and _char(t, j + 4) == 45 and \
                _digits(t, j + 5, end) == j + 7 and _char(t, j + 7) == 45 and \
                _digits(t, j + 8, end) == j + 10 and _char(t, j + 10) == 84:
            k = j + 11
            while k < end and (_digit(_char(t, k)) or _char(t, k) == 58 or _char(t, k) == 46):
                k += 1
            if k > j + 11:
                if k < end and _char(t, k) == 90:  # `Z`
                    k += 1
                p.time[0], p.time[1] = j, k
                i = k
        if _char(t, i) == 32 and i + 17 <= end:
            for j in range(i + 1, i + 17):
                if not _hex(_char(t, j)):
                    return False
            p.session = i + 1
            i += 17
        if i >= end or _char(t, i) != 93:
            return False
        i += 1
    # What follows (`(Socket error code N)` after an NDR's last bracket) holds no bracket.
    return _find(t, i, end, 91) < 0 and _find(t, i, end, 93) < 0


cdef bint _read(const Text *t, Parts *p) except -1:
    """Fill `p` when the text has the dominant shape; False (decline) otherwise."""
    cdef Py_ssize_t i = 0
    memset(p, 0xFF, sizeof(Parts))  # every position -1: absent
    p.bracketed = False
    if _at(t, 0, "Reason: "):
        i = 8
    if _at(t, i, "[{LED="):
        p.bracketed = True
        p.led[0] = _codes(t, i + 6, p)
        if p.led[0] < 0:
            return False
        p.led[1] = _field_end(t, p.led[0], "};{MSG=")
        if p.led[1] < 0 or not _fields(t, p):
            return False
    elif i == 0 and not _holds(t, 0, t.n, "LED=") and \
            not _holds(t, 0, t.n, "OutboundProxyTarget"):
        p.led[0] = _codes(t, 0, p)  # NDR text: the reply at the start, to the end
        p.led[1] = t.n
        if p.led[0] < 0:
            return False
    else:
        return False
    return _metadata(t, p)


# DeferReason's fields, set through their slots' descriptors: the record is frozen, and building
# a draft and then changing its class costs more than the reading.
NAMES = ("raw", "smtp_code", "enhanced_code", "text", "inner_message", "msg", "fqdn", "ip",
         "lrt", "last_attempted_server", "last_attempted_ip", "smtp_security", "eop_server",
         "eop_time", "eop_session", "proxy_target_ip", "proxy_target_host", "socket_error",
         "truncated")
cdef enum:
    RAW, SMTP_CODE, ENHANCED_CODE, TEXT, INNER_MESSAGE, MSG, FQDN, IP, LRT, \
    LAST_ATTEMPTED_SERVER, LAST_ATTEMPTED_IP, SMTP_SECURITY, EOP_SERVER, EOP_TIME, EOP_SESSION, \
    PROXY_TARGET_IP, PROXY_TARGET_HOST, SOCKET_ERROR, TRUNCATED


cdef class Scanner:
    """Holds what a decode takes from reason.py (its record type and the rare-case helpers),
    so that this module imports nothing of the package."""

    cdef object record, new, reply_text, parse_time, socket_error, whole_socket_error
    cdef tuple slots

    def __init__(self, record, reply_text, parse_time, socket_error, whole_socket_error):
        slots = tuple(record.__dict__.get(name) for name in NAMES)
        if set(NAMES) != set(getattr(record, "__slots__", ())) or \
                not all(type(s).__name__ == "member_descriptor" for s in slots) or \
                not record.__flags__ & Py_TPFLAGS_HAVE_GC:
            raise TypeError(f"{record.__name__}'s fields are not the slots this reader sets")
        self.record = record
        self.new = record.__new__
        self.slots = slots
        self.reply_text = reply_text
        self.parse_time = parse_time
        self.socket_error = socket_error
        self.whole_socket_error = whole_socket_error

    cdef inline int _put(self, object record, int field, object value) except -1:
        descriptor = self.slots[field]
        return Py_TYPE(descriptor).tp_descr_set(descriptor, record, value)

    def decode(self, object value):
        """The DeferReason of a string of the dominant shape, else None (also for a str
        subclass, which the regex readers then read as the str it is)."""
        cdef Text t
        cdef Parts p
        cdef Py_ssize_t error_code
        if type(value) is not str:
            return None
        cdef str text = value
        t.kind = PyUnicode_KIND(text)
        t.data = PyUnicode_DATA(text)
        t.n = len(text)
        t.text = <PyObject *>text
        if not _read(&t, &p):
            return None

        r = self.new(self.record)
        self._put(r, RAW, text)
        self._put(r, SMTP_CODE, p.smtp)
        self._put(r, ENHANCED_CODE, text[p.enhanced[0]:p.enhanced[1]])
        self._put(r, TEXT, self._reply(text, &t, p.reply[0], p.reply[1]))
        self._put(r, INNER_MESSAGE, _clean(text, &t, p.meta[0]))
        self._put(r, LAST_ATTEMPTED_SERVER, _clean(text, &t, p.meta[1]))
        self._put(r, LAST_ATTEMPTED_IP, _clean(text, &t, p.meta[2]))
        self._put(r, SMTP_SECURITY, _clean(text, &t, p.meta[3]))
        self._put(r, EOP_SERVER, None if p.host[0] < 0 else text[p.host[0]:p.host[1]])
        self._put(r, EOP_TIME, None if p.time[0] < 0 else
                  self.parse_time(text[p.time[0]:p.time[1]]))
        self._put(r, EOP_SESSION, None if p.session < 0 else
                  text[p.session:p.session + 16].upper())
        self._put(r, MSG, _clean(text, &t, p.msg))
        self._put(r, FQDN, _clean(text, &t, p.fqdn))
        self._put(r, IP, _clean(text, &t, p.ip))
        lrt = None if p.lrt[0] < 0 else _us_time(&t, p.lrt[0], p.lrt[1])
        self._put(r, LRT, self.parse_time(text[p.lrt[0]:p.lrt[1]]) if lrt is False else lrt)
        self._put(r, PROXY_TARGET_IP, None if p.proxy_ip[0] < 0 else
                  text[p.proxy_ip[0]:p.proxy_ip[1]])
        self._put(r, PROXY_TARGET_HOST, None if p.proxy_host[0] < 0 else
                  text[p.proxy_host[0]:p.proxy_host[1]])
        # The socket error as reason._decode_dominant finds it (see there). Nothing before the
        # LED can hold `error code`, and no `error code` runs across the LED's end (a `}` or the
        # end of the text), so its first place in the LED tells whether the reply or LED does.
        error_code = PyUnicode_Find(text, "error code", p.led[0], p.led[1], 1)
        socket_error = None
        if p.meta[0][0] >= 0 and not 0 <= error_code <= p.reply[1] - 10:
            socket_error = self._whole_socket_error(text, &t, p.meta[0][0], p.meta[0][1])
        elif p.bracketed and error_code < 0:
            socket_error = self._whole_socket_error(text, &t, p.msg[0], p.msg[1])
        if socket_error is None and (
                error_code >= 0 or PyUnicode_Find(text, "error code", p.led[1], t.n, 1) >= 0):
            socket_error = self.socket_error(text)
        self._put(r, SOCKET_ERROR, socket_error)
        self._put(r, TRUNCATED, False)
        # Its fields are strings, numbers, times and None: it cannot be part of a reference
        # cycle, so the cycle collector need not walk it (millions of them, in a large trace).
        PyObject_GC_UnTrack(r)
        return r

    cdef object _reply(self, str text, const Text *t, Py_ssize_t a, Py_ssize_t b):
        """reason._reply_text of text[a:b]: stripped here, the rare ending in `)` or `#` left
        to it."""
        while a < b and Py_UNICODE_ISSPACE(PyUnicode_READ(t.kind, t.data, a)):
            a += 1
        while b > a and Py_UNICODE_ISSPACE(PyUnicode_READ(t.kind, t.data, b - 1)):
            b -= 1
        if b > a and (_char(t, b - 1) == 41 or _char(t, b - 1) == 35):  # `)`, `#`
            return self.reply_text(text[a:b])
        return text[a:b]

    cdef object _whole_socket_error(self, str text, const Text *t, Py_ssize_t a, Py_ssize_t b):
        """reason._whole_socket_error of text[a:b]: N when the value is `Socket error code N`."""
        cdef Py_ssize_t i
        if not _at(t, a, "Socket error code ") or not 1 <= b - a - 18 <= 9:
            return None
        for i in range(a + 18, b):
            if _char(t, i) > 127:  # another script's digits: as Python's isdecimal reads them
                return self.whole_socket_error(text[a:b])
            if not _digit(_char(t, i)):
                return None
        return _number(t, a + 18, b)
