"""More message-trace exports (JSON from PowerShell, RWS and Graph; summary CSVs) and merging.
Fixtures are the published samples of formats.md §3.2/§3.3 where given, else SYNTHETIC."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow_doctor.evidence.collect import collect
from mailflow_doctor.evidence.trace import detail_csv, extended_csv, json_export, merge, summary_csv

RWS = ('{"odata.metadata":"https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/'
       '$metadata#MessageTrace","value":[{"Organization":"org.onmicrosoft.com","MessageId":"<233af'
       '449-87f6-4902-bcf5-77838a4e7603@az.southcentralus.unknown.microsoft.com>","Received":"2022'
       '-11-29T05:35:08.2652371","SenderAddress":"azure-noreply@microsoft.com","RecipientAddress":'
       '"ebenzoni@org.onmicrosoft.com","Subject":"Azure AD Identity Protection Weekly Digest","Sta'
       'tus":"Delivered","ToIP":null,"FromIP":"20.97.34.221","Size":145153,"MessageTraceId":"aa1a3'
       'e28-8967-4bfb-06d3-08dad1cb7a0e","StartDate":"2022-11-27T17:08:26.8492706Z","EndDate":"202'
       '2-11-29T17:08:26.8492706Z","Index":0}]}')
GRAPH_DETAIL = ('{"id":"7e3b2b2e-0000-4000-8000-000000000001","messageId":"<d9683b4c-0000@contoso.'
                'com>","dateTime":"2025-06-13T10:30:05Z","event":"Receive","action":"","descrip'
                'tion":"Message received by: MN2PR00MB0670.namprd00.prod.outlook.com","data":"<root>'
                '<MEP Name=\\"Connector\\" String=\\"Message Body\\" /></root>"}')
REASON = ("Reason: [{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};"
          "{FQDN=smtp.tailspintoys.ca};{IP=13.92.177.139};{LRT=3/16/2017 4:59:18 PM}]. "
          "OutboundProxyTargetIP: 13.92.177.139. OutboundProxyTargetHostName: smtp.tailspintoys.ca")


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_rws_odata_sample(tmp_path, encoding):
    path = write(tmp_path, "rws.json", RWS, encoding)
    assert json_export.sniff(path.read_text(encoding=encoding).lstrip("\ufeff"))
    [e] = json_export.parse(path).records
    assert (e.event, e.status, e.recipient) == ("summary", "delivered",
                                                "ebenzoni@org.onmicrosoft.com")
    assert e.time_utc.isoformat() == "2022-11-29T05:35:08.265237+00:00"  # no zone means UTC
    assert e.trace_id == "aa1a3e28-8967-4bfb-06d3-08dad1cb7a0e" and e.target_ip is None


def test_graph_detail_and_fetch_file(tmp_path):
    listing = json.loads('{"@odata.context":"x","value":[' + GRAPH_DETAIL + "]}")
    [e] = json_export.parse(write(tmp_path, "g.json", json.dumps(listing))).records
    assert (e.event, e.data) == ("receive", {"Connector": "Message Body"})
    fetch = {"schema": json_export.FETCH_SCHEMA, "fetched_at": "2026-11-23T20:00:00Z",
             "traces": [{"id": "t1", "messageId": "<m1@x>", "receivedDateTime":
                         "2026-11-23T13:40:00Z", "recipientAddress": "u@tailspintoys.ca",
                         "senderAddress": "a@x", "status": "pending", "toIP": "13.92.177.139"}],
             "details": {"t1": {"recipientAddress": "u@tailspintoys.ca", "value": [
                 {"id": "d1", "messageId": "<m1@x>", "dateTime": "2026-11-23T13:41:34Z",
                  "event": "Defer", "action": "", "description": REASON, "data": ""}]}}}
    events = json_export.parse(write(tmp_path, "fetch.json", json.dumps(fetch))).records
    assert [(e.event, e.recipient, e.trace_id) for e in events] == [
        ("summary", "u@tailspintoys.ca", "t1"), ("defer", "u@tailspintoys.ca", "t1")]
    assert events[1].reason.enhanced_code == "4.4.316"
    assert events[1].target_ip == "13.92.177.139"


def test_powershell_convertto_json_dates(tmp_path):
    doc = [{"MessageId": "<m1@x>", "MessageTraceId": "t1", "RecipientAddress": "u@x",
            "SenderAddress": "a@x", "Date": "/Date(1700000000000)/", "Event": "Defer",
            "Action": "", "Detail": REASON, "Data": "<root></root>"}]
    [e] = json_export.parse(write(tmp_path, "ps.json", json.dumps(doc))).records
    assert e.time_utc.isoformat() == "2023-11-14T22:13:20+00:00"
    assert e.reason.socket_error == 10061


def test_bad_json_and_bad_records(tmp_path):
    bad = json_export.parse(write(tmp_path, "bad.json", '{"value": [{"MessageId": 1'))
    assert bad.records == [] and "not valid JSON" in bad.problems[0].message
    mixed = [{"MessageId": "<m@x>", "Received": "yesterday", "RecipientAddress": "u@x"},
             {"MessageId": "<n@x>", "Received": "2024-01-01T00:00:00", "RecipientAddress": "u@x",
              "Status": "Failed"}]
    parsed = json_export.parse(write(tmp_path, "mixed.json", json.dumps(mixed)))
    assert [e.status for e in parsed.records] == ["failed"]
    assert str(parsed.problems[0].location).endswith("mixed.json#record1")


def test_summary_csvs(tmp_path):
    v2 = ('"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP",'
          '"Size","MessageId","MessageTraceId"\n"3/16/2017 4:59:18 PM","a@x","u@tailspintoys.ca",'
          '"Hi","Pending","13.92.177.139","","100","<m1@x>","t1"\n')
    [e] = summary_csv.parse(write(tmp_path, "v2.csv", v2, "utf-16")).records
    assert (e.event, e.status, e.target_ip) == ("summary", "pending", "13.92.177.139")
    enhanced = ("origin_timestamp_utc,sender_address,recipient_status,message_subject,"
                "total_bytes,message_id,network_message_id,original_client_ip,directionality,"
                "connector_id,delivery_priority\n2026-11-23T13:40:00Z,a@x,"
                '"u@x##Receive, Send;v@x##Receive, Defer",Hi,100,<m1@x>,n1,203.0.113.9,1,,Normal\n')
    events = summary_csv.parse(write(tmp_path, "enh.csv", enhanced)).records
    assert [(e.recipient, e.event) for e in events] == [
        ("u@x", "receive"), ("u@x", "send"), ("v@x", "receive"), ("v@x", "defer")]
    for other in (detail_csv, extended_csv, json_export):
        assert not other.sniff(v2) and not other.sniff(enhanced.split("\n")[0])
    assert summary_csv.sniff(v2) and summary_csv.sniff(enhanced)


def test_overlapping_exports_are_merged(tmp_path):
    detail = ('"MessageId","MessageTraceId","RecipientAddress","SenderAddress","Date","Event",'
              '"Action","Detail","Data"\n"<m1@x>","t1","u@tailspintoys.ca","a@x",'
              f'"11/23/2026 1:41:34 PM","Defer","","{REASON}",""\n')
    write(tmp_path, "detail.csv", detail)
    fetch = {"schema": json_export.FETCH_SCHEMA, "traces": [
        {"id": "t1", "messageId": "<m1@x>", "receivedDateTime": "2026-11-23T13:40:00Z",
         "recipientAddress": "u@tailspintoys.ca", "status": "pending"}],
        "details": {"t1": {"recipientAddress": "u@tailspintoys.ca", "value": [
            {"messageId": "<m1@x>", "dateTime": "2026-11-23T13:41:34.123Z", "event": "Defer",
             "description": REASON}]}}}
    write(tmp_path, "fetch.json", json.dumps(fetch))
    events = collect([tmp_path]).trace
    assert [e.event for e in events] == ["defer"]  # one defer, and the summary is dropped
    assert merge.merge(events + events) == events


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["MessageId", "Received", "Date", "Event",
                                                       "value", "Detail", "x"]), inner,
                                      max_size=5), max_leaves=20))
def test_random_json_never_raises(tmp_path, doc):
    parsed = json_export.parse(write(tmp_path, "fuzz.json", json.dumps(doc)))
    assert parsed.records or parsed.problems
