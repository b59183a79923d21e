"""pfSense config.xml (SYNTHETIC): port forward, aliases, floating and interface rules."""

from __future__ import annotations

import ipaddress

from mailflow_doctor.evidence.firewall import panos, pfsense
from mailflow_doctor.knowledge.endpoints import snapshot

EOP4 = snapshot("worldwide").eop_prefixes.family(4)
DST = ipaddress.ip_address("203.0.113.25")

CONFIG = """\
<?xml version="1.0"?>
<pfsense>
  <version>23.3</version>
  <aliases>
    <alias><name>EOP_A</name><type>network</type><address>40.92.0.0/15 40.107.0.0/16</address></alias>
    <alias><name>EOP_ALL</name><type>network</type><address>EOP_A 104.47.0.0/18</address></alias>
    <alias><name>EOP_URL</name><type>urltable</type><url>https://example.invalid/list</url></alias>
  </aliases>
  <nat>
    <rule><protocol>tcp</protocol><interface>wan</interface><target>10.0.0.25</target><local-port>25</local-port>
      <source><any/></source><destination><address>203.0.113.25</address><port>25</port></destination></rule>
  </nat>
  <filter>
    <rule><tracker>100</tracker><type>block</type><interface>wan</interface><floating>yes</floating><quick/>
      <protocol>tcp</protocol><source><address>104.47.32.0/20</address></source><destination><any/></destination><descr>bad neighbours</descr></rule>
    <rule><tracker>200</tracker><type>pass</type><interface>wan</interface><protocol>tcp</protocol>
      <source><address>EOP_ALL</address></source><destination><address>10.0.0.25</address><port>25</port></destination><descr>EOP to Exchange</descr></rule>
    <rule><tracker>300</tracker><type>pass</type><interface>wan</interface><protocol>tcp</protocol><disabled/>
      <source><any/></source><destination><address>10.0.0.25</address><port>25</port></destination></rule>
    <rule><tracker>400</tracker><type>pass</type><interface>wan</interface><protocol>tcp</protocol>
      <source><address>EOP_URL</address></source><destination><address>10.0.0.25</address><port>25</port></destination></rule>
  </filter>
</pfsense>
"""


def test_port_forward_aliases_and_floating_rules(tmp_path):
    path = tmp_path / "config.xml"
    path.write_text(CONFIG)
    parsed = pfsense.parse(path)
    assert parsed.records and not parsed.problems
    v = parsed.records[0].evaluate(EOP4, DST, 25)
    assert v.inside_destination == "10.0.0.25:25"
    assert v.permitted.cidrs() == ["40.92.0.0/15", "40.107.0.0/16", "104.47.0.0/19",
                                   "104.47.48.0/20"]
    block = next(d for d in v.decisions if d.action == "deny" and d.rule)
    assert block.prefixes.cidrs() == ["104.47.32.0/20"]
    assert block.rule.location.line == CONFIG.splitlines().index(
        "    <rule><tracker>100</tracker><type>block</type><interface>wan</interface>"
        "<floating>yes</floating><quick/>") + 1
    # The URL table alias is unknown here: the rest is undecided, not denied.
    assert v.prefixes("indeterminate").cidrs() == ["52.100.0.0/14", "104.47.64.0/18"]


def test_sniff():
    assert pfsense.sniff(CONFIG) and not panos.sniff(CONFIG)
