#!/usr/bin/env python3
"""Normalises a client transcript so that a real ZooKeeper's and rzk's can be diffed.

    normalise.py zkcli|cclient NOISE_FILE < raw > normalised

Only what must differ between two fresh servers is rewritten:
  - zxids (zkCli `cZxid = 0x..`/`mZxid`/`pZxid`, cli_mt `czxid=..`/`mzxid=..`): signed offsets from the
    first non-zero zxid seen in the transcript, `+N`/`-N` (decimal); 0 stays `0x0`/`0`. rzk's zxids
    carry epoch 1 in their high word, ZooKeeper's epoch 0; offsets compare the sequence.
  - ctime/mtime: `<time>`, except the epoch (1970) which both must print for /, /zookeeper...
  - session ids (`ephemeralOwner`, cli_mt's `Got a new session id`): `<session-N>` in order of
    first appearance. TTL (0xff..) and container (0x8000000000000000) owners are kept as is.
  - the server address in `Connecting to HOST:PORT`; cli_mt's `time = N msec` timings.
  - the ports in an ensemble's `server.N=host:quorum:election:role[;host:client]` config lines:
    `<port-K>` in order of first appearance (two ensembles list their members in the same order,
    so the structure is still compared).
  - log noise (SLF4J's binder warnings) is moved to NOISE_FILE.
  - zkCli only: its watcher thread prints `WATCHER::` / `WatchedEvent ...` while the main thread
    prints command results, so where an event lands among the results is a race between two
    client threads, not server behaviour. Those lines (each with the blank line zkCli prints
    before it in the same write) are taken out of the
    flow and listed, in the order printed, after it; the events and their order are still
    compared, and so are the results and theirs. A result line the watcher's output cut in two
    (the threads' writes interleave at buffer boundaries) is put back together first. The
    Closed event of the session `quit` closes is dropped when it is the last one: `quit` closes
    and exits the JVM at once, and whether the watcher thread prints that event first is a race
    in the client (seen both ways against rzk; the mid-script `close` keeps its Closed event).
Everything else (errors, data, versions, child lists in the order printed, ACLs, watch events,
sequential suffixes) is kept verbatim.
"""
import re
import sys

mode, noise_path = sys.argv[1], sys.argv[2]
base = None
sessions = {}
ports = {}
events = []


def port(value):
    if value not in ports:
        ports[value] = "<port-%d>" % (len(ports) + 1)
    return ports[value]


def zxid(value, hexa=True):
    global base
    z = int(value, 16) if hexa else int(value)
    if z == 0:
        return None
    if base is None:
        base = z
    return "%+d" % (z - base)


def session(value):
    v = int(value, 16)
    if v == 0:
        return None
    if (v >> 56) == 0xFF or v == 0x8000000000000000:
        return None  # TTL / container marker, deterministic
    if v not in sessions:
        sessions[v] = "<session-%d>" % (len(sessions) + 1)
    return sessions[v]


def is_event(line):
    return line == "WATCHER::" or line.startswith("WatchedEvent ")


def rejoin(lines):
    """zkCli only: puts back together a result line that the watcher thread's output cut in two.

    The watcher writes "\nWATCHER::\n" and "\nWatchedEvent ...\n"; when that lands in the middle
    of a line the main thread is writing (the two threads' writes interleave at buffer
    boundaries), its leading newline ends the first part of the line early, and the rest of the
    line follows the event. Seen as a WATCHER:: line not preceded by a blank line; the event
    lines then go before the whole line, as they would had they come just before it.
    """
    fixed = []
    cut = None  # the first part of a line cut by an event, waiting for its rest
    after_event = False
    for line in lines:
        if line == "WATCHER::" and fixed and fixed[-1] != "" and not is_event(fixed[-1]):
            cut = fixed.pop()
            fixed.append("")
        if is_event(line):
            fixed.append(line)
            after_event = line.startswith("WatchedEvent ")
            continue
        if cut is not None and after_event:
            line, cut = cut + line, None
        after_event = False
        fixed.append(line)
    if cut is not None:
        fixed.append(cut)
    return fixed


out = []
noise = []
EPOCH = ("1970",)
raw = sys.stdin.read().splitlines()
for line in rejoin(raw) if mode == "zkcli" else raw:
    if line.startswith("SLF4J:"):
        noise.append(line)
        continue
    m = re.match(r"^Connecting to (\S+)$", line)
    if m:
        out.append("Connecting to <server>")
        continue
    m = re.match(r"^(server\.\d+=[^:;]+):(\d+):(\d+)(:\w+)(;.*:)?(\d+)?$", line)
    if m:
        quorum, election = port(m.group(2)), port(m.group(3))
        client = (m.group(5) + port(m.group(6))) if m.group(5) and m.group(6) else ""
        out.append("%s:%s:%s%s%s" % (m.group(1), quorum, election, m.group(4), client))
        continue
    if mode == "zkcli":
        if line == "WATCHER::" or line.startswith("WatchedEvent "):
            # printed as one "\n" + text write each, so the blank line just before is theirs
            if out and out[-1] == "":
                out.pop()
            if line != "WATCHER::":
                events.append(line)
            continue
        m = re.match(r"^(cZxid|mZxid|pZxid) = 0x([0-9a-fA-F]+)$", line)
        if m:
            n = zxid(m.group(2))
            out.append("%s = %s" % (m.group(1), n if n else "0x0"))
            continue
        m = re.match(r"^(ctime|mtime) = (.*)$", line)
        if m:
            out.append(line if m.group(2).endswith(EPOCH) else "%s = <time>" % m.group(1))
            continue
        m = re.match(r"^ephemeralOwner = 0x([0-9a-fA-F]+)$", line)
        if m:
            s = session(m.group(1))
            out.append("ephemeralOwner = %s" % s if s else line)
            continue
    else:  # cclient (cli_mt)
        m = re.match(r"^(\s*)(czxid|mzxid)=([0-9a-fA-F]+)$", line)
        if m:
            n = zxid(m.group(3))
            out.append("%s%s=%s" % (m.group(1), m.group(2), n if n else "0"))
            continue
        m = re.match(r"^(\s*)(ctime|mtime)( = |=)(.*)$", line)
        if m:
            t = m.group(4)
            out.append(line if t.endswith(EPOCH) else "%s%s%s<time>" % (m.group(1), m.group(2), m.group(3)))
            continue
        m = re.match(r"^(\s*)ephemeralOwner = ([0-9a-fA-F]+)$", line)
        if m:
            s = session(m.group(2))
            out.append("%sephemeralOwner = %s" % (m.group(1), s) if s else line)
            continue
        m = re.match(r"^Got a new session id: 0x([0-9a-fA-F]+)$", line)
        if m:
            out.append("Got a new session id: %s" % session(m.group(1)))
            continue
        m = re.match(r"^time = \d+ msec$", line)
        if m:
            out.append("time = <N> msec")
            continue
    out.append(line)

if mode == "zkcli":
    if events and events[-1] == "WatchedEvent state:Closed type:None path:null":
        events.pop()
    out.append("--- watch events, in the order the client printed them ---")
    out.extend(events)

with open(noise_path, "a") as f:
    f.write("".join(l + "\n" for l in noise))
sys.stdout.write("".join(l + "\n" for l in out))
