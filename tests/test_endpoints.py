"""The bundled endpoint snapshots and the selection of EOP mail sets by what they are."""

import pytest

from mailflow_doctor.knowledge.endpoints import INSTANCES, parse_sets, snapshot


def test_worldwide_eop_ranges_are_set_10():
    snap = snapshot("worldwide")
    assert [s.id for s in snap.eop_sets] == [10]
    assert snap.eop_prefixes.cidrs() == [
        "40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17",
        "2a01:111:f400::/48", "2a01:111:f403::/48"]
    assert snap.captured == "2026-05-31"


@pytest.mark.parametrize("instance, ids, sample", [
    ("usgovdod", [6], "62.10.144.1"),
    ("usgovgcchigh", [6], "62.10.128.1"),
    ("china", [27], "159.27.176.1"),
])
def test_other_instances_select_by_port_and_url(instance, ids, sample):
    snap = snapshot(instance)
    assert [s.id for s in snap.eop_sets] == ids
    assert sample in snap.eop_prefixes
    # The port-25 client sets without addresses (USGov IDs 4/5) must not be chosen.
    assert all(s.prefixes for s in snap.eop_sets)


def test_selection_does_not_depend_on_id():
    sets = parse_sets([
        {"id": 99, "serviceArea": "Exchange", "urls": ["*.mail.protection.example"],
         "ips": ["198.51.100.0/24"], "tcpPorts": "443, 25", "category": "Allow"},
        {"id": 10, "serviceArea": "Exchange", "urls": ["outlook.office365.com"],
         "ips": ["203.0.113.0/24"], "tcpPorts": "25,587", "category": "Allow"},
        {"id": 11, "serviceArea": "Exchange", "urls": ["*.protection.example"],
         "tcpPorts": "20-30", "category": "Default"},
    ])
    assert [s.is_eop_mail for s in sets] == [True, False, False]
    assert 25 in sets[2].tcp_ports


def test_every_instance_loads_and_unknown_is_refused():
    assert all(snapshot(i).eop_prefixes for i in INSTANCES)
    with pytest.raises(ValueError, match="unknown instance"):
        snapshot("germany")
