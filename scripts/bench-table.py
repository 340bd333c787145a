#!/usr/bin/env python3
"""Markdown table comparing rzk with ZooKeeper from `rzk bench --json` results.

    bench-table.py DIR DURATION WARMUP SERVER_ARG LABEL|ARGS ...

DIR holds rzk-LABEL.json and zk-LABEL.json for every row; SERVER_ARG is how the commands name
the server (e.g. `127.0.0.1:PORT`). GEN_CPU (env) is the generator's CPU for the command note.
Used by scripts/bench-vs-zk and scripts/bench-ensemble.
"""
import json
import os
import sys

d, dur, warm, server, rows = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]


def load(name, label):
    try:
        return json.load(open(f"{d}/{name}-{label}.json"))
    except Exception:
        return {"failed": True}


def ms(us):
    return f"{us/1000:.2f}"


def errors(s):
    return ", ".join(f"{k}={v}" for k, v in s["errors"].items()) or "0"


print("| workload | rzk ops/s | ZK ops/s | rzk / ZK | rzk p50 ms | ZK p50 ms | rzk p99 ms | ZK p99 ms | rzk p99.9 ms | ZK p99.9 ms | errors (rzk / ZK) |")
print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
for row in rows:
    label, args = row.split("|", 1)
    r, z = load("rzk", label), load("zk", label)
    if r.get("failed") or z.get("failed"):
        rs = "failed" if r.get("failed") else round(r["ops_per_sec"])
        zs = "failed" if z.get("failed") else round(z["ops_per_sec"])
        print(f"| {label} | {rs} | {zs} | | | | | | | | |")
        continue
    ratio = r["ops_per_sec"] / z["ops_per_sec"] if z["ops_per_sec"] else float("nan")
    lr, lz = r["latency_us"], z["latency_us"]
    print(f"| {label} | {r['ops_per_sec']:,.0f} | {z['ops_per_sec']:,.0f} | {ratio:.2f}x | {ms(lr['p50'])} | {ms(lz['p50'])} | {ms(lr['p99'])} | {ms(lz['p99'])} | {ms(lr['p99.9'])} | {ms(lz['p99.9'])} | {errors(r)} / {errors(z)} |")
print()
gen = os.environ.get("GEN_CPU", "1")
print(f"Commands (each with `--server {server} --duration {dur} --warmup {warm} --json --quiet`, under `taskset -c {gen}`):")
print()
for row in rows:
    label, args = row.split("|", 1)
    print(f"- {label}: `rzk bench {args}`")
