#!/usr/bin/env python3
"""Turns a proxy.py frame log into golden vector files (python3 stdlib only).

Usage: extract.py FRAMES_LOG STEPS_FILE OUT_DIR

Naming: each connection's first frames are the handshake, named by their shape
(connect-new-ro0, connect-new-noro, connect-resume-ro0, connect-expired-ro0, ...). After that,
a request exists("/__step__/NAME") sets the label for the requests that follow on that
connection (markers and their replies are dropped); a request gets the file NAME-request.vec,
its reply NAME-reply.vec (NAME-2-... for a second request in the same step), a notification
NAME-event.vec. Requests before any marker, and pings, are named after their op; of those only
the first of each name is kept. Descriptions come from the steps file (NAME<TAB>description).

Each file: '#' comment lines, a `kind:` line, then the whole frame (length prefix included)
in hex, 32 bytes per line. Kinds: connect_request, connect_response, request,
reply:<op name>, event.
"""

import glob
import os
import struct
import sys

OPS = {
    1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData", 6: "getACL",
    7: "setACL", 8: "getChildren", 9: "sync", 11: "ping", 12: "getChildren2", 13: "check",
    14: "multi", 15: "create2", 16: "reconfig", 17: "checkWatches", 18: "removeWatches",
    19: "createContainer", 20: "deleteContainer", 21: "createTTL", 22: "multiRead",
    100: "auth", 101: "setWatches", 102: "sasl", 103: "getEphemerals",
    104: "getAllChildrenNumber", 105: "setWatches2", 106: "addWatch", 107: "whoAmI",
    -10: "createSession", -11: "closeSession",
}
EVENTS = {-1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged",
          4: "NodeChildrenChanged", 5: "DataWatchRemoved", 6: "ChildWatchRemoved",
          7: "PersistentWatchRemoved"}
MARKER = "/__step__/"
ORIGIN = ("Captured from real ZooKeeper 3.8.0 through codec/tests/capture/proxy.py;\n"
          "# regenerate with codec/tests/capture/capture.sh.")
JAVA = "Request bytes: the ZooKeeper 3.8.0 Java client (GoldenDriver.java)."
RAW = ("Request bytes: hand-built by raw_client.py (ours); reply bytes: real ZooKeeper's.")


def parse_connect(payload, is_request):
    """Returns (session_id, timeout, readOnly byte or None)."""
    if is_request:
        _pv, _zxid, timeout, sid, plen = struct.unpack(">iqiqi", payload[:28])
        rest = payload[28 + max(plen, 0):]
    else:
        _pv, timeout, sid, plen = struct.unpack(">iiqi", payload[:20])
        rest = payload[20 + max(plen, 0):]
    return sid, timeout, (rest[0] if rest else None)


def ustring(buf, off):
    n = struct.unpack(">i", buf[off: off + 4])[0]
    if n < 0:
        return None, off + 4
    return buf[off + 4: off + 4 + n].decode("utf-8", "replace"), off + 4 + n


class Out:
    def __init__(self, out_dir, descriptions):
        self.out_dir = out_dir
        self.desc = descriptions
        self.written = set()

    def has(self, name):
        return name in self.written

    def write(self, name, kind, frame, comment, source):
        if name in self.written:
            return
        self.written.add(name)
        hexs = frame.hex()
        lines = [f"# {name}: {comment}", f"# {source}", f"# {ORIGIN}",
                 "# Whole frame, 4-byte length prefix included.", f"kind: {kind}"]
        lines += [hexs[i: i + 64] for i in range(0, len(hexs), 64)]
        with open(os.path.join(self.out_dir, name + ".vec"), "w", encoding="ascii") as f:
            f.write("\n".join(lines) + "\n")


class Conn:
    def __init__(self):
        self.connect_req = None  # frame, until the response names the pair
        self.handshake_done = False
        self.label = None
        self.label_count = {}
        self.xids = {}  # xid -> (op, base name or None to skip)
        self.markers = set()


def source_of(base):
    return RAW if base.startswith("raw-") else JAVA


def main():
    log_path, steps_path, out_dir = sys.argv[1:4]
    descriptions = {}
    with open(steps_path, encoding="utf-8") as f:
        for line in f:
            if "\t" in line:
                k, v = line.rstrip("\n").split("\t", 1)
                descriptions[k] = v
    os.makedirs(out_dir, exist_ok=True)
    for old in glob.glob(os.path.join(out_dir, "*.vec")):
        os.remove(old)
    out = Out(out_dir, descriptions)
    conns = {}

    def describe(base):
        if base in descriptions:
            return descriptions[base]
        stem = base.rsplit("-", 1)[0] if base[-1].isdigit() else base
        if stem in descriptions:
            return descriptions[stem] + " (further request of the step)"
        return f"{base}, sent by the client on its own (no step marker)"

    with open(log_path, encoding="ascii") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cid, _seq, direction, hexs = line.split()
            if direction.endswith("-partial"):
                print(f"warning: conn {cid}: partial {direction} frame ignored", file=sys.stderr)
                continue
            frame = bytes.fromhex(hexs)
            payload = frame[4:]
            c = conns.setdefault(cid, Conn())

            if direction == "c2s" and c.connect_req is None and not c.handshake_done:
                c.connect_req = frame
                continue
            if direction == "s2c" and not c.handshake_done:
                c.handshake_done = True
                sid, _t, ro = parse_connect(c.connect_req[4:], True)
                _rsid, rtimeout, rro = parse_connect(payload, False)
                ro_tag = "noro" if ro is None else f"ro{ro}"
                if rtimeout == 0:
                    base, what = f"connect-expired-{ro_tag}", "resume of an unknown session"
                elif sid == 0:
                    base, what = f"connect-new-{ro_tag}", "new session"
                else:
                    base, what = f"connect-resume-{ro_tag}", "resume of a live session after a drop"
                byte = "no readOnly byte" if ro is None else f"readOnly byte {ro}"
                src = RAW if ro is None or rtimeout == 0 else JAVA
                out.write(base + "-request", "connect_request", c.connect_req,
                          f"ConnectRequest, {what}, {byte} ({len(c.connect_req) - 4} bytes)", src)
                rbyte = "no readOnly byte" if rro is None else f"readOnly byte {rro}"
                out.write(base + "-reply", "connect_response", frame,
                          f"ConnectResponse to {base}-request: {rbyte}, timeout {rtimeout} "
                          f"({len(payload)} bytes)", src)
                continue

            if direction == "c2s":
                xid, op = struct.unpack(">ii", payload[:8])
                if op == 3:
                    path, _ = ustring(payload, 8)
                    if path and path.startswith(MARKER):
                        c.label = path[len(MARKER):]
                        c.markers.add(xid)
                        continue
                label = c.label
                if op == 11 and label is not None and "ping" not in label:
                    label = None
                if label is None:
                    base = OPS.get(op, f"op{op}")
                    if out.has(base + "-request"):
                        c.xids[xid] = (op, None)
                        continue
                else:
                    n = c.label_count.get(label, 0) + 1
                    c.label_count[label] = n
                    base = label if n == 1 else f"{label}-{n}"
                c.xids[xid] = (op, base)
                out.write(base + "-request", "request", frame,
                          f"{describe(base)} [xid {xid}, op {op} {OPS.get(op, '?')}]",
                          source_of(base))
                continue

            # s2c after the handshake
            xid, zxid, err = struct.unpack(">iqi", payload[:16])
            if xid == -1:
                etype, state = struct.unpack(">ii", payload[16:24])
                path, _ = ustring(payload, 24)
                ename = EVENTS.get(etype, str(etype))
                base = f"{c.label}-event" if c.label else f"event-{ename}"
                n = 2
                while c.label and out.has(base):
                    base = f"{c.label}-event-{n}"
                    n += 1
                out.write(base, "event", frame,
                          f"watch notification (xid -1) {ename} state {state} path {path}, "
                          f"during step {c.label}", "Notification bytes: real ZooKeeper's.")
                continue
            if xid in c.markers:
                c.markers.discard(xid)
                continue
            if xid not in c.xids:
                print(f"warning: conn {cid}: reply to unknown xid {xid}", file=sys.stderr)
                continue
            op, base = c.xids.pop(xid)
            if base is None:
                continue
            opname = OPS.get(op, f"op{op}")
            out.write(base + "-reply", f"reply:{opname}", frame,
                      f"reply to {base}-request [xid {xid}, zxid {zxid:#x}, err {err}]",
                      "Reply bytes: real ZooKeeper's.")
    for name in sorted(out.written):
        print(name)
    print(f"{len(out.written)} vectors written to {out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
