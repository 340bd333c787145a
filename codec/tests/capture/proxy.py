#!/usr/bin/env python3
"""Capture proxy for the golden vectors (python3 stdlib only).

Listens on 127.0.0.1:<port>, forwards every connection to a real ZooKeeper, splits each
direction into 4-byte-length-prefixed frames and appends one line per frame to the log:

    <conn> <seq> c2s|s2c <hex of the whole frame, length prefix included>

Lines starting with '#' are remarks (connection opened/closed, drops). Bytes that do not
complete a frame when a direction closes are logged as `<conn> <seq> c2s-partial <hex>`.

Control files (polled every 50 ms, all bounded by --max-seconds):
  --drop-file F  when F appears, every open connection is closed on both sides (the client
                 then reconnects and resumes its session), and F is removed.
  --stop-file F  when F appears, the proxy exits.

Usage: proxy.py --upstream 127.0.0.1:2181 --log frames.log --port-file p [--listen-port 0]
"""

import argparse
import os
import socket
import threading
import time

LOCK = threading.Lock()


class Conn:
    def __init__(self, cid, client, upstream, log):
        self.cid = cid
        self.client = client
        self.upstream = upstream
        self.log = log
        self.seq = 0
        self.closed = threading.Event()

    def write(self, direction, frame):
        with LOCK:
            self.seq += 1
            self.log.write(f"{self.cid} {self.seq} {direction} {frame.hex()}\n")
            self.log.flush()

    def close(self):
        if self.closed.is_set():
            return
        self.closed.set()
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def pump(self, src, dst, direction, deadline):
        buf = b""
        src.settimeout(0.2)
        try:
            while not self.closed.is_set() and time.monotonic() < deadline:
                try:
                    data = src.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                buf += data
                # Log every whole frame before forwarding anything, so that the log order
                # matches what the other side can have seen.
                while len(buf) >= 4:
                    n = int.from_bytes(buf[:4], "big", signed=True)
                    if n < 0 or len(buf) < 4 + n:
                        break
                    self.write(direction, buf[: 4 + n])
                    buf = buf[4 + n:]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if buf:
                self.write(direction + "-partial", buf)
            self.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="host:port of the real ZooKeeper")
    ap.add_argument("--log", required=True)
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--port-file", help="write the listening port here once bound")
    ap.add_argument("--drop-file")
    ap.add_argument("--stop-file")
    ap.add_argument("--max-seconds", type=float, default=300.0)
    args = ap.parse_args()

    host, port = args.upstream.rsplit(":", 1)
    deadline = time.monotonic() + args.max_seconds
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.listen_port))
    lsock.listen(16)
    lsock.settimeout(0.05)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{lsock.getsockname()[1]}\n")
        os.rename(tmp, args.port_file)

    conns = []
    cid = 0
    with open(args.log, "a", encoding="ascii") as log:
        while time.monotonic() < deadline:
            if args.stop_file and os.path.exists(args.stop_file):
                break
            if args.drop_file and os.path.exists(args.drop_file):
                with LOCK:
                    log.write("# drop: closing all open connections\n")
                    log.flush()
                for c in conns:
                    c.close()
                os.remove(args.drop_file)
            try:
                client, _ = lsock.accept()
            except socket.timeout:
                continue
            cid += 1
            try:
                upstream = socket.create_connection((host, int(port)), timeout=5)
            except OSError as e:
                with LOCK:
                    log.write(f"# conn {cid}: upstream connect failed: {e}\n")
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = Conn(cid, client, upstream, log)
            with LOCK:
                log.write(f"# conn {cid} open\n")
                log.flush()
            conns = [x for x in conns if not x.closed.is_set()] + [c]
            for src, dst, d in ((client, upstream, "c2s"), (upstream, client, "s2c")):
                threading.Thread(target=c.pump, args=(src, dst, d, deadline), daemon=True).start()
        for c in conns:
            c.close()
    lsock.close()


if __name__ == "__main__":
    main()
