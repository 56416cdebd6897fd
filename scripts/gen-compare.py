#!/usr/bin/env python3
"""Compares what `rfab gen --json` says it sent with what `rfab collect --json` counted (its last metrics
line): per flow packets, bytes, opcode classes, ECN-CE, CNPs, NAKs and PSN holes (gen's skipped PSNs), and
that every hole is lost or still outstanding. Exit 0 when all match exactly, 1 (listing every difference)
otherwise, 2 on unreadable input.

usage: gen-compare.py GEN.json COLLECT.jsonl [--dir rx|tx]"""
import json
import sys


def last_metrics(path):
    last = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{") and '"metrics"' in line:
                last = json.loads(line)
    if last is None:
        raise ValueError(f"{path}: no metrics line")
    return last["metrics"]


def per_flow(metrics, name, direction, extra=None):
    out = {}
    for s in metrics.get(name, []):
        l = s["labels"]
        if l.get("dir") != direction:
            continue
        key = (l["src"], l["dst"], int(l["qp"]))
        if extra:
            out.setdefault(key, {})[l[extra]] = int(s["value"])
        else:
            out[key] = int(s["value"])
    return out


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    direction = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--dir" else "rx"
    try:
        gen = None
        with open(sys.argv[1]) as f:
            for line in f:
                if line.startswith("{"):
                    gen = json.loads(line)
        if gen is None:
            raise ValueError(f"{sys.argv[1]}: no JSON object")
        m = last_metrics(sys.argv[2])
    except (OSError, ValueError) as e:
        print(f"gen-compare: {e}", file=sys.stderr)
        return 2
    col = {name: per_flow(m, name, direction) for name in
           ["rfab_roce_packets_total", "rfab_roce_bytes_total", "rfab_roce_ecn_ce_total", "rfab_roce_cnp_total",
            "rfab_roce_psn_holes_total", "rfab_roce_psn_gaps_total", "rfab_roce_lost_packets_total",
            "rfab_roce_psn_outstanding"]}
    classes = per_flow(m, "rfab_roce_opcode_packets_total", direction, "class")
    naks = per_flow(m, "rfab_roce_nak_total", direction, "syndrome")
    bad = []
    seen = set()
    for fl in gen["flows"]:
        key = (fl["src"], fl["dst"], fl["qp"])
        seen.add(key)
        want = {"rfab_roce_packets_total": fl["packets"], "rfab_roce_bytes_total": fl["bytes"],
                "rfab_roce_ecn_ce_total": fl["ecn_ce"], "rfab_roce_cnp_total": fl["cnps"],
                "rfab_roce_psn_holes_total": fl["psn_skipped"], "rfab_roce_psn_gaps_total": fl["psn_gaps"]}
        for name, v in want.items():
            got = col[name].get(key)
            if got != v:
                bad.append(f"{key} {name}: sent {v}, counted {got}")
        if classes.get(key, {}) != fl["classes"]:
            bad.append(f"{key} opcode classes: sent {fl['classes']}, counted {classes.get(key)}")
        got_naks = sum(naks.get(key, {}).values())
        if got_naks != fl["naks"]:
            bad.append(f"{key} NAKs: sent {fl['naks']}, counted {got_naks}")
        settled = col["rfab_roce_lost_packets_total"].get(key, 0) + col["rfab_roce_psn_outstanding"].get(key, 0)
        if settled != fl["psn_skipped"]:
            bad.append(f"{key} lost + outstanding: {settled}, skipped PSNs {fl['psn_skipped']}")
    for key in col["rfab_roce_packets_total"]:
        if key not in seen:
            bad.append(f"{key}: counted {col['rfab_roce_packets_total'][key]} packets of a flow gen never sent")
    total = sum(fl["packets"] for fl in gen["flows"])
    if bad:
        print(f"gen-compare: {len(bad)} differences ({total} packets sent):")
        for b in bad:
            print("  " + b)
        return 1
    print(f"gen-compare: exact: {len(gen['flows'])} flows, {total} packets, "
          f"{sum(fl['psn_skipped'] for fl in gen['flows'])} skipped PSNs, "
          f"{sum(fl['ecn_ce'] for fl in gen['flows'])} CE, {sum(fl['cnps'] for fl in gen['flows'])} CNPs, "
          f"{sum(fl['naks'] for fl in gen['flows'])} NAKs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
