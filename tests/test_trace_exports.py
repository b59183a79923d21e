"""Message trace exports beyond the detail/extended CSVs: summary CSVs (Get-MessageTraceV2,
EAC summary, enhanced summary), PowerShell ConvertTo-Json, Microsoft Graph (and the `trace
fetch` file), the Reporting Web Service.

The RWS response, the Graph detail element and the reason string are the published samples of
formats.md §3.3, §3.2 and §3.5, verbatim; every other fixture is SYNTHETIC, written here from the
documented field lists, in UTF-8, UTF-8 with BOM and UTF-16.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow_doctor.evidence.textio import read_head
from mailflow_doctor.evidence.trace import graph, json_export, powershell, rws, summary_csv
from mailflow_doctor.evidence.trace.summary_csv import LEVEL
from mailflow_doctor.model import Parsed

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16"]

# formats.md §3.3 (SumoLogic sample), verbatim.
RWS_SAMPLE = '{"odata.metadata":"https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/$metadata#MessageTrace","value":[{"Organization":"org.onmicrosoft.com","MessageId":"<233af449-87f6-4902-bcf5-77838a4e7603@az.southcentralus.unknown.microsoft.com>","Received":"2022-11-29T05:35:08.2652371","SenderAddress":"azure-noreply@microsoft.com","RecipientAddress":"ebenzoni@org.onmicrosoft.com","Subject":"Azure AD Identity Protection Weekly Digest","Status":"Delivered","ToIP":null,"FromIP":"20.97.34.221","Size":145153,"MessageTraceId":"aa1a3e28-8967-4bfb-06d3-08dad1cb7a0e","StartDate":"2022-11-27T17:08:26.8492706Z","EndDate":"2022-11-29T17:08:26.8492706Z","Index":0}]}'
# formats.md §3.2 (Graph docs example detail element), verbatim; its `data` is elided in the
# docs ("...") and so not well-formed XML.
GRAPH_DETAIL_DOC = '{"id":"7e3b2b2e-…","messageId":"<d9683b4c-…@contoso.com>","dateTime":"2025-06-13T10:30:05Z","event":"Receive","action":"","description":"Message received by: MN2PR00MB0670.namprd00.prod.outlook.com","data":"<root><MEP ... String=\\"Message Body\\" /></root>"}'
# formats.md §3.5 example 1 (the reference case), verbatim.
REASON = "Reason: [{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};{FQDN=smtp.tailspintoys.ca};{IP=13.92.177.139};{LRT=3/16/2017 4:59:18 PM}]. OutboundProxyTargetIP: 13.92.177.139. OutboundProxyTargetHostName: smtp.tailspintoys.ca"
GRAPH_LIST_CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#admin/exchange/tracing/messageTraces"
GRAPH_DETAIL_CONTEXT = ("https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph."
                        "exchangeMessageTraceDetail)")
CLIENT_DATA = '<root><MEP Name="ClientIP" String="104.47.34.97"/></root>'
MS = 1700000000000  # 2023-11-14T22:13:20Z


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def facts(events):
    return sorted((e.time_utc, e.message_id, e.recipient, e.event, e.status, e.source_ip,
                   e.target_ip, e.trace_id, e.reason.enhanced_code if e.reason else None)
                  for e in events)


# -- SYNTHETIC fixtures ----------------------------------------------------------------------------


def ps51(objects) -> str:
    """Windows PowerShell 5.1 ConvertTo-Json: 4-space indent, two spaces after the colon, <> and
    ' escaped, dates as \\/Date(ms)\\/."""
    text = json.dumps(objects, indent=4).replace('": ', '":  ')
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("'", "\\u0027")
            .replace("/Date(", "\\/Date(").replace(")/", ")\\/"))


def ps_summary(n=4) -> list[dict]:
    return [{"Organization": "tailspintoys.onmicrosoft.com",
             "MessageId": f"<m{i}@fabrikam.example>",
             "Received": f"/Date({MS + i * 60000})/", "SenderAddress": "a@fabrikam.example",
             "RecipientAddress": f"u{i}@tailspintoys.ca", "Subject": "Order", "Status": "Pending",
             "ToIP": "13.92.177.139", "FromIP": "198.51.100.7", "Size": 4242,
             "MessageTraceId": f"0b7a6a2c-0000-4000-8000-00000000000{i}", "Index": i}
            for i in range(n)]


def ps_detail() -> list[dict]:
    base = {"Organization": "tailspintoys.onmicrosoft.com", "MessageId": "<m0@fabrikam.example>",
            "MessageTraceId": "0b7a6a2c-0000-4000-8000-000000000000",
            "RecipientAddress": "u0@tailspintoys.ca", "SenderAddress": "a@fabrikam.example",
            "Action": "", "Data": ""}
    return [{**base, "Date": f"/Date({MS})/", "Event": "Receive", "Detail": "Message received"},
            {**base, "Date": f"/Date({MS + 60000}+0000)/", "Event": "Defer", "Detail": REASON,
             "Data": CLIENT_DATA},
            {**base, "Date": "2023-11-14T22:25:20.1234567Z", "Event": "Defer", "Detail": REASON}]


def graph_traces(n=3) -> list[dict]:
    return [{"id": f"t{i}", "senderAddress": "a@fabrikam.example",
             "recipientAddress": f"u{i}@tailspintoys.ca", "messageId": f"<m{i}@fabrikam.example>",
             "receivedDateTime": f"2026-11-23T13:4{i}:00Z", "subject": "Order", "size": 4242,
             "fromIP": "198.51.100.7", "toIP": "13.92.177.139", "status": "pending"}
            for i in range(n)]


def graph_details(i=0) -> list[dict]:
    return [{"id": f"t{i}", "messageId": f"<m{i}@fabrikam.example>",
             "dateTime": f"2026-11-23T13:4{i}:01.25Z", "event": "Receive", "action": "",
             "description": "Message received by: MN2PR00MB0670.namprd00.prod.outlook.com",
             "data": ""},
            {"id": f"t{i}", "messageId": f"<m{i}@fabrikam.example>",
             "dateTime": f"2026-11-23T13:5{i}:34.5Z", "event": "Defer", "action": "",
             "description": REASON, "data": CLIENT_DATA}]


def fetch_file(n=3) -> dict:
    return {"schema": graph.FETCH_SCHEMA, "fetched_at": "2026-11-23T20:00:00Z",
            "tenant": "tailspintoys.onmicrosoft.com",
            "window": {"start": "2026-11-23T00:00:00Z", "end": "2026-11-23T20:00:00Z"},
            "traces": graph_traces(n),
            "details": {f"t{i}": {"recipientAddress": f"u{i}@tailspintoys.ca",
                                  "value": graph_details(i)} for i in range(n)}}


def rws_verbose() -> dict:
    meta = {"id": "https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/"
                  "MessageTraceDetail(0)", "type": "TenantReporting.MessageTraceDetail"}
    return {"d": {"results": [
        {"__metadata": meta, "Organization": "tailspintoys.onmicrosoft.com",
         "MessageId": "<m0@fabrikam.example>", "MessageTraceId": "t0",
         "RecipientAddress": "u0@tailspintoys.ca", "SenderAddress": "a@fabrikam.example",
         "Date": f"/Date({MS + 60000 * k})/", "Event": event, "Action": None, "Detail": detail,
         "Data": "%3Croot%3E%3CMEP%20Name%3D%22ClientIP%22%20String%3D%22104.47.34.97%22%2F%3E"
                 "%3C%2Froot%3E", "StartDate": f"/Date({MS})/", "EndDate": f"/Date({MS})/"}
        for k, (event, detail) in enumerate([("Receive", "Message received"),
                                             ("Defer", REASON), ("Defer", REASON)])]}}


V2_CSV = ('#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTrace\r\n'
          '"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP",'
          '"Size","MessageId","MessageTraceId","Organization","StartDate","EndDate","Index"\r\n'
          + "".join(f'"11/23/2026 1:4{i}:00 PM","a@fabrikam.example","u{i}@tailspintoys.ca",'
                    f'"Order","Pending","13.92.177.139","198.51.100.7","4242",'
                    f'"<m{i}@fabrikam.example>","t{i}","tailspintoys.onmicrosoft.com",'
                    '"11/21/2026 12:00:00 AM","11/23/2026 8:00:00 PM","0"\r\n' for i in range(4)))
EAC_CSV = ("Date (UTC+01:00),Sender,Recipient,Subject,Status,Message ID,From IP,To IP,Size\r\n"
           + "".join(f"23/11/2026 14:4{i}:00,a@fabrikam.example,u{i}@tailspintoys.ca,Order,"
                     f"Pending,<m{i}@fabrikam.example>,198.51.100.7,13.92.177.139,4242\r\n"
                     for i in range(4)))
ENHANCED_CSV = (
    "origin_timestamp_utc,sender_address,recipient_status,message_subject,total_bytes,"
    "message_id,network_message_id,original_client_ip,directionality,connector_id,"
    "delivery_priority\r\n"
    '2026-11-23T13:40:00.0000000Z,a@fabrikam.example,"u0@tailspintoys.ca##Receive, Send;'
    'u1@tailspintoys.ca##Receive, Defer",Order,4242,<m0@fabrikam.example>,t0,198.51.100.7,1,'
    "Outbound to OnPrem,Normal\r\n"
    '2026-11-23T13:41:00.0000000Z,a@fabrikam.example,"u2@tailspintoys.ca##Receive, Deliver",'
    "Order,4242,<m2@fabrikam.example>,t2,198.51.100.7,1,,Normal\r\n")


FIXTURES = {  # name → (reader that owns it, text)
    "rws-sample": (rws, RWS_SAMPLE),
    "rws-verbose": (rws, json.dumps(rws_verbose(), indent=2)),
    "graph-list": (graph, json.dumps({"@odata.context": GRAPH_LIST_CONTEXT,
                                      "value": graph_traces(),
                                      "@odata.nextLink": GRAPH_LIST_CONTEXT + "?$skiptoken=x"})),
    "graph-details": (graph, json.dumps({"@odata.context": GRAPH_DETAIL_CONTEXT,
                                         "value": graph_details()}, indent=2)),
    "graph-fetch": (graph, json.dumps(fetch_file(), indent=1)),
    "ps-summary": (powershell, ps51(ps_summary())),
    "ps-detail": (powershell, ps51(ps_detail())),
    "ps-one": (powershell, ps51(ps_summary(1)[0])),
    "v2-csv": (summary_csv, V2_CSV),
    "eac-csv": (summary_csv, EAC_CSV),
    "enhanced-csv": (summary_csv, ENHANCED_CSV),
}
FOREIGN = {  # other evidence the sniffers must refuse
    "detail-csv": '"Date","Event","Detail","MessageId","RecipientAddress"\r\n"1/1/2026 1:00:00 '
                  'PM","Receive","","<a@b>","u@x"\r\n',
    "extended-csv": "date_time_utc,event_id,message_id,recipient_address,recipient_status\r\n",
    "protocol-log": "#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n#Log-type: SMTP "
                    "Receive Protocol Log\r\n#Fields: date-time,connector-id,session-id\r\n",
    "nsg": json.dumps([{"name": "smtp", "priority": 100, "direction": "Inbound",
                        "sourceAddressPrefix": "*", "destinationPortRange": "25"}]),
    "aws": json.dumps({"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": []}]}),
    "graph-error": json.dumps({"error": {"code": "Forbidden", "message": "denied"}}),
    "prose": "Message trace: Received, Status, RecipientAddress, MessageId {\"value\": 1}\n",
}


# -- reading each export ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_rws_published_sample(tmp_path, encoding):
    path = write(tmp_path, "rws.json", RWS_SAMPLE, encoding)
    assert rws.sniff(read_head(path))
    parsed = rws.parse(path)
    assert parsed.problems == []
    [e] = parsed.records
    assert (e.event, e.status, e.recipient, e.sender) == (
        "summary", "delivered", "ebenzoni@org.onmicrosoft.com", "azure-noreply@microsoft.com")
    assert e.time_utc.isoformat() == "2022-11-29T05:35:08.265237+00:00"  # no zone means UTC
    assert (e.trace_id, e.source_ip, e.target_ip) == (
        "aa1a3e28-8967-4bfb-06d3-08dad1cb7a0e", "20.97.34.221", None)
    assert e.location.line == 1 and e.data == {"subject": "Azure AD Identity Protection Weekly "
                                                          "Digest", "size": "145153"}


def test_rws_verbose_wrapper_and_escaped_data(tmp_path):
    parsed = rws.parse(write(tmp_path, "rws.json", FIXTURES["rws-verbose"][1]))
    assert parsed.problems == []
    assert [e.event for e in parsed.records] == ["receive", "defer", "defer"]
    defer = parsed.records[1]
    assert defer.source_ip == "104.47.34.97" and defer.target_ip == "13.92.177.139"
    assert defer.reason.socket_error == 10061 and defer.status is None
    assert defer.time_utc == datetime(2023, 11, 14, 22, 14, 20, tzinfo=UTC)
    bare = rws.parse(write(tmp_path, "d.json", json.dumps({"d": rws_verbose()["d"]["results"]})))
    assert facts(bare.records) == facts(parsed.records)


def test_graph_docs_detail_element(tmp_path):
    doc = ('{\n  "@odata.context": "' + GRAPH_DETAIL_CONTEXT + '",\n  "value": [\n    '
           + GRAPH_DETAIL_DOC + "\n  ]\n}\n")
    path = write(tmp_path, "details.json", doc)
    assert graph.sniff(read_head(path)) and not rws.sniff(doc) and not powershell.sniff(doc)
    parsed = graph.parse(path)
    [e] = parsed.records
    assert (e.event, e.recipient, e.trace_id, e.message_id) == (
        "receive", "", "7e3b2b2e-…", "<d9683b4c-…@contoso.com>")
    assert e.detail == "Message received by: MN2PR00MB0670.namprd00.prod.outlook.com"
    [problem] = parsed.problems  # the docs elide the XML: the event stays, its data is lost
    assert problem.location.line == 4 and "field data: not well-formed XML" in problem.message


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_graph_fetch_file(tmp_path, encoding):
    path = write(tmp_path, "fetch.json", FIXTURES["graph-fetch"][1], encoding)
    assert graph.sniff(read_head(path))
    parsed = graph.parse(path)
    assert parsed.problems == []
    first = [e for e in parsed.records if e.message_id == "<m0@fabrikam.example>"]
    assert [(e.event, e.recipient, e.trace_id, e.status) for e in first] == [
        ("summary", "u0@tailspintoys.ca", "t0", "pending"),
        ("receive", "u0@tailspintoys.ca", "t0", None),
        ("defer", "u0@tailspintoys.ca", "t0", None)]
    assert first[2].reason.enhanced_code == "4.4.316" and first[2].source_ip == "104.47.34.97"
    assert first[0].target_ip == "13.92.177.139" and first[0].source_ip == "198.51.100.7"
    # the entry's recipientAddress may follow its value list
    doc = fetch_file(1)
    doc["details"]["t0"] = {"value": graph_details(0), "recipientAddress": "u0@tailspintoys.ca"}
    later = graph.parse(write(tmp_path, "later.json", json.dumps(doc)))
    assert facts(later.records) == facts(first)


def test_graph_list_page(tmp_path):
    parsed = graph.parse(write(tmp_path, "list.json", FIXTURES["graph-list"][1]))
    assert parsed.problems == [] and [e.status for e in parsed.records] == ["pending"] * 3
    saved_value = graph.parse(write(tmp_path, "bare.json", json.dumps(graph_traces())))
    assert facts(saved_value.records) == facts(parsed.records)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_powershell_convertto_json(tmp_path, encoding):
    path = write(tmp_path, "detail.json", FIXTURES["ps-detail"][1], encoding)
    assert powershell.sniff(read_head(path))
    parsed = powershell.parse(path)
    assert parsed.problems == []
    receive, defer, later = parsed.records
    assert receive.time_utc == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert defer.time_utc == datetime(2023, 11, 14, 22, 14, 20, tzinfo=UTC)  # +0000 form
    assert later.time_utc == datetime(2023, 11, 14, 22, 25, 20, 123456, tzinfo=UTC)
    assert defer.message_id == "<m0@fabrikam.example>" and defer.source_ip == "104.47.34.97"
    assert defer.reason.target_ip == "13.92.177.139" and defer.target_fqdn == "smtp.tailspintoys.ca"
    assert defer.location.line == 14  # the line its object starts on
    summaries = powershell.parse(write(tmp_path, "s.json", FIXTURES["ps-summary"][1])).records
    assert [(e.event, e.status, e.target_ip) for e in summaries] == [
        ("summary", "pending", "13.92.177.139")] * 4
    [one] = powershell.parse(write(tmp_path, "one.json", FIXTURES["ps-one"][1])).records
    assert facts([one]) == facts(summaries[:1])


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_summary_csvs(tmp_path, encoding):
    v2 = summary_csv.parse(write(tmp_path, "v2.csv", V2_CSV, encoding))
    eac = summary_csv.parse(write(tmp_path, "eac.csv", EAC_CSV, encoding))
    assert v2.problems == [] and eac.problems == []
    e = v2.records[0]
    assert (e.event, e.status, e.target_ip, e.source_ip, e.trace_id, e.location.line) == (
        "summary", "pending", "13.92.177.139", "198.51.100.7", "t0", 3)
    # The EAC header names the zone the times are in: 14:40 at UTC+01:00 is 13:40Z.
    assert [x.time_utc for x in eac.records] == [x.time_utc for x in v2.records]
    assert eac.records[0].time_utc == datetime(2026, 11, 23, 13, 40, tzinfo=UTC)
    enhanced = summary_csv.parse(write(tmp_path, "enh.csv", ENHANCED_CSV, encoding))
    assert enhanced.problems == []
    assert [(x.recipient, x.event, x.source_ip) for x in enhanced.records] == [
        ("u0@tailspintoys.ca", "receive", "198.51.100.7"), ("u0@tailspintoys.ca", "send", None),
        ("u1@tailspintoys.ca", "receive", "198.51.100.7"), ("u1@tailspintoys.ca", "defer", None),
        ("u2@tailspintoys.ca", "receive", "198.51.100.7"), ("u2@tailspintoys.ca", "deliver", None)]
    assert all(x.data[LEVEL] == "summary" and summary_csv.is_summary(x) for x in enhanced.records)
    assert enhanced.records[0].data["connector_id"] == "Outbound to OnPrem"


def test_json_export_hands_each_shape_to_its_reader(tmp_path):
    assert graph.FETCH_SCHEMA == "mailflow-doctor/graph-trace/v1"
    for name, (reader, text) in FIXTURES.items():
        path = write(tmp_path, f"{name}.x", text)
        if reader is summary_csv:
            assert not json_export.sniff(text)
            continue
        assert json_export.sniff(text)
        assert facts(json_export.parse(path).records) == facts(reader.parse(path).records)
    [problem] = json_export.parse(write(tmp_path, "x.txt", "hello")).problems
    assert "not a message trace JSON export" in problem.message


# -- what must not be read -------------------------------------------------------------------------


def test_each_sniff_accepts_only_its_own_shape():
    readers = (summary_csv, powershell, graph, rws)
    for name, (owner, text) in FIXTURES.items():
        for reader in readers:
            assert reader.sniff(text) == (reader is owner), (name, reader.KIND)
    for name, text in FOREIGN.items():
        assert not any(reader.sniff(text) for reader in readers), name


@pytest.mark.parametrize("reader", [summary_csv, powershell, graph, rws])
def test_a_file_of_another_kind_gives_one_problem(tmp_path, reader):
    others = {**{n: t for n, (r, t) in FIXTURES.items() if r is not reader}, **FOREIGN,
              "binary": "\0\1\2" * 100}
    for name, text in others.items():
        parsed = reader.parse(write(tmp_path, f"{name}.dat", text))
        assert parsed.records == [] and len(parsed.problems) == 1, (name, parsed.problems)


def test_bad_records_are_reported_with_their_line_and_the_rest_kept(tmp_path):
    objects = ps_summary(3)
    objects[1]["Received"] = "yesterday"
    objects[2]["MessageId"] = None
    parsed = powershell.parse(write(tmp_path, "ps.json", json.dumps(objects, indent=1)))
    assert len(parsed.records) == 1
    assert [(p.location.line, p.message) for p in parsed.problems] == [
        (16, "element 2: field Received 'yesterday' is not a date and time; skipped"),
        (30, "element 3: field MessageId is empty; skipped")]
    doc = fetch_file(1)
    doc["traces"].append(42)
    doc["details"]["t0"]["value"][1]["dateTime"] = ""
    parsed = graph.parse(write(tmp_path, "g.json", json.dumps(doc)))
    assert [e.event for e in parsed.records] == ["summary", "receive"]
    assert [p.message for p in parsed.problems] == [
        "traces[1] is not an object; skipped",
        "details['t0'].value[1]: field dateTime is missing; skipped"]
    sample = json.loads(RWS_SAMPLE)
    sample["value"].insert(0, {"MessageId": "<x@y>", "Received": "2022-13-45T00:00:00",
                               "RecipientAddress": "u@x"})
    parsed = rws.parse(write(tmp_path, "r.json", json.dumps(sample)))
    assert len(parsed.records) == 1 and "value[0]: field Received" in parsed.problems[0].message
    bad_csv = V2_CSV.replace('"11/23/2026 1:41:00 PM"', '"soon"')
    parsed = summary_csv.parse(write(tmp_path, "v2.csv", bad_csv))
    assert len(parsed.records) == 3 and parsed.problems[0].location.line == 4
    assert "column Received" in parsed.problems[0].message


def test_json_cut_short_keeps_the_records_before_the_cut(tmp_path):
    text = FIXTURES["graph-fetch"][1]
    cut = text[: text.index('"event": "Defer"', text.index('"t2": {'))]
    parsed = graph.parse(write(tmp_path, "cut.json", cut))
    full = graph.parse(write(tmp_path, "full.json", text))
    assert len(parsed.records) == len(full.records) - 1  # only the cut Defer of t2 is lost
    [problem] = parsed.problems
    assert problem.message.startswith("not valid JSON") and "rest of the file" in problem.message
    assert problem.location.line == cut.count("\n") + 1


# -- fuzz ------------------------------------------------------------------------------------------

READERS = (summary_csv, powershell, graph, rws, json_export)
JSON_FIXTURES = [n for n, (r, _) in FIXTURES.items() if r is not summary_csv]
CSV_FIXTURES = [n for n, (r, _) in FIXTURES.items() if r is summary_csv]
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
KEYS = ["MessageId", "Received", "Date", "Event", "Detail", "Data", "RecipientAddress", "Status",
        "messageId", "receivedDateTime", "dateTime", "event", "description", "id", "value", "d",
        "results", "traces", "details", "recipientAddress", "schema", "@odata.context",
        "odata.metadata", "x"]
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=12) | st.sampled_from(["/Date(1700000000000)/", "2026-11-23T13:40Z",
                                                      graph.FETCH_SCHEMA, "#MessageTrace", REASON,
                                                      "<root><MEP Name='a' String='b'/></root>"]))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
                           max_leaves=25)


def multiset_in(small, big) -> bool:
    return not Counter(small) - Counter(big)


def shuffled(value, rnd):
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: shuffled(v, rnd) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rnd) for v in value]
    return value


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_never_raise(tmp_path, data):
    path = tmp_path / "junk.bin"
    path.write_bytes(data)
    for reader in READERS:
        assert isinstance(reader.parse(path), Parsed)
        reader.sniff(read_head(path))


@FUZZ
@given(doc=JSON_VALUES)
def test_random_json_never_raises(tmp_path, doc):
    path = write(tmp_path, "fuzz.json", json.dumps(doc))
    for reader in READERS:
        parsed = reader.parse(path)
        assert all(p.location.source == str(path) for p in parsed.problems)


@FUZZ
@given(name=st.sampled_from(["rws-sample", "graph-list", "graph-fetch", "ps-detail"]),
       junk=st.lists(st.tuples(st.integers(0, 9), JSON_VALUES), max_size=4))
def test_junk_records_cost_only_themselves(tmp_path, name, junk):
    reader, text = FIXTURES[name]
    doc = json.loads(text)
    records = doc if isinstance(doc, list) else doc.get("value") or doc.get("traces")
    for at, value in junk:
        records.insert(at % (len(records) + 1), value)
    good = reader.parse(write(tmp_path, "good.json", text)).records
    parsed = reader.parse(write(tmp_path, "mixed.json", json.dumps(doc)))
    assert multiset_in(facts(good), facts(parsed.records))


@FUZZ
@given(name=st.sampled_from(list(FIXTURES)), cut=st.floats(0, 1))
def test_truncated_copies_keep_good_records(tmp_path, name, cut):
    reader, text = FIXTURES[name]
    short = text[: int(len(text) * cut)]
    full = reader.parse(write(tmp_path, "full", text)).records
    parsed = reader.parse(write(tmp_path, "short", short))
    last = short.count("\n") + 1  # a CSV row cut inside its last field may still read
    kept = [e for e in parsed.records if e.location.line != last or name in JSON_FIXTURES]
    assert multiset_in(facts(kept), facts(full))


@FUZZ
@given(name=st.sampled_from(list(FIXTURES)), rnd=st.randoms(use_true_random=False))
def test_shuffled_columns_and_keys_read_the_same(tmp_path, name, rnd):
    reader, text = FIXTURES[name]
    if reader is summary_csv:
        lines = text.splitlines()
        skip = 1 if lines[0].startswith("#TYPE") else 0
        rows = list(csv.reader(lines[skip:]))
        order = list(range(len(rows[0])))
        rnd.shuffle(order)
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerows([[r[i] for i in order] for r in rows])
        other = buf.getvalue()
    else:
        other = json.dumps(shuffled(json.loads(text), rnd), indent=rnd.choice([None, 1, 4]))
    before = reader.parse(write(tmp_path, "a", text))
    after = reader.parse(write(tmp_path, "b", other))
    assert after.problems == before.problems == []
    assert facts(after.records) == facts(before.records)


def test_eac_summary_without_message_ids_names_each_message(tmp_path):
    """SYNTHETIC rows in the EAC summary's visible columns (formats.md §3.4): one message to two
    recipients, another from the same sender a minute later, and a row without a date."""
    text = ("Date,Sender,Recipient,Subject,Status\r\n"
            "11/23/2026 1:40 PM,a@fabrikam.example,u@tailspintoys.ca,Order,Pending\r\n"
            "11/23/2026 1:40 PM,a@fabrikam.example,v@tailspintoys.ca,Order,Delivered\r\n"
            "11/23/2026 1:41 PM,a@fabrikam.example,u@tailspintoys.ca,Order,Pending\r\n"
            ",a@fabrikam.example,u@tailspintoys.ca,Order,Pending\r\n"
            "11/23/2026 1:41 PM,a@fabrikam.example,u@tailspintoys.ca,Order,Delivered\r\n"
            "11/23/2026 1:41 PM,a@fabrikam.example,v@tailspintoys.ca,Order,Delivered\r\n")
    assert summary_csv.sniff(text)
    parsed = summary_csv.parse(write(tmp_path, "ui.csv", text))
    first, second, later, again_u, again_v = parsed.records
    assert first.message_id == second.message_id != later.message_id
    # A second message of that minute, sender and subject: u's second row, and v's first.
    assert again_u.message_id not in (first.message_id, later.message_id)
    assert again_v.message_id == later.message_id
    assert first.message_id.endswith("@eac-summary.invalid>")
    assert [(e.recipient, e.status, e.sender) for e in parsed.records[:3]] == [
        ("u@tailspintoys.ca", "pending", "a@fabrikam.example"),
        ("v@tailspintoys.ca", "delivered", "a@fabrikam.example"),
        ("u@tailspintoys.ca", "pending", "a@fabrikam.example")]
    assert first.time_utc == datetime(2026, 11, 23, 13, 40, tzinfo=UTC)
    note, bad = parsed.problems
    assert note.location.line == 1 and "no Message ID column" in note.message
    assert bad.location.line == 5
    # Read again, the same names: a second export of the same view merges with the first.
    again = summary_csv.parse(write(tmp_path, "ui2.csv", text)).records
    assert [e.message_id for e in again] == [e.message_id for e in parsed.records]


def test_mixed_date_orders_in_a_24_hour_column_are_said(tmp_path):
    """SYNTHETIC V2 summary rows with 24-hour slash dates: day-first is assumed where both
    readings work; a date only month-first can read shows the column is not, and says so once."""
    head = ('"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP",'
            '"Size","MessageId","MessageTraceId"\r\n')

    def rows(*dates):
        return head + "".join(
            f'"{d}","a@fabrikam.example","u@tailspintoys.ca","s","Pending","13.92.177.139","",'
            f'"1","<m{n}@x>","t{n}"\r\n' for n, d in enumerate(dates))

    mixed = summary_csv.parse(write(tmp_path, "mixed.csv", rows(
        "11/9/2026 13:40:00", "11/10/2026 13:40:00", "11/13/2026 13:40:00")))
    [problem] = mixed.problems
    assert problem.location.line == 2 and "read month-first at line 4" in problem.message
    assert "'11/9/2026 13:40:00'" in problem.message and len(mixed.records) == 3
    for dates in (("11/9/2026 13:40:00", "13/11/2026 13:40:00"),  # day-first: consistent
                  ("11/9/2026 1:40:00 PM", "11/13/2026 1:40:00 PM"),  # 12-hour: month-first
                  ("11/9/2026 13:40:00", "11/10/2026 13:40:00")):  # ambiguous throughout
        assert summary_csv.parse(write(tmp_path, "ok.csv", rows(*dates))).problems == []
