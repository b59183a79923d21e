"""Protocol-log rows to sessions in SQL: what `_smtp_session.SessionState` does, per file, in bulk.

DuckDB's CSV reader parses one file (explicit columns and types, bad lines to its rejects
table), and one GROUP BY session id builds every field of `SmtpSession`. Order-dependent
fields use the key (sequence number, row ordinal): the Python reader folds rows in sequence
order with ties in file order, and so does every `arg_min`/`arg_max` here.

Deliberate differences from the Python reader (the same on real logs, see tests/test_store.py):
  * an EHLO reply is recognised by its text (`250 <host> Hello [<ip>] <extensions>`) alone;
    the Python reader also counts any 250 reply that follows an EHLO command;
  * STARTTLS counts as used when a 220 reply follows the first STARTTLS command; the Python
    reader requires that 220 to be the very next reply;
  * all rows of one session id in one file form one session, sorted completely; the Python
    reader starts a new session after a disconnect row or 30 idle minutes, and sorts within a
    window of 64 rows;
  * `trim` removes spaces, Python's `strip` any whitespace; DuckDB reads times a little more
    liberally (a space instead of `T`, an offset other than Z).
Certificates are not rebuilt in SQL: each distinct run of certificate rows is handed once to
the Python `CertificateLines`, so both readers agree on that tricky format exactly.
"""

from __future__ import annotations

COLUMNS = ("{'dt': 'TIMESTAMPTZ', 'connector': 'VARCHAR', 'sid': 'VARCHAR', 'seq': 'BIGINT', "
           "'local': 'VARCHAR', 'remote': 'VARCHAR', 'event': 'VARCHAR', 'data': 'VARCHAR', "
           "'context': 'VARCHAR'}")

# Quote handling as Exchange writes it; 64 KiB lines at most, like the Python reader.
READ_CSV = f"""read_csv($path, columns = {COLUMNS}, header = false, auto_detect = false,
    delim = ',', quote = '"', escape = '"', strict_mode = true, max_line_size = 65536,
    ignore_errors = true, store_rejects = true)"""

_CERT_LABELS = ("'subject', 'issuer name', 'issuer', 'serial number', 'thumbprint', "
                "'alternate names', 'subject alternate names', 'not before', 'not after'")
TLS_OK = r"(?i)TLS protocol (\w+) negotiation succeeded using bulk encryption algorithm (\w+)"
TLS_FAILED = r"(?i)TLS negotiation failed with error (\w+)"
_EHLO_REPLY = r"(?i)^250[ -]\S+ Hello \[[^\]]*\]\s+\S"

# One row per session id, plus one row (sid NULL) collecting rows the Python reader refuses.
# Every costly expression sits behind a CASE on the event, so it runs only on the rows it is
# about: DuckDB evaluates both sides of AND in projections.
AGGREGATE = f"""
CREATE OR REPLACE TEMP TABLE agg AS
WITH raw AS (
    SELECT ordinality AS ord, dt, coalesce(connector, '') AS connector,
           trim(coalesce(sid, '')) AS sid0, coalesce(seq, 0) AS seq,
           coalesce(local, '') AS local, coalesce(remote, '') AS remote,
           trim(coalesce(event, '')) AS ev, coalesce(data, '') AS data,
           coalesce(context, '') AS context
    FROM {READ_CSV} WITH ORDINALITY
), rows AS (
    SELECT ord, dt, connector, local, remote, ev, data, context,
           CASE WHEN sid0 <> '' AND dt >= TIMESTAMPTZ '1990-01-01 00:00:00+00'
                THEN sid0 END AS sid,
           least(greatest(seq, 0), 2000000000) * 4294967296 + ord AS k,
           CASE WHEN ev = $cmd OR ev = $rep THEN trim(data) END AS td,
           CASE WHEN context <> '' THEN context ELSE data END AS info,
           ev = $cmd AS is_cmd
    FROM raw
), marked AS (
    SELECT *,
           CASE WHEN ev = $rep THEN regexp_full_match(left(td, 3), '[0-9]{{3}}')
                ELSE false END AS is_rep,
           CASE WHEN ev = '*' THEN context ILIKE '%certificate%' OR context ILIKE '%not%'
                ELSE false END AS cert_row
    FROM rows
), labelled AS (
    SELECT *, CASE WHEN cert_row THEN
                lower(regexp_replace(trim(context, ' ' || chr(9) || chr(10) || chr(13)),
                                     '\\s+', ' ', 'g')) END AS label
    FROM marked
), classified AS (
    SELECT *,
        CASE WHEN label IS NULL THEN false
             WHEN starts_with(label, 'sending certificate') THEN
                  trim(label[20:]) = '' OR starts_with(trim(label[20:]), 'subject issuer')
                  OR trim(label[20:]) IN ({_CERT_LABELS})
             WHEN starts_with(label, 'remote certificate') THEN
                  trim(label[19:]) = '' OR starts_with(trim(label[19:]), 'subject issuer')
                  OR trim(label[19:]) IN ({_CERT_LABELS})
             WHEN starts_with(label, 'certificate ') THEN label[13:] IN ({_CERT_LABELS})
             ELSE label IN ('not before', 'not after') END AS is_cert
    FROM labelled
), final AS (
    SELECT *,
        CASE WHEN ev <> '*' OR is_cert THEN false
             WHEN info ILIKE '%negotiation%' THEN
                  regexp_matches(info, '{TLS_OK}') OR regexp_matches(info, '{TLS_FAILED}')
             ELSE false END AS is_tls,
        CASE WHEN ev <> '*' OR is_cert THEN false
             ELSE starts_with(info, 'Failed to connect.') END AS is_failed_connect,
        CASE WHEN is_rep AND starts_with(td, '250') THEN regexp_matches(td, '{_EHLO_REPLY}')
             ELSE false END AS is_ehlo_reply,
        CASE WHEN is_cmd THEN upper(split_part(td, ' ', 1)) END AS verb
    FROM classified
)
SELECT sid,
    count(*) AS line_count, min(ord) AS first_ord, min(dt) AS start, max(dt) AS "end",
    list(ord) FILTER (sid IS NULL) AS refused,
    trim(arg_min(connector, ord)) AS connector_id,
    trim(arg_min(local, ord) FILTER (CASE WHEN local = '' THEN false
                                          ELSE trim(local) <> '' END)) AS local_endpoint,
    trim(arg_min(remote, ord) FILTER (CASE WHEN remote = '' THEN false
                                           ELSE trim(remote) <> '' END)) AS remote_endpoint,
    arg_min(CASE WHEN verb IN ('EHLO', 'HELO') THEN trim(td[6:]) END, k)
        FILTER (CASE WHEN verb IN ('EHLO', 'HELO') THEN trim(td[6:]) <> '' ELSE false END)
        AS ehlo,
    count(*) FILTER (is_rep) AS n_replies,
    arg_min(td, k, 15) FILTER (is_rep) AS replies_head,
    arg_max(td, k, 5) FILTER (is_rep) AS replies_tail,
    count(*) FILTER (is_ehlo_reply) AS n_ehlo_replies,
    bool_or(CASE WHEN is_ehlo_reply THEN regexp_matches(td, '(?i)(^|\\s)starttls(\\s|$)') END)
        AS offers_starttls,
    min(k) FILTER (verb = 'STARTTLS') AS starttls_k,
    max(k) FILTER (is_rep AND starts_with(td, '220')) AS last_220_k,
    arg_max(info, k) FILTER (is_tls) AS tls_text,
    trim(arg_max(info, k) FILTER (CASE WHEN ev <> '*' OR is_cert OR is_tls
                                             OR is_failed_connect THEN false
                                        ELSE contains(info, 'TlsDomainCapabilities=') END))
        AS domain_capabilities,
    arg_min(CASE WHEN ev = '-' THEN trim(info) ELSE 'connect-failed: ' || info END, k)
        FILTER (ev = '-' OR (is_failed_connect AND NOT is_tls)) AS disconnect,
    count(*) FILTER (CASE WHEN is_rep AND starts_with(td, '250') AND contains(td, ' 2.6.0 ')
                          THEN contains(lower(td), 'queued mail for delivery') ELSE false END)
        AS received,
    count(*) FILTER (CASE WHEN ev <> '*' OR is_cert OR is_tls OR is_failed_connect THEN false
                          ELSE contains(lower(info), 'sending message with recordid') END)
        AS sent,
    list({{'context': context, 'data': data}} ORDER BY k) FILTER (cert_row) AS cert_rows
FROM final
GROUP BY sid
"""

# The certificate rows of each session, by a hash of their text; distinct ones go to Python.
CERT_RUNS = """
SELECT DISTINCT hash(cert_rows::VARCHAR) AS run, cert_rows FROM agg
WHERE sid IS NOT NULL AND cert_rows IS NOT NULL
"""

# Endpoints other than plain `a.b.c.d:port` go through the Python `remote_ip`.
ODD_ENDPOINTS = r"""
SELECT DISTINCT remote_endpoint FROM agg WHERE sid IS NOT NULL AND remote_endpoint IS NOT NULL
AND NOT regexp_full_match(remote_endpoint, '[0-9]{1,3}(\.[0-9]{1,3}){3}:[0-9]+')
"""

_V4 = "split_part(a.remote_endpoint, ':', 1)"
_OCTETS = [f"try_cast(split_part({_V4}, '.', {i}) AS UHUGEINT)" for i in (1, 2, 3, 4)]
_V4_OK = " AND ".join(f"{o} <= 255" for o in _OCTETS)
_V4_NUM = (f"({_OCTETS[0]} * 16777216 + {_OCTETS[1]} * 65536 + {_OCTETS[2]} * 256 "
           f"+ {_OCTETS[3]})")
_PLAIN_V4 = r"regexp_full_match(a.remote_endpoint, '[0-9]{1,3}(\.[0-9]{1,3}){3}:[0-9]+')"

# Reject lines before each data row move its line number down; `shift` holds, per rejected
# line, how many data rows precede it (see ingest._line_of). `$server` is the one the folder
# layout names, for sessions whose connector id names none (as the Python reader does).
INSERT = f"""
INSERT INTO sessions
SELECT $file_id, a.sid, $log_type,
    coalesce(CASE WHEN $log_type = 'receive'
                  THEN nullif(regexp_extract(a.connector_id, '^(.*)\\\\', 1), '') END,
             $server),
    CASE WHEN $log_type = 'receive' THEN regexp_extract(a.connector_id, '([^\\\\]*)$', 1)
         ELSE a.connector_id END,
    a.start::TIMESTAMP, a."end"::TIMESTAMP, coalesce(a.local_endpoint, ''),
    CASE WHEN a.remote_endpoint IS NULL THEN ''
         WHEN {_PLAIN_V4} THEN {_V4} ELSE m.ip END,
    CASE WHEN {_PLAIN_V4} THEN CASE WHEN {_V4_OK} THEN 4 END ELSE m.family END,
    CASE WHEN {_PLAIN_V4} THEN CASE WHEN {_V4_OK} THEN {_V4_NUM} END ELSE m.num END,
    a.ehlo,
    CASE WHEN a.n_ehlo_replies > 0 THEN a.offers_starttls END,
    coalesce(a.last_220_k > a.starttls_k, false),
    CASE WHEN regexp_matches(a.tls_text, '{TLS_OK}') THEN
             regexp_replace(regexp_replace(regexp_replace(
                 upper(regexp_extract(a.tls_text, '{TLS_OK}', 1)),
                 '^SP_PROT_', ''), '_SERVER$', ''), '_CLIENT$', '')
             || ' ' || regexp_extract(a.tls_text, '{TLS_OK}', 2)
         WHEN a.tls_text IS NOT NULL
         THEN 'failed: ' || regexp_extract(a.tls_text, '{TLS_FAILED}', 1) END,
    c.cert_key,
    CASE WHEN $log_type = 'receive' THEN a.received ELSE a.sent END,
    array_to_string(CASE WHEN a.n_replies = 0 THEN []
         WHEN a.n_replies <= 15 THEN a.replies_head
         ELSE a.replies_head || list_slice(list_reverse(a.replies_tail),
                                           6 - least(5, a.n_replies - 15), 5) END, chr(10)),
    a.disconnect,
    a.first_ord + (SELECT count(*) FROM shift WHERE shift.before < a.first_ord),
    a.line_count, a.domain_capabilities
FROM agg a
LEFT JOIN endpoints m ON m.endpoint = a.remote_endpoint
LEFT JOIN cert_runs c ON c.run = hash(a.cert_rows::VARCHAR)
WHERE a.sid IS NOT NULL
"""
