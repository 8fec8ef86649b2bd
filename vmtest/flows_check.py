#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the flow events of the vm_flows_short scenario against what the
guest's flowgen printed (vmtest/flowgen.c).

    flows_check.py FLOWGEN_OUTPUT EVENTS_JSONL VERDICT_JSON

Every connection flowgen made must appear as exactly the flows it is, with
nothing else: a TCP connection is two flows (the client's end, CLIENT ->
SERVER, and the accepted end, SERVER -> CLIENT), a UDP request/reply one
(the client's connected socket), each opened and closed with non-zero
bytes; each listener (TCP LISTEN, UDP without a peer) is opened once with
"listen": true. Prints one line per failed check and exits 1, else prints
a summary and exits 0.
"""
import json
import sys

PROTO = {"tcp": 6, "udp": 17}


def load(gen_path, events_path):
    pid, conns, listens = None, [], []
    for line in open(gen_path):
        w = line.split()
        if w and w[0] == "pid":
            pid = int(w[1])
        elif w and w[0] == "conn":
            conns.append((PROTO[w[1]], int(w[2]), int(w[3]), int(w[4]), w[5:] == ["ms1"]))
        elif w and w[0] == "listen":
            listens.append((PROTO[w[1]], int(w[2]), int(w[3])))
    flows = {}
    for line in open(events_path):
        if '"event":"flow"' not in line:
            continue
        e = json.loads(line)
        key = (e["protocol"], e["family"], e["src_port"], e["dst_port"])
        flows.setdefault(key, []).append(e)
    return pid, conns, listens, flows


def check_flow(errs, flows, key, what, pid=None):
    evs = flows.get(key, [])
    states = [e["state"] for e in evs]
    if states != ["opened", "closed"]:
        errs.append(f"{what} {key}: events {states}, want opened then closed")
        return
    if evs[-1]["bytes"] <= 0 or evs[-1]["packets"] <= 0:
        errs.append(f"{what} {key}: bytes {evs[-1]['bytes']} packets {evs[-1]['packets']}")
    if evs[0]["listen"] or evs[-1]["listen"]:
        errs.append(f"{what} {key}: marked as a listener")
    if pid is not None and evs[-1]["pid"] != pid:
        errs.append(f"{what} {key}: pid {evs[-1]['pid']}, want {pid}")


def main():
    pid, conns, listens, flows = load(sys.argv[1], sys.argv[2])
    verdict = json.load(open(sys.argv[3]))
    errs, want = [], set()
    if not conns or pid is None:
        print("flowgen printed no connections")
        return 1
    for proto, fam, cport, sport, _ in conns:
        want.add((proto, fam, cport, sport))
        check_flow(errs, flows, (proto, fam, cport, sport), "client end", pid)
        if proto == 6:
            want.add((proto, fam, sport, cport))
            check_flow(errs, flows, (proto, fam, sport, cport), "accepted end")
    for proto, fam, port in listens:
        want.add((proto, fam, port, 0))
        evs = flows.get((proto, fam, port, 0), [])
        opened = [e for e in evs if e["state"] == "opened"]
        if len(opened) != 1 or not opened[0]["listen"]:
            errs.append(f"listener {proto}/{fam} port {port}: {len(opened)} opened, want 1 with listen")
    extra = sorted(set(flows) - want)
    if extra:
        errs.append(f"{len(extra)} flows flowgen did not make, e.g. {extra[:3]}")
    if verdict["flows"]["listening"] != len(listens):
        errs.append(f"verdict flows.listening {verdict['flows']['listening']}, want {len(listens)}")
    if verdict["flows"]["unique"] != len(want):
        errs.append(f"verdict flows.unique {verdict['flows']['unique']}, want {len(want)}")
    for e in errs[:20]:
        print(e)
    if errs:
        print(f"{len(errs)} checks failed")
        return 1
    ntcp = sum(1 for c in conns if c[0] == 6)
    print(f"{ntcp} TCP connections ({2 * ntcp} flows), {len(conns) - ntcp} UDP request/replies, "
          f"{len(listens)} listeners: every one seen, nothing else")
    return 0


if __name__ == "__main__":
    sys.exit(main())
