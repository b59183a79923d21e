"""PAN-OS configurations (SYNTHETIC) in set format and as XML, read to the same answer."""

from __future__ import annotations

import ipaddress

from mailflow_doctor.evidence.firewall import asa, fortigate, ios, iptables, nftables, panos
from mailflow_doctor.knowledge.endpoints import snapshot

EOP4 = snapshot("worldwide").eop_prefixes.family(4)
DST = ipaddress.ip_address("203.0.113.25")

SET = """\
set zone untrust network layer3 ethernet1/1
set zone trust network layer3 ethernet1/2
set address EOP-40.92 ip-netmask 40.92.0.0/15
set address EOP-40.107 ip-netmask 40.107.0.0/16
set address EOP-104.47-low ip-range 104.47.0.0-104.47.63.255
set address exch-public ip-netmask 203.0.113.25/32
set address-group EOP-SMTP static [ EOP-40.92 EOP-40.107 ]
set service svc-smtp protocol tcp port 25
set rulebase security rules "block-104" from untrust to trust source EOP-104.47-low destination exch-public application any service svc-smtp action deny
set rulebase security rules "EOP-in" from untrust to trust source EOP-SMTP destination exch-public application any service svc-smtp action allow
set rulebase security rules "web" from untrust to trust source any destination exch-public application web-browsing service service-https action allow
set rulebase security rules "smtp-appid" from untrust to trust source any destination exch-public application smtp service application-default action allow
set rulebase nat rules "smtp-in" from untrust to untrust destination exch-public destination-translation translated-address 10.0.0.25
"""

XML = """\
<config version="10.1.0"><devices><entry name="localhost.localdomain"><vsys><entry name="vsys1">
<zone><entry name="untrust"><network><layer3><member>ethernet1/1</member></layer3></network></entry></zone>
<address>
 <entry name="EOP-40.92"><ip-netmask>40.92.0.0/15</ip-netmask></entry>
 <entry name="EOP-40.107"><ip-netmask>40.107.0.0/16</ip-netmask></entry>
 <entry name="EOP-104.47-low"><ip-range>104.47.0.0-104.47.63.255</ip-range></entry>
 <entry name="exch-public"><ip-netmask>203.0.113.25/32</ip-netmask></entry>
</address>
<address-group><entry name="EOP-SMTP"><static><member>EOP-40.92</member><member>EOP-40.107</member></static></entry></address-group>
<service><entry name="svc-smtp"><protocol><tcp><port>25</port></tcp></protocol></entry></service>
<rulebase>
 <security><rules>
  <entry name="block-104"><from><member>untrust</member></from><to><member>trust</member></to><source><member>EOP-104.47-low</member></source><destination><member>exch-public</member></destination><application><member>any</member></application><service><member>svc-smtp</member></service><action>deny</action></entry>
  <entry name="EOP-in"><from><member>untrust</member></from><to><member>trust</member></to><source><member>EOP-SMTP</member></source><destination><member>exch-public</member></destination><application><member>any</member></application><service><member>svc-smtp</member></service><action>allow</action></entry>
  <entry name="smtp-appid"><from><member>untrust</member></from><to><member>trust</member></to><source><member>any</member></source><destination><member>exch-public</member></destination><application><member>smtp</member></application><service><member>application-default</member></service><action>allow</action></entry>
 </rules></security>
 <nat><rules><entry name="smtp-in"><from><member>untrust</member></from><to><member>untrust</member></to><destination><member>exch-public</member></destination><destination-translation><translated-address>10.0.0.25</translated-address></destination-translation></entry></rules></nat>
</rulebase></entry></vsys></entry></devices></config>
"""


def verdict(tmp_path, text, name):
    path = tmp_path / name
    path.write_text(text)
    parsed = panos.parse(path)
    assert parsed.records and not parsed.problems
    return parsed.records[0].evaluate(EOP4, DST, 25, ingress="ethernet1/1")


def test_set_and_xml_give_the_same_answer(tmp_path):
    for v in (verdict(tmp_path, SET, "running.set"), verdict(tmp_path, XML, "running.xml")):
        assert v.permitted.cidrs() == ["40.92.0.0/15", "40.107.0.0/16"]
        deny = next(d for d in v.decisions if d.action == "deny" and d.rule)
        assert deny.rule.name == "block-104" and deny.prefixes.cidrs() == ["104.47.0.0/18"]
        # smtp via App-ID and application-default: decided on the firewall, not here.
        assert v.prefixes("indeterminate") == EOP4 - v.permitted - deny.prefixes
        assert v.inside_destination == "10.0.0.25:25"
        assert deny.rule.location.line is not None


def test_sniff():
    assert panos.sniff(SET) and panos.sniff(XML)
    for other in (asa, ios, iptables, nftables, fortigate):
        assert not other.sniff(SET) and not other.sniff(XML)


# The "to dmz" rule would admit every source if the to-zone were not known.
ZONED = SET.replace(
    'set rulebase security rules "block-104"',
    'set rulebase security rules "dmz-any" from untrust to dmz source any destination '
    'exch-public application any service svc-smtp action allow\n'
    'set rulebase security rules "block-104"') + """\
set zone dmz network layer3 ethernet1/3
set network interface ethernet ethernet1/1 layer3 ip 203.0.113.1/24
set network interface ethernet ethernet1/2 layer3 ip 10.0.0.1/24
set network interface ethernet ethernet1/3 layer3 units ethernet1/3.20 ip 10.20.0.1/24
set zone dmz network layer3 ethernet1/3.20
set network virtual-router default routing-table ip static-route to-lab destination 10.9.0.0/16
set network virtual-router default routing-table ip static-route to-lab interface ethernet1/3
"""

ZONED_XML = XML.replace(
    '<zone><entry name="untrust">',
    '<zone><entry name="trust"><network><layer3><member>ethernet1/2</member></layer3>'
    '</network></entry><entry name="dmz"><network><layer3><member>ethernet1/3</member>'
    '</layer3></network></entry><entry name="untrust">').replace(
    "<security><rules>",
    '<security><rules><entry name="dmz-any"><from><member>untrust</member></from><to>'
    '<member>dmz</member></to><source><member>any</member></source><destination><member>'
    'exch-public</member></destination><application><member>any</member></application>'
    '<service><member>svc-smtp</member></service><action>allow</action></entry>').replace(
    "<vsys>",
    '<network><interface><ethernet><entry name="ethernet1/2"><layer3><ip>'
    '<entry name="10.0.0.1/24"/></ip></layer3></entry></ethernet></interface>'
    '<virtual-router><entry name="default"><routing-table><ip><static-route><entry '
    'name="to-lab"><destination>10.9.0.0/16</destination><interface>ethernet1/3</interface>'
    '</entry></static-route></ip></routing-table></entry></virtual-router></network><vsys>')


def test_post_nat_zone_from_interface_subnets(tmp_path):
    for name, text in (("zoned.set", ZONED), ("zoned.xml", ZONED_XML)):
        v = verdict(tmp_path, text, name)
        # 10.0.0.25 lies behind ethernet1/2 (trust): the "to dmz" rule does not apply.
        assert v.permitted.cidrs() == ["40.92.0.0/15", "40.107.0.0/16"], name
        assert any("post-NAT zone trust (interface ethernet1/2" in n for n in v.notes), name
        assert not any(d.rule and "dmz-any" in d.rule.text for d in v.decisions), name


def test_post_nat_zone_from_a_static_route_and_a_unit(tmp_path):
    for address, zone in (("10.9.4.4", "ethernet1/3"), ("10.20.0.25", "ethernet1/3.20")):
        text = ZONED.replace("translated-address 10.0.0.25", f"translated-address {address}")
        v = verdict(tmp_path, text, "routed.set")
        assert v.permitted == EOP4, address  # now the "to dmz" rule is the one that matches
        assert any(f"post-NAT zone dmz (interface {zone}" in n for n in v.notes), address


def test_unknown_post_nat_zone_keeps_every_to_zone_with_a_note(tmp_path):
    v = verdict(tmp_path, ZONED.replace("translated-address 10.0.0.25",
                                        "translated-address 192.0.2.99"), "unrouted.set")
    assert v.permitted == EOP4  # "to dmz" taken to match: the answer says it is a guess
    assert any("to-zones were taken to match" in n for n in v.notes)


def test_intrazone_default_allows(tmp_path):
    text = """\
set zone untrust network layer3 ethernet1/1
set network interface ethernet ethernet1/1 layer3 ip 203.0.113.1/24
set rulebase security rules "web" from untrust to untrust source any destination any application any service service-https action allow
"""
    v = verdict(tmp_path, text, "flat.set")
    assert v.permitted == EOP4
    assert v.decisions[-1].default == "intrazone-default allow after the last rule"
