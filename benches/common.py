"""Shared helpers for the benchmarks: build pep, start it on a free loopback port with a temporary
state directory, make keys, register identities, grant consent.

The pep binary is `$CARGO_TARGET_DIR/release/pep` (a relative CARGO_TARGET_DIR is taken from the
repository root, where `build()` runs cargo), else `target/release/pep`."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
PEP = os.path.join(TARGET, "release", "pep")
SSH_OPTS = ["-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]


def need(binary, package):
    """Installs a Debian package when its binary is missing."""
    if shutil.which(binary) or os.path.exists(binary):
        return
    print(f"installing {package} for {binary}", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=True, env=env)


def build():
    subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "pep"], cwd=ROOT, check=True)


def serve_has_option(option):
    """Whether `pep serve --help` lists `option` (flags other work may not have added yet)."""
    out = subprocess.run([PEP, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    return re.search(rf"(^|\s){re.escape(option)}(\s|=|$)", out, re.MULTILINE) is not None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
    return path


class Pep:
    """A pep server with an operator and a support identity and a Diagnostics grant."""

    def __init__(self, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix="pep-bench-")
        self.state = os.path.join(self.dir, "state")
        self.proc = subprocess.Popen([PEP, "serve", "--listen", "127.0.0.1:0", "--state", self.state, *extra_args],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env=dict(os.environ, RUST_LOG="error"))
        banner = self.proc.stdout.readline()
        self.port = int(re.search(r"127\.0\.0\.1:(\d+)", banner).group(1))
        self.op = keygen(os.path.join(self.dir, "op"))
        self.sup = keygen(os.path.join(self.dir, "sup"))
        for role, name, key in [("operator", "olivia", self.op), ("support", "sam", self.sup)]:
            subprocess.run([PEP, "identity", "add", "--state", self.state, "--role", role, "--name", name,
                            "--key", key + ".pub"], check=True, stdout=subprocess.DEVNULL)
        self.ssh(self.op, "Enable-RemoteSupport -AccessLevel Diagnostics -AgreeToRemoteSupportConsent")

    def ssh_argv(self, key, *extra):
        return ["ssh", *SSH_OPTS, "-p", str(self.port), "-i", key, *extra, "bench@127.0.0.1"]

    def ssh(self, key, command):
        return subprocess.run(self.ssh_argv(key) + [command], check=True, capture_output=True, text=True).stdout

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def percentile(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def now():
    return time.perf_counter()
