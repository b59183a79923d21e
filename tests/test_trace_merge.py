"""Overlapping message trace exports merged, not double counted. Every fixture is SYNTHETIC,
built in tmp_path from the documented shapes (formats.md §3.1–§3.4); the reason string is the
reference case's (§3.5 example 1)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mailflow_doctor.cli.app import app
from mailflow_doctor.evidence.collect import collect
from mailflow_doctor.evidence.trace import detail_csv, extended_csv, graph, summary_csv
from mailflow_doctor.evidence.trace.merge import merge
from mailflow_doctor.model import Location
from mailflow_doctor.model.trace import DeferReason, TraceEvent

REASON = ("Reason: [{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};"
          "{FQDN=smtp.tailspintoys.ca};{IP=13.92.177.139};{LRT=3/16/2017 4:59:18 PM}]. "
          "OutboundProxyTargetIP: 13.92.177.139. OutboundProxyTargetHostName: smtp.tailspintoys.ca")
MSG, RCPT, TRACE = "<m1@fabrikam.example>", "u@tailspintoys.ca", "0b7a6a2c-0000-4000-8000-0001"
DETAIL_COLUMNS = ["Organization", "MessageId", "MessageTraceId", "RecipientAddress",
                  "SenderAddress", "Date", "Event", "Action", "Detail", "Data"]


def detail_export(path, rows):
    """Get-MessageTraceDetailV2 | Export-Csv, US culture (whole seconds)."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(DETAIL_COLUMNS)
    for date, event, detail, data in rows:
        writer.writerow(["tailspintoys.onmicrosoft.com", MSG, TRACE, RCPT, "a@fabrikam.example",
                         date, event, "", detail, data])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


DETAIL_ROWS = [
    ("11/23/2026 1:40:01 PM", "Receive", "Message received by: BN7PR00MB0001", ""),
    ("11/23/2026 1:41:34 PM", "Defer", REASON,
     '<root><MEP Name="ClientIP" String="104.47.34.97"/></root>'),
    ("11/23/2026 1:56:34 PM", "Defer", REASON, ""),
]


def graph_details(with_recipient=True):
    """The same three events as Graph returns them: fractions of seconds, no Data."""
    value = [{"id": TRACE, "messageId": MSG, "dateTime": t, "event": ev, "action": "",
              "description": d, "data": ""}
             for t, ev, d in [("2026-11-23T13:40:01.120Z", "Receive", "Message received"),
                              ("2026-11-23T13:41:34.987Z", "Defer", REASON),
                              ("2026-11-23T13:56:34.001Z", "Defer", REASON)]]
    if with_recipient:
        return {"schema": graph.FETCH_SCHEMA, "fetched_at": "2026-11-23T20:00:00Z",
                "traces": [{"id": TRACE, "messageId": MSG, "recipientAddress": RCPT,
                            "receivedDateTime": "2026-11-23T13:40:00Z", "status": "pending",
                            "toIP": "13.92.177.139", "senderAddress": "a@fabrikam.example"}],
                "details": {TRACE: {"recipientAddress": RCPT, "value": value}}}
    return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft."
                              "graph.exchangeMessageTraceDetail)", "value": value}


def test_detail_csv_and_graph_fetch_of_one_message_count_once(tmp_path):
    csv_path = detail_export(tmp_path / "detail.csv", DETAIL_ROWS)
    (tmp_path / "fetch.json").write_text(json.dumps(graph_details(), indent=1))
    events = collect([tmp_path]).trace
    assert [(e.event, e.recipient) for e in events] == [
        ("receive", RCPT), ("defer", RCPT), ("defer", RCPT)]  # the summary is dropped too
    first_defer = events[1]
    # The CSV row is richer (its Data names the EOP source): it is kept, with its location,
    # and the time takes Graph's fractions.
    assert first_defer.location == Location(str(csv_path), 3)
    assert first_defer.source_ip == "104.47.34.97" and first_defer.reason.enhanced_code == "4.4.316"
    assert first_defer.time_utc == datetime(2026, 11, 23, 13, 41, 34, 987000, tzinfo=UTC)


def test_graph_details_without_recipient_join_the_csv(tmp_path):
    detail_export(tmp_path / "detail.csv", DETAIL_ROWS)
    (tmp_path / "details.json").write_text(json.dumps(graph_details(with_recipient=False)))
    events = collect([tmp_path]).trace
    assert [(e.event, e.recipient) for e in events] == [
        ("receive", RCPT), ("defer", RCPT), ("defer", RCPT)]


def test_summary_and_enhanced_summary_give_way_to_detail(tmp_path):
    v2 = ('"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP",'
          '"Size","MessageId","MessageTraceId"\r\n'
          f'"11/23/2026 1:40:00 PM","a@fabrikam.example","{RCPT}","Order","Pending",'
          f'"13.92.177.139","","4242","{MSG}","{TRACE}"\r\n'
          f'"11/23/2026 1:45:00 PM","a@fabrikam.example","v@tailspintoys.ca","Hi","Delivered",'
          f'"13.92.177.139","","42","<m2@fabrikam.example>","t2"\r\n')
    enhanced = ("origin_timestamp_utc,sender_address,recipient_status,message_subject,"
                "total_bytes,message_id,network_message_id,original_client_ip,directionality,"
                "connector_id,delivery_priority\r\n"
                f'2026-11-23T13:40:00Z,a@fabrikam.example,"{RCPT}##Receive, Defer",Order,4242,'
                f"{MSG},{TRACE},198.51.100.7,1,,Normal\r\n")
    (tmp_path / "summary.csv").write_text(v2, encoding="utf-16")
    (tmp_path / "enhanced.csv").write_text(enhanced)
    alone = collect([tmp_path]).trace
    assert sorted((e.message_id, e.event) for e in alone) == [
        (MSG, "defer"), (MSG, "receive"), (MSG, "summary"), ("<m2@fabrikam.example>", "summary")]
    detail_export(tmp_path / "detail.csv", DETAIL_ROWS)
    events = collect([tmp_path]).trace
    assert [(e.message_id, e.event) for e in events] == [
        (MSG, "receive"), (MSG, "defer"), ("<m2@fabrikam.example>", "summary"), (MSG, "defer")]
    assert all(e.location.source.endswith("detail.csv") for e in events if e.message_id == MSG)


def test_a_failed_detail_without_address_takes_the_summary_target(tmp_path):
    """A Fail detail often names no IP (`{IP=}`) and a Graph detail no sender; the summary
    record dropped for the detail still says where the message went and who sent it."""
    doc = {"schema": "mailflow-doctor/graph-trace/v1", "fetched_at": "2026-11-24T00:00:00Z",
           "tenant": "tailspintoys.ca", "traces": [{
               "id": TRACE, "messageId": MSG, "receivedDateTime": "2026-11-22T10:00:00Z",
               "recipientAddress": RCPT, "senderAddress": "a@fabrikam.example", "size": 1,
               "status": "failed", "subject": "s", "fromIP": "104.47.34.97",
               "toIP": "13.92.177.139"}],
           "details": {TRACE: {"recipientAddress": RCPT, "value": [
               {"id": TRACE, "messageId": MSG, "dateTime": "2026-11-22T10:00:01Z",
                "event": "Receive", "action": "", "description": "Message received", "data": ""},
               {"id": TRACE, "messageId": MSG, "dateTime": "2026-11-23T10:00:05Z",
                "event": "Fail", "action": "", "data": "", "description":
                "Reason: [{LED=550 4.4.7 QUEUE.Expired; message expired};{MSG=};{FQDN=};"
                "{IP=};{LRT=}]"}]}}}
    (tmp_path / "fetch.json").write_text(json.dumps(doc))
    receive, fail = collect([tmp_path]).trace
    assert (receive.event, fail.event) == ("receive", "fail")
    assert receive.sender == fail.sender == "a@fabrikam.example"
    assert fail.target_ip == "13.92.177.139" and receive.target_ip is None
    assert merge([receive, fail]) == [receive, fail]
    summary = CliRunner().invoke(app, ["trace", "summary", str(tmp_path / "fetch.json")])
    assert "Target 13.92.177.139" in summary.stdout and " 1 failed" in summary.stdout


def test_extended_report_and_detail_export_of_one_message(tmp_path):
    ext = ("date_time_utc,client_ip,server_ip,server_hostname,event_id,message_id,"
           "network_message_id,recipient_address,recipient_status,sender_address\r\n"
           f'2026-11-23T13:41:34.123Z,104.47.34.97,13.92.177.139,smtp.tailspintoys.ca,DEFER,'
           f'{MSG},{TRACE},{RCPT.upper()},"{REASON}",a@fabrikam.example\r\n')
    (tmp_path / "e.csv").write_text(ext, encoding="utf-16")
    a = detail_csv.parse(detail_export(tmp_path / "d.csv", DETAIL_ROWS[1:2]))
    b = extended_csv.parse(tmp_path / "e.csv")
    [one] = merge(a.records + b.records)  # recipient case and time precision differ
    assert one.target_fqdn == "smtp.tailspintoys.ca" and one.source_ip == "104.47.34.97"
    assert one.time_utc.microsecond == 123000


def event(second=0, micro=0, source="a.csv", line=1, event_name="defer", recipient=RCPT,
          **fields) -> TraceEvent:
    return TraceEvent(time_utc=datetime(2026, 11, 23, 13, 41, second, micro, tzinfo=UTC),
                      message_id=MSG, recipient=recipient, event=event_name,
                      location=Location(source, line), excerpt=f"{source}:{line}", **fields)


def test_copies_pair_up_file_by_file():
    twice = [event(line=2), event(line=3)]  # two records of one file: both count
    assert len(merge(twice)) == 2
    assert len(merge(twice + [event(source="b.json", line=7)])) == 2  # max(2, 1)
    assert len(merge(twice + twice)) == 2  # the same file read twice
    assert len(merge([event(second=1), event(second=2, source="b")])) == 2  # another second


def test_the_richest_copy_is_completed_from_the_others():
    reason = DeferReason(raw="x", enhanced_code="4.4.316", truncated=True)
    plain = event(source="a.csv", line=4, trace_id="t1", data={"a": "1"})
    decoded = event(source="b.json", line=9, micro=5, reason=reason, target_ip="13.92.177.139")
    sourced = event(source="c.csv", line=2, source_ip="104.47.34.97", sender="a@x")
    for order in ([plain, decoded, sourced], [sourced, plain, decoded]):
        [one] = merge(order)
        assert one.location == Location("b.json", 9) and one.reason is reason
        assert (one.trace_id, one.source_ip, one.sender, one.target_ip) == (
            "t1", "104.47.34.97", "a@x", "13.92.177.139")
        assert one.data == {"a": "1"} and one.time_utc.microsecond == 5


def test_detail_outranks_an_enhanced_listing_at_the_same_second():
    listing = event(source="enh.csv", data={summary_csv.LEVEL: "summary"}, source_ip="1.2.3.4")
    detail = event(source="detail.csv")
    [one] = merge([listing, detail])
    assert one.location.source == "detail.csv" and not summary_csv.is_summary(one)
    assert one.source_ip == "1.2.3.4"


def test_a_copy_completed_into_its_sibling_stays_as_it_was():
    """Found by hypothesis: a blank-recipient defer filled in, then completed from another file,
    became equal to its sibling line, and a second merge counted the two once."""
    records = [event(event_name="receive"),
               event(second=1, event_name="defer", source_ip="104.47.34.97"),
               event(second=1, event_name="defer", recipient=""),
               event(second=1, event_name="defer", source="b.json", source_ip="104.47.34.97")]
    once = merge(records)
    assert len([e for e in once if e.event == "defer"]) == 2  # max(2 in a.csv, 1 in b.json)
    assert merge(once) == once
    # The same with the sibling at a finer time, which the completed copy takes: the two must
    # come out in the order a second merge gives them.
    records[1] = event(second=1, micro=250000, event_name="defer")
    records[3] = event(second=1, micro=250000, event_name="defer", source="b.json",
                       source_ip="104.47.34.97")
    once = merge(records)
    assert merge(once) == once


RECORDS = st.builds(
    event, second=st.integers(0, 3), micro=st.sampled_from([0, 250000]),
    source=st.sampled_from(["a.csv", "b.json", "c.csv"]), line=st.integers(1, 3),
    event_name=st.sampled_from(["receive", "defer", "summary", "send", "fail"]),
    recipient=st.sampled_from([RCPT, "", "v@tailspintoys.ca"]),
    trace_id=st.sampled_from([None, "t1"]), source_ip=st.sampled_from([None, "104.47.34.97"]),
    sender=st.sampled_from([None, "a@fabrikam.example", "b@fabrikam.example"]),
    target_ip=st.sampled_from([None, "13.92.177.139", "203.0.113.25"]))


def realistic(records):
    """A file's line is one record (per recipient and event): later draws for it repeat it."""
    first = {}
    return [first.setdefault((e.location, e.recipient, e.event), e) for e in records]


@settings(max_examples=300, deadline=None)
@given(records=st.lists(RECORDS, max_size=14).map(realistic),
       seed=st.randoms(use_true_random=False))
def test_merge_is_deterministic_and_idempotent(records, seed):
    once = merge(records)
    shuffled = list(records)
    seed.shuffle(shuffled)
    assert merge(shuffled) == once
    assert merge(once) == once
    assert merge(records + records) == once
    assert [e.time_utc for e in once] == sorted(e.time_utc for e in once)
    assert len(once) <= len(records)
    # nothing detailed is lost: every (message, recipient, event, second) of the input that is
    # not a summary survives (recipients may be filled in)
    def keys(events):
        return {(e.event, e.time_utc.replace(microsecond=0)) for e in events
                if e.event != "summary"}
    assert keys(once) == keys(records)


def test_summary_rows_of_one_message_at_minute_and_second_precision_are_one():
    """The EAC summary export shows minutes (04:45 at UTC+01:00), Get-MessageTraceV2 seconds
    (03:45:12Z): one message, one summary event."""
    minute = event(source="eac.csv", event_name="summary", second=0, target_ip="13.92.177.139")
    second = event(source="summary.json", event_name="summary", second=12, trace_id="t1")
    [one] = merge([minute, second])
    assert (one.trace_id, one.target_ip) == ("t1", "13.92.177.139")
    assert merge([one]) == [one]
    later = TraceEvent(**{**{f: getattr(second, f) for f in second.__slots__},
                          "time_utc": second.time_utc + timedelta(minutes=1)})
    assert len(merge([minute, later])) == 2  # another minute: another message event


def test_far_apart_times_stay_apart():
    late = event(source="b.json")
    late = TraceEvent(**{**{f: getattr(late, f) for f in late.__slots__},
                         "time_utc": late.time_utc + timedelta(minutes=15)})
    assert len(merge([event(), late])) == 2
