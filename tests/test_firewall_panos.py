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
