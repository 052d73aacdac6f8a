#!/usr/bin/env python3
"""Parses one load generator's output for scripts/compare.sh, and prints the final table.

parse_client.py PARSER OUT TIMES SCENARIO CLIENT S0 S1 T0 T1 HZ  -> one tab-separated line
parse_client.py table RESULTS                                     -> the Markdown table
"""
import json
import re
import statistics
import sys


def cpu_seconds(times_file):
    # bash `times`: line 1 the shell, line 2 its children ("0m1.234s 0m2.345s").
    line = open(times_file).read().splitlines()[1]
    return sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", line))


def to_us(value, unit):
    return float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def parse(parser, text):
    """Returns (requests, req/s, p99 µs or None)."""
    if parser == "clobber":
        r = json.loads(text)
        latency = r["latency_us"]  # null when no response completed
        return r["requests"], r["rps"], latency["p99"] if latency else None
    if parser == "wrk":
        n = int(re.search(r"(\d+) requests in", text).group(1))
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
        m = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
        return n, rps, to_us(*m.groups()) if m else None
    if parser == "h2load":
        n = int(re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", text).group(1))
        rps = float(re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", text).group(1))
        return n, rps, None
    if parser == "ab":
        n = int(re.search(r"Complete requests:\s+(\d+)", text).group(1))
        failed = int(re.search(r"Failed requests:\s+(\d+)", text).group(1))
        rps = float(re.search(r"Requests per second:\s+([\d.]+)", text).group(1))
        m = re.search(r"^\s+99%\s+(\d+)", text, re.M)
        return n - failed, rps, float(m.group(1)) * 1e3 if m else None
    if parser == "oha":
        r = json.loads(text)
        s = r["summary"]
        n = sum(r.get("statusCodeDistribution", {}).values())
        p99 = r["latencyPercentiles"]["p99"]
        return n, s["requestsPerSec"], p99 * 1e6 if p99 is not None else None
    if parser.startswith("redis-benchmark:"):
        # `--csv`: a header, then "GET","rps","avg","min","p50","p95","p99","max" (ms). It
        # stops on a count (-n), given here after the colon.
        n = int(parser.split(":")[1])
        fields = [f.strip('"') for f in text.strip().splitlines()[-1].split(",")]
        return n, float(fields[1]), float(fields[6]) * 1e3
    raise SystemExit(f"unknown parser {parser}")


def line(args):
    parser, out, times, scenario, client, s0, s1, t0, t1, hz = args
    n, rps, p99 = parse(parser, open(out).read())
    cpu = cpu_seconds(times)
    server_s = (int(s1) - int(s0)) / float(hz)
    busy = server_s / (float(t1) - float(t0))
    print("\t".join([scenario, client, str(n), f"{rps:.1f}", f"{cpu * 1e6 / n:.4f}" if n else "nan",
                     "" if p99 is None else f"{p99:.0f}", f"{busy:.3f}",
                     f"{server_s * 1e6 / n:.4f}" if n else "nan"]))


def table(results):
    rows = {}
    order = []
    for raw in open(results):
        scenario, client, n, rps, cpu, p99, busy, server_cpu = raw.rstrip("\n").split("\t")
        key = (scenario, client)
        if key not in rows:
            order.append(key)
        rows.setdefault(key, []).append((float(rps), float(cpu), float(p99) if p99 else None, float(busy),
                                         float(server_cpu)))
    med = {}
    for key, runs in rows.items():
        p99s = [r[2] for r in runs if r[2] is not None]
        med[key] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
                    statistics.median(p99s) if p99s else None, statistics.median(r[3] for r in runs),
                    statistics.median(r[4] for r in runs))
    print("| scenario | client | req/s | client CPU µs/req | p99 | server core busy | server CPU µs/req "
          "| req/s vs ref | CPU/req vs ref |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    def ref_of(scenario):
        # wrk where it ran, else ab, else h2load (the HTTP/2 scenarios), else redis-benchmark,
        # else a row named "(ref)" (the targets scenario: a fixed URL).
        for pick in (lambda c: c.startswith("wrk"), lambda c: c == "ab", lambda c: c.startswith("h2load"),
                     lambda c: c.startswith("redis-benchmark"), lambda c: c.endswith("(ref)")):
            name = next((c for s, c in order if s == scenario and pick(c)), None)
            if name:
                return name
        return None

    for scenario, client in order:
        rps, cpu, p99, busy, server_cpu = med[(scenario, client)]
        ref_name = ref_of(scenario)
        ref = med[(scenario, ref_name)] if ref_name else None
        ref_name = ref_name.removesuffix(" (ref)") if ref_name else None
        ratio_rps = f"{rps / ref[0]:.2f}× {ref_name}" if ref and ref[0] else "-"
        ratio_cpu = f"{cpu / ref[1]:.2f}× {ref_name}" if ref and ref[1] else "-"
        p99_text = "-" if p99 is None else (f"{p99 / 1e3:.2f} ms" if p99 >= 1000 else f"{p99:.0f} µs")
        print(f"| {scenario} | {client} | {rps:,.0f} | {cpu:.2f} | {p99_text} | {busy:.2f} | {server_cpu:.2f} "
              f"| {ratio_rps} | {ratio_cpu} |")


if __name__ == "__main__":
    if sys.argv[1] == "table":
        table(sys.argv[2])
    else:
        line(sys.argv[1:])
