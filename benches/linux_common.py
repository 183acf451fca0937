"""Helpers shared by the benchmarks of the real-Linux-host commands (`pep serve --profile linux`):
a pep server serving this machine, with a DiagnosticsRepair grant, and small utilities (load
average, checking a process still runs).

The node is this machine's host name (`hostname`), which is what `--profile linux` names it."""
import json
import os
import socket
import subprocess
import sys

from common import Pep, now


def need_root(script):
    if os.geteuid() != 0:
        sys.exit(f"{script}: run as root (the real-host commands ptrace, capture and read every process)")


class LinuxPep(Pep):
    """`pep serve --profile linux` on 127.0.0.1 with a temp state dir, an operator (olivia) and a
    support identity (sam). common.Pep grants Diagnostics (Enable-RemoteSupport ...
    -AgreeToRemoteSupportConsent); the operator then raises it with `Set-RemoteSupportAccess
    -AccessLevel DiagnosticsRepair -ExpireInMinutes 60` (a second Enable-RemoteSupport is refused
    while a grant is active)."""

    def __init__(self, extra_args=()):
        super().__init__(["--profile", "linux", *extra_args])
        try:
            self.ssh(self.op, "Set-RemoteSupportAccess -AccessLevel DiagnosticsRepair -ExpireInMinutes 60")
        except BaseException:
            self.stop()
            raise
        self.node = socket.gethostname()

    def timed(self, command, timeout=120):
        """Runs `command` as the support identity; returns (seconds, stdout). Fails on a non-zero
        exit status (pep's exit status for a failed command) with pep's error text."""
        t = now()
        out = subprocess.run(self.ssh_argv(self.sup) + [command], capture_output=True, text=True,
                             timeout=timeout)
        dt = now() - t
        if out.returncode != 0:
            raise RuntimeError(f"pep: {command!r} failed (rc {out.returncode}): "
                               f"{(out.stderr or out.stdout).strip()[:500]}")
        return dt, out.stdout

    def json(self, command, timeout=120):
        """`command | ConvertTo-Json` as the support identity: (seconds, one record as a dict)."""
        dt, text = self.timed(command + " | ConvertTo-Json", timeout)
        value = json.loads(text)
        if isinstance(value, list):
            value = value[-1]
        return dt, value


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def process_state(pid):
    """The state letter of /proc/PID/stat ('R', 'S', 'T', 't', 'Z', ...), None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2]


def verdict(ok):
    return "PASS" if ok else "MISS"
