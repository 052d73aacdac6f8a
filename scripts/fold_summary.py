#!/usr/bin/env python3
"""Summarises a folded perf profile (inferno-collapse-perf output): the share of samples in
each syscall the client makes, and in user-space code by area. Usage: fold_summary.py FOLDED"""
import collections
import re
import sys

buckets = collections.Counter()
total = 0
for line in open(sys.argv[1]):
    stack, _, count = line.rstrip().rpartition(" ")
    n = int(count)
    total += n
    frames = stack.split(";")
    syscall = next((f for f in frames if re.match(r"__(x64|ia32)_sys_", f)), None)
    # perf does not always unwind through the syscall entry (seen for writev, whose stacks go
    # from libc's wrapper straight to do_writev): name the call by the wrapper then.
    wrapper = next((m.group(1) for f in frames for m in [re.match(r"^(?:__GI___|__libc_|__)(writev|readv|sendmsg|recvmsg|sendto|recvfrom)$", f)] if m), None)
    if syscall:
        buckets["kernel: " + syscall.split("_sys_", 1)[1]] += n
    elif wrapper and any(f.startswith(("do_", "vfs_", "tcp_", "sock_")) for f in frames):
        buckets["kernel: " + wrapper] += n
    elif any(f.endswith("_[k]") or f.startswith("entry_SYSCALL") for f in frames):
        buckets["kernel: other"] += n
    elif any("rustls" in f or "aws_lc" in f or "aws-lc" in f or f.startswith("Lcurve25519") for f in frames):
        buckets["user: TLS (rustls, aws-lc crypto)"] += n
    elif any("httparse" in f for f in frames):
        buckets["user: httparse"] += n
    elif any("hdrhistogram" in f for f in frames):
        buckets["user: histogram"] += n
    elif any("clock_gettime" in f or "Instant" in f for f in frames):
        buckets["user: clock"] += n
    elif any("libc" in f or f.startswith("__libc") or f in ("__send", "__libc_recv", "epoll_wait") for f in frames):
        buckets["user: libc syscall wrappers"] += n
    else:
        buckets["user: clobber (event loop, state machine, framing)"] += n
for name, n in buckets.most_common():
    print(f"{100 * n / total:5.1f}%  {name}")
