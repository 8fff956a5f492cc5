#!/usr/bin/env python3
"""A user-space impaired link for the media tests (this kernel has no netem qdisc).

Three subcommands, each meant to run inside a network namespace the test created:

  lossy_link.py bridge IF_A IF_B
      An L2 bridge between two interfaces of a middle namespace: every frame received on one
      (AF_PACKET, all protocols) is written to the other after a delay, unless it is dropped at
      random. Both directions are impaired the same way (like netem on both sides of the link).
      Frames the kernel reports as PACKET_OUTGOING (our own writes, seen again) are skipped.
      Only IPv4/IPv6 frames are dropped; ARP is delayed but never dropped.
      Control on stdin, one command a line, answers on stdout as one JSON object a line:
        set LOSS DELAY_MS   loss probability per frame and direction (0..1), one-way delay (ms)
        stats               counters since start (windowLateMs: since the last stats)
      It prints {"ready": true} once both sockets are open. It exits when stdin closes.
      Frames stay in order: when the delay is lowered, new frames wait for the ones queued.

  lossy_link.py offload-off IF
      Turns off transmit checksum offload, TSO, GSO and GRO on IF (SIOCETHTOOL), so frames that
      leave IF carry complete checksums and at most one MTU: a frame copied through a packet
      socket would otherwise arrive with a partial checksum (dropped by the receiver) or as one
      64 KiB TCP super-frame (too big to write back).

  lossy_link.py ping DEST COUNT INTERVAL_MS
      ICMP echo to DEST (raw socket, needs root): prints {"sent", "received", "loss", "rtt":
      {"min", "median", "avg", "p90", "max"} (ms)}. Replies later than 2 s after the last request
      count as lost.
"""
import array
import collections
import ctypes
import fcntl
import json
import os
import random
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6
SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17
ETHTOOL_STSO = 0x1F
ETHTOOL_SGSO = 0x24
ETHTOOL_SGRO = 0x2C
MAX_FRAME = 1514  # Ethernet header + a 1500-byte MTU


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def offload_off(ifname):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for cmd in (ETHTOOL_STXCSUM, ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO):
            value = array.array("I", [cmd, 0])  # struct ethtool_value { u32 cmd; u32 data; }
            address, _ = value.buffer_info()
            ifreq = struct.pack("16sP", ifname.encode(), address)
            try:
                fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)
            except OSError as err:
                if cmd == ETHTOOL_STXCSUM:
                    raise SystemExit(f"offload-off {ifname}: {err}")
    finally:
        s.close()


def open_packet_socket(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    s.bind((ifname, ETH_P_ALL))
    s.setblocking(False)
    return s


def kernel_drops(s):
    try:
        packets, drops = struct.unpack("II", s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        return drops
    except OSError:
        return 0


class Direction:
    def __init__(self, name, rx, tx):
        self.name = name
        self.rx = rx
        self.tx = tx
        self.queue = collections.deque()  # (due, frame)
        self.seen = 0  # IP frames received (the ones loss applies to)
        self.dropped = 0
        self.other = 0  # non-IP frames (ARP ...), passed
        self.sent = 0
        self.send_errors = 0
        self.oversize = 0
        self.max_late_ms = 0.0
        self.window_late_ms = 0.0  # since the last stats
        self.kernel_drops = 0

    def stats(self):
        self.kernel_drops += kernel_drops(self.rx)  # the counter resets on every read
        return {
            "seen": self.seen,
            "dropped": self.dropped,
            "other": self.other,
            "sent": self.sent,
            "queued": len(self.queue),
            "sendErrors": self.send_errors,
            "oversize": self.oversize,
            "kernelDrops": self.kernel_drops,
            "maxLateMs": round(self.max_late_ms, 1),
            "windowLateMs": round(self.window_late_ms, 1),
        }


def realtime():
    # A small, blocking process: real-time priority keeps its timing when the machine is busy
    # (other test suites, browsers); the kernel's RT throttling still bounds it.
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        return "fifo"
    except (AttributeError, OSError):
        try:
            os.nice(-10)
            return "nice"
        except OSError:
            return "normal"


def bridge(if_a, if_b):
    scheduling = realtime()
    sa = open_packet_socket(if_a)
    sb = open_packet_socket(if_b)
    kernel_drops(sa), kernel_drops(sb)  # reset
    ab = Direction("ab", sa, sb)
    ba = Direction("ba", sb, sa)
    by_socket = {sa: ab, sb: ba}
    loss = 0.0
    delay = 0.0
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    pending = b""
    rng = random.SystemRandom()
    out({"ready": True, "a": if_a, "b": if_b, "scheduling": scheduling})
    while True:
        now = time.monotonic()
        due = [d.queue[0][0] for d in (ab, ba) if d.queue]
        timeout = max(0.0, min(due) - now) if due else 1.0
        readable, _, _ = select.select([sa, sb, stdin], [], [], timeout)
        for r in readable:
            if r == stdin:
                chunk = os.read(stdin, 4096)
                if not chunk:
                    out({"bye": True})
                    return
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    words = line.decode().split()
                    if not words:
                        continue
                    if words[0] == "set" and len(words) == 3:
                        loss = float(words[1])
                        delay = float(words[2]) / 1000.0
                        out({"ok": "set", "loss": loss, "delayMs": delay * 1000})
                    elif words[0] == "stats":
                        out({"ab": ab.stats(), "ba": ba.stats(), "loss": loss, "delayMs": delay * 1000})
                        ab.window_late_ms = ba.window_late_ms = 0.0
                    else:
                        out({"error": f"unknown command: {line.decode()}"})
                continue
            d = by_socket[r]
            for _ in range(256):
                try:
                    frame, address = r.recvfrom(65536)
                except BlockingIOError:
                    break
                if address[2] == PACKET_OUTGOING:
                    continue
                if len(frame) > MAX_FRAME:
                    d.oversize += 1
                    continue
                ethertype = struct.unpack_from("!H", frame, 12)[0] if len(frame) >= 14 else 0
                if ethertype in (0x0800, 0x86DD):
                    d.seen += 1
                    if loss > 0 and rng.random() < loss:
                        d.dropped += 1
                        continue
                else:
                    d.other += 1
                at = time.monotonic() + delay
                if d.queue and d.queue[-1][0] > at:
                    at = d.queue[-1][0]  # keep frames in order when the delay is lowered
                d.queue.append((at, frame))
        now = time.monotonic()
        for d in (ab, ba):
            while d.queue and d.queue[0][0] <= now:
                at, frame = d.queue.popleft()
                late = (now - at) * 1000
                d.max_late_ms = max(d.max_late_ms, late)
                d.window_late_ms = max(d.window_late_ms, late)
                try:
                    d.tx.send(frame)
                    d.sent += 1
                except OSError:
                    d.send_errors += 1


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def ping(dest, count, interval_ms):
    realtime()
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setblocking(False)
    ident = os.getpid() & 0xFFFF
    sent_at = {}
    rtts = []
    seq = 0
    next_send = time.monotonic()
    deadline = None
    while True:
        now = time.monotonic()
        if seq < count and now >= next_send:
            payload = struct.pack("!d", now) + b"televisit-lossy-link"
            header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, seq) + payload
            s.sendto(packet, (dest, 0))
            sent_at[seq] = now
            seq += 1
            next_send += interval_ms / 1000.0
            if seq == count:
                deadline = now + 2.0
        if deadline is not None and (now >= deadline or len(rtts) == count):
            break
        wait = max(0.0, (next_send if seq < count else deadline) - time.monotonic())
        readable, _, _ = select.select([s], [], [], wait)
        if not readable:
            continue
        while True:
            try:
                data, _ = s.recvfrom(2048)
            except BlockingIOError:
                break
            ihl = (data[0] & 0x0F) * 4
            kind, _, _, rid, rseq = struct.unpack_from("!BBHHH", data, ihl)
            if kind == 0 and rid == ident and rseq in sent_at:
                rtts.append((time.monotonic() - sent_at.pop(rseq)) * 1000)
    rtts.sort()
    n = len(rtts)
    stats = None
    if n:
        stats = {
            "min": round(rtts[0], 1),
            "median": round(rtts[n // 2], 1),
            "avg": round(sum(rtts) / n, 1),
            "p90": round(rtts[min(n - 1, int(n * 0.9))], 1),
            "max": round(rtts[-1], 1),
        }
    out({"sent": count, "received": n, "loss": round(1 - n / count, 4), "rtt": stats})


def main(argv):
    if len(argv) == 4 and argv[1] == "bridge":
        bridge(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "offload-off":
        offload_off(argv[2])
    elif len(argv) == 5 and argv[1] == "ping":
        ping(argv[2], int(argv[3]), float(argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
