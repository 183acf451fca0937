#!/usr/bin/env python3
"""Benchmark (a): wall time of `ssh ... 'Get-AzsSupportStampVersion'` against pep versus the same
OpenSSH client against OpenSSH's sshd on another loopback port with a ForceCommand printing the same
text. Runs are interleaved (pep, sshd, pep, ...) so machine noise hits both alike; medians reported.
Target: pep's median at most 0.5x sshd's.

The sshd side logs in as a dedicated user, `pep-bench` (created if missing: `useradd` with an empty
home and /bin/sh as its shell), so the anchor does not pay for a login shell reading root's
~/.bashrc: sshd runs the ForceCommand as `/bin/sh -c ...`, which reads no startup file, and
`PermitUserRC no` skips ~/.ssh/rc. The key is put in the user's own ~/.ssh/authorized_keys.

Usage: python3 benches/ssh_latency.py [RUNS]   (default 60; installs openssh-server if missing)
Run as root (sshd, useradd). Bounded: RUNS ssh invocations per side, each with a 10 s timeout,
all on 127.0.0.1.
"""
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

from common import SSH_OPTS, Pep, build, free_port, keygen, median, need, now, percentile

SSHD = "/usr/sbin/sshd"
BENCH_USER = "pep-bench"


def bench_user(key):
    """The dedicated anchor user, created if missing, with `key` as its only authorized key.
    Returns (name, home)."""
    if os.geteuid() != 0:
        sys.exit("ssh_latency.py: run as root (it starts sshd and logs in as the pep-bench user)")
    try:
        pw = pwd.getpwnam(BENCH_USER)
    except KeyError:
        with tempfile.TemporaryDirectory() as empty:  # an empty skeleton: no dotfiles in its home
            subprocess.run(["useradd", "--create-home", "--skel", empty, "--shell", "/bin/sh",
                            "--comment", "pep benchmark anchor", BENCH_USER], check=True)
        pw = pwd.getpwnam(BENCH_USER)
    if pw.pw_shell != "/bin/sh":
        print(f"note: {BENCH_USER}'s shell is {pw.pw_shell}, not /bin/sh", file=sys.stderr)
    # With UsePAM no, sshd refuses accounts whose password is locked ('!'): '*' is no password
    # without being locked.
    shadow = subprocess.run(["getent", "shadow", BENCH_USER], capture_output=True, text=True).stdout
    if shadow.split(":")[1:2] and shadow.split(":")[1].startswith("!"):
        subprocess.run(["usermod", "--password", "*", BENCH_USER], check=True)
    extra = sorted(n for n in os.listdir(pw.pw_dir) if n != ".ssh")
    if extra:
        print(f"note: {pw.pw_dir} is not empty: {', '.join(extra)}", file=sys.stderr)
    ssh_dir = os.path.join(pw.pw_dir, ".ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    auth = os.path.join(ssh_dir, "authorized_keys")
    shutil.copyfile(key + ".pub", auth)
    for path, mode in [(ssh_dir, 0o700), (auth, 0o600)]:
        os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, mode)
    return BENCH_USER, pw.pw_dir


def start_sshd(text, key, force=None):
    """sshd on a free loopback port whose only user is pep-bench, running `force` (default: print
    `text`) as its ForceCommand. Returns (process, port, user, temp dir)."""
    need(SSHD, "openssh-server")
    os.makedirs("/run/sshd", exist_ok=True)
    user, _ = bench_user(key)
    d = tempfile.mkdtemp(prefix="sshd-bench-")
    host_key = keygen(os.path.join(d, "host_key"))
    port = free_port()
    conf = os.path.join(d, "sshd_config")
    command = force or "printf '%s\\n' '" + text + "'"
    with open(conf, "w") as f:
        f.write(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {d}/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PermitUserRC no
UsePAM no
PrintMotd no
PrintLastLog no
MaxStartups 256
ForceCommand {command}
""")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", conf], stderr=subprocess.DEVNULL)
    return proc, port, user, d


def timed(argv):
    t = now()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    return now() - t, out.stdout


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    build()
    pep = Pep()
    sshd = sshd_dir = None
    try:
        version = pep.ssh(pep.sup, "Get-AzsSupportStampVersion").strip()
        sshd, sport, user, sshd_dir = start_sshd(version, pep.sup)
        pep_argv = pep.ssh_argv(pep.sup) + ["Get-AzsSupportStampVersion"]
        sshd_argv = ["ssh", *SSH_OPTS, "-p", str(sport), "-i", pep.sup, f"{user}@127.0.0.1", "anything"]
        for _ in range(5):  # warm-up
            timed(pep_argv)
            timed(sshd_argv)
        p, s = [], []
        for _ in range(runs):
            dt, out = timed(pep_argv)
            assert out.strip() == version, out
            p.append(dt)
            dt, out = timed(sshd_argv)
            assert out.strip() == version, out
            s.append(dt)
        mp, ms = median(p), median(s)
        print(f"runs per side: {runs} (sshd anchor logs in as {user})")
        print(f"pep  ssh exec: median {mp*1000:7.1f} ms  p90 {percentile(p, 90)*1000:7.1f} ms")
        print(f"sshd ssh exec: median {ms*1000:7.1f} ms  p90 {percentile(s, 90)*1000:7.1f} ms")
        print(f"ratio pep/sshd (median): {mp/ms:.2f}  (target <= 0.50)")
    finally:
        pep.stop()
        if sshd:
            sshd.terminate()
            sshd.wait(5)
            shutil.rmtree(sshd_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
