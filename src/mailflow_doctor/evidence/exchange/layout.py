"""Which Exchange server and transport role a log file came from, told by the folders it sits in.

Send logs do not name their server (their connector id is the send connector's name alone),
and a case holds the logs of several servers, so the folder layout is the only witness. Exchange
writes its transport logs under (formats.md §1.1)

    <install>\\TransportRoles\\Logs\\<Role>\\ProtocolLog\\SmtpReceive|SmtpSend[\\Delivery|...]
    <install>\\TransportRoles\\Logs\\ProtocolLog\\...   (Exchange 2010 Hub and Edge: no role folder)
    <install>\\TransportRoles\\Logs\\MessageTracking

and admins copy them per server: `case/EX01/TransportRoles/...`, `case/EX01/FrontEnd/SmtpReceive/`,
`case/EX01/ProtocolLog/...`, `EX01.zip`, or read them from `\\\\EX01\\c$\\Program Files\\...`.
The server is the first folder above the log folders that is not part of the install path; an
archive stands for the folder it was made of (`EX01.zip` → `EX01`, as Windows names a zip).
"""

from __future__ import annotations

import ipaddress
import ntpath
import re
from pathlib import PurePath
from typing import NamedTuple

ROLES = {"frontend": "FrontEnd", "hub": "Hub", "mailbox": "Mailbox", "edge": "Edge"}
# A folder of the layout counts only with the folder Exchange puts below it, so that a user or
# case folder that happens to be called `edge` or `logs` says nothing.
_ANCHORS = {
    "transportroles": {"logs"},
    "protocollog": {"smtpreceive", "smtpsend"},
    **{role: {"protocollog", "smtpreceive", "smtpsend"} for role in ROLES},
}
_LAYOUT = {"logs", "transportroles", "protocollog", "messagetracking", *ROLES}
_INSTALL = re.compile(r"v\d+|exchange( ?server)?|microsoft|program files( \(x86\))?|[a-z][:$]?",
                      re.I)
_ARCHIVE = re.compile(r"\.(zip|tgz|tar|tar\.gz)$", re.I)
_HOST = re.compile(r"[a-z0-9][a-z0-9-]{0,62}", re.I)  # a DNS label / NetBIOS computer name


class Origin(NamedTuple):
    server: str | None  # None: nothing in the path says
    role: str | None  # FrontEnd, Hub (the Transport service), Mailbox, Edge; None: not said


def origin(path: str | PurePath) -> Origin:
    """The server and role of the log at `path` (Windows or POSIX separators, UNC paths)."""
    host, folders = _split(str(path))
    names = [_ARCHIVE.sub("", name) for name in folders]
    lower = [name.lower() for name in names]
    below = [*lower[1:], ""]
    anchor = next((i for i in range(len(lower) - 1, -1, -1)
                   if below[i] in _ANCHORS.get(lower[i], ())
                   or lower[i] == "messagetracking"), None)
    if anchor is None:
        return Origin(None, None)
    role = None
    for i in range(anchor, -1, -1):
        if lower[i] in ROLES:
            role = role or ROLES[lower[i]]
        elif not (lower[i] in _LAYOUT or _INSTALL.fullmatch(names[i])):
            return Origin(_server_name(names[i]), role)
    return Origin(_server_name(host) if host else None, role)


def _split(text: str) -> tuple[str | None, list[str]]:
    """(UNC host or None, the folder names above the file, top first)."""
    text = text.replace("/", "\\")
    if text.lower().startswith("\\\\?\\unc\\"):
        text = "\\" + text[7:]
    elif text.startswith("\\\\?\\"):
        text = text[4:]
    host = None
    if text.startswith("\\\\"):
        drive, text = ntpath.splitdrive(text)
        host, _, share = drive[2:].partition("\\")
        text = share + text
    folders = [part for part in text.split("\\") if part not in ("", ".")][:-1]
    return host or None, folders


def _server_name(name: str) -> str | None:
    """A folder or host name as Exchange names servers: `ex01.contoso.local` → `ex01`."""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        label = name.split(".", 1)[0]
        return label if _HOST.fullmatch(label) else None
