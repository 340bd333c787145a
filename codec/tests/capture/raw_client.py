#!/usr/bin/env python3
"""Hand-built client frames for the golden vectors the Java client never sends.

Talks to real ZooKeeper through the capture proxy. The requests here are built by hand (so
their bytes are ours); the replies are real ZooKeeper's. Like GoldenDriver, each step first
sends exists("/__step__/<name>") so that extract.py can name the frames.

  1. handshake WITHOUT the readOnly byte (44-byte ConnectRequest): the 36-byte reply has none;
     then ping (11, xid -2), setWatches2 (105, xid -8) with every list filled, closeSession.
  2. handshake with the readOnly byte for an unknown session id: the reply has timeout 0 and
     session id 0 (session expired) and the server closes.
  3. auth (100) with an unknown scheme: AuthFailed (-115), then the server closes.

Usage: raw_client.py HOST:PORT STEPS_FILE
"""

import socket
import struct
import sys

TIMEOUT = 10.0


def ustring(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def vector(items):
    return struct.pack(">i", len(items)) + b"".join(ustring(s) for s in items)


def frame(body):
    return struct.pack(">i", len(body)) + body


def connect_request(session_id=0, passwd=b"\0" * 16, read_only=None):
    body = struct.pack(">iqiq", 0, 0, 30000, session_id) + struct.pack(">i", len(passwd)) + passwd
    if read_only is not None:
        body += bytes([1 if read_only else 0])
    return frame(body)


def request(xid, op, body=b""):
    return frame(struct.pack(">ii", xid, op) + body)


class Client:
    def __init__(self, addr, steps):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        self.buf = b""
        self.xid = 0
        self.steps = steps

    def read_frame(self):
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">i", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    f, self.buf = self.buf[4: 4 + n], self.buf[4 + n:]
                    return f
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def reply(self, xid):
        """Reads frames until the reply with this xid (skipping notifications)."""
        while True:
            f = self.read_frame()
            if f is None:
                return None
            rxid, _zxid, err = struct.unpack(">iqi", f[:16])
            if rxid == xid:
                return err

    def call(self, op, body=b"", xid=None):
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.sock.sendall(request(xid, op, body))
        return self.reply(xid)

    def step(self, name, description):
        self.steps.write(f"{name}\t{description}\n")
        self.steps.flush()
        self.call(3, ustring("/__step__/" + name) + b"\0")

    def close(self):
        self.sock.close()


def main():
    addr, steps_path = sys.argv[1], sys.argv[2]
    with open(steps_path, "a") as steps:
        # 1. No readOnly byte.
        c = Client(addr, steps)
        c.sock.sendall(connect_request(read_only=None))
        resp = c.read_frame()
        assert resp is not None and len(resp) == 36, resp
        c.step("raw-ping", "ping (11, xid -2), hand-built, on a session without readOnly byte")
        c.call(11, xid=-2)
        c.step("raw-setWatches2",
               "setWatches2 (105, xid -8), hand-built, every list non-empty, relativeZxid 1")
        body = struct.pack(">q", 1)
        body += vector(["/golden"]) + vector(["/golden/nope"]) + vector(["/golden"])
        body += vector(["/golden/pw"]) + vector(["/golden/tree", "/other"])
        err = c.call(105, body, xid=-8)
        assert err == 0, err
        c.step("raw-closeSession", "closeSession (-11), hand-built")
        c.call(-11)
        c.close()

        # 2. Resume of a session that does not exist: expired.
        c = Client(addr, steps)
        c.sock.sendall(connect_request(session_id=0x1234, passwd=b"\x01" * 16, read_only=False))
        resp = c.read_frame()
        assert resp is not None and len(resp) == 37, resp
        c.close()

        # 3. Unknown auth scheme.
        c = Client(addr, steps)
        c.sock.sendall(connect_request(read_only=False))
        resp = c.read_frame()
        assert resp is not None, resp
        c.step("raw-auth-failed", "auth (100, xid -4) with unknown scheme: AuthFailed (-115)")
        err = c.call(100, struct.pack(">i", 0) + ustring("nosuchscheme") + ustring("x"), xid=-4)
        assert err == -115, err
        c.close()
    print("raw client done")


if __name__ == "__main__":
    main()
