"""PrefixSet algebra checked against brute-force sets of addresses and against ipaddress."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow_doctor.ipspace import PrefixSet

EOP = ["40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17",
       "2a01:111:f400::/48", "2a01:111:f403::/48"]

# Small universe (a /24 and a /120) so every operation can be checked address by address.
v4_prefix = st.builds(lambda a, n: f"192.0.2.{a}/{n}", st.integers(0, 255), st.integers(24, 32))
v6_prefix = st.builds(lambda a, n: f"2001:db8::{a:x}/{n}", st.integers(0, 255), st.integers(120, 128))
prefix_lists = st.lists(st.one_of(v4_prefix, v6_prefix), max_size=8)


def brute(cidrs):
    out = set()
    for c in cidrs:
        out.update(ipaddress.ip_network(c, strict=False))
    return out


def addresses(ps: PrefixSet):
    return brute(ps.cidrs())


@settings(max_examples=300)
@given(prefix_lists, prefix_lists)
def test_algebra_matches_brute_force(a, b):
    pa, pb = PrefixSet.parse(*a), PrefixSet.parse(*b)
    ba, bb = brute(a), brute(b)
    assert addresses(pa | pb) == ba | bb
    assert addresses(pa & pb) == ba & bb
    assert addresses(pa - pb) == ba - bb
    assert pa.size() == len(ba)
    assert pa.covers(pa & pb)
    assert bool(pa - pb) == bool(ba - bb)


@settings(max_examples=300)
@given(prefix_lists, st.one_of(st.integers(0, 255).map(lambda i: f"192.0.2.{i}"),
                               st.integers(0, 255).map(lambda i: f"2001:db8::{i:x}")))
def test_membership(a, ip):
    assert (ip in PrefixSet.parse(*a)) == (ipaddress.ip_address(ip) in brute(a))


@settings(max_examples=300)
@given(prefix_lists)
def test_cidrs_are_minimal_like_collapse(a):
    nets = [ipaddress.ip_network(c, strict=False) for c in a]
    expected = [str(n) for n in ipaddress.collapse_addresses(n for n in nets if n.version == 4)]
    expected += [str(n) for n in ipaddress.collapse_addresses(n for n in nets if n.version == 6)]
    assert PrefixSet.parse(*a).cidrs() == expected


def test_reference_case_difference():
    eop = PrefixSet.parse(*EOP)
    acl = PrefixSet.parse("40.92.0.0/15", "40.107.0.0/16", "104.47.0.0/18")
    assert (eop - acl).cidrs() == ["52.100.0.0/14", "104.47.64.0/18",
                                   "2a01:111:f400::/48", "2a01:111:f403::/48"]
    assert (eop - acl).family(4).cidrs() == ["52.100.0.0/14", "104.47.64.0/18"]
    assert "104.47.34.97" in (eop & acl)
    assert "104.47.64.1" not in (eop & acl)


def test_range_and_everything():
    r = PrefixSet.from_range("10.0.0.1", "10.0.0.6")
    assert r.cidrs() == ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
    assert PrefixSet.everything(4).cidrs() == ["0.0.0.0/0"]
    assert PrefixSet.everything().cidrs() == ["0.0.0.0/0", "::/0"]
    assert PrefixSet.everything(6).families == {6}
    with pytest.raises(ValueError):
        PrefixSet.from_range("10.0.0.1", "::1")
