#!/usr/bin/env python3
"""Benchmark: a full-memory core dump of a process with ~200 MB resident, pep's
`Invoke-AzsSupportProcDump` against gdb's `gcore`, on the same process in the same run.

The victim: `python3` that allocates a 200 MiB bytearray, writes one byte in every 4 KiB page (so
all of it is resident), starts 4 sleeping threads (5 in all) and sleeps. It runs for the whole
benchmark and must keep running: after every dump its state must be S or R (not stopped, not gone).

Each round (default 5, `--runs`) runs both, the order alternating (pep first in even rounds), each
after an untimed `sync` so neither pays for the other's dirty pages:
  pep:   the wall time of `ssh ... 'Invoke-AzsSupportProcDump -ComputerName <host> -ProcessId PID
         | ConvertTo-Json'` against `pep serve --profile linux` (SSH handshake, the dump, its fsync
         and rename, the reply), and pep's own `Seconds` (the dump alone: from stopping the process
         to the complete file being renamed, fsync included) and `Length`.
  gcore: the wall time of `gdb -batch -nx -p PID -ex 'gcore FILE'` (what the `gcore` script runs,
         without its bash wrapper), the file on the same file system as pep's state directory.
         gcore does not fsync its file; pep does.
Both cores of the first round are opened with `gdb -batch -nx -ex 'info threads' EXE CORE`, which
must list all 5 threads; every round the files are removed after they are measured.

It prints the medians and, with PASS/MISS, the targets: pep end to end <= 0.5x gcore's median
(also shown: pep's dump alone against gcore), and pep's core no larger than gcore's (median sizes).

Usage: python3 benches/proc_dump.py [--runs N] [--mb MB]
Run as root (ptrace). Installs gdb (Debian) if missing. Bounded: the victim is started by this
script and killed by pid on exit; every subprocess has a timeout (300 s); needs ~2x(MB+20) MB free
at once in the temp dir. The load average is printed: the machine is shared.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import tempfile

from common import build, median, need, now
from linux_common import LinuxPep, load_average, need_root, process_state, verdict

THREADS = 5
TIMEOUT = 300

VICTIM = r"""
import sys, threading, time
b = bytearray({size})
for i in range(0, len(b), 4096):
    b[i] = 1
for _ in range({threads} - 1):
    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
print("ready", flush=True)
time.sleep(3600)
"""


def start_victim(mb):
    proc = subprocess.Popen(["python3", "-c", VICTIM.format(size=mb << 20, threads=THREADS)],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().strip() == "ready"
    exe = os.readlink(f"/proc/{proc.pid}/exe")
    return proc, exe


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def gdb_threads(exe, core):
    """How many threads gdb lists in `core` (0 if it cannot open it)."""
    out = subprocess.run(["gdb", "-batch", "-nx", "-ex", "info threads", exe, core],
                         capture_output=True, text=True, timeout=TIMEOUT).stdout
    return sum(1 for line in out.splitlines() if re.match(r"^\*?\s+\d+\s+(Thread|LWP|process)", line))


def pep_round(pep, pid):
    dt, rec = pep.json(f"Invoke-AzsSupportProcDump -ComputerName {pep.node} -ProcessId {pid}", TIMEOUT)
    name = os.path.basename(rec["Path"].replace("\\", "/"))
    found = glob.glob(os.path.join(pep.state, "workdirs", "*", "dumps", name))
    assert len(found) == 1, f"pep's dump {name} not found under {pep.state}"
    size = os.path.getsize(found[0])
    assert size == rec["Length"], (size, rec)
    assert rec["Threads"] == THREADS, rec
    return dt, float(rec["Seconds"]), size, found[0]


def gcore_round(pid, path):
    t = now()
    out = subprocess.run(["gdb", "-batch", "-nx", "-p", str(pid), "-ex", f"gcore {path}"],
                         capture_output=True, text=True, timeout=TIMEOUT)
    dt = now() - t
    if not os.path.exists(path):
        raise RuntimeError(f"gcore wrote nothing (rc {out.returncode}): {out.stderr.strip()[-500:]}")
    return dt, os.path.getsize(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mb", type=int, default=200, help="MiB the victim touches (default 200)")
    args = ap.parse_args()
    need_root("proc_dump.py")
    need("gdb", "gdb")
    build()
    victim, exe = start_victim(args.mb)
    # pep charges each dump to the working directory's quota (and the state's budget) and does not
    # see files removed behind its back: room for every round's core.
    quota = 1024 + (args.runs + 1) * 2 * (args.mb + 64)
    pep = LinuxPep(["--workdir-quota-mb", str(quota), "--state-budget-mb", str(quota + 1024)])
    gdir = tempfile.mkdtemp(prefix="gcore-bench-", dir=os.path.dirname(pep.dir))
    try:
        pid = victim.pid
        print(f"victim: python3 pid {pid}, {THREADS} threads, {rss_mb(pid):.0f} MB resident; "
              f"load average before: {load_average()}")
        pe, ps, psz, ge, gsz = [], [], [], [], []
        for r in range(args.runs):
            for side in (["pep", "gcore"] if r % 2 == 0 else ["gcore", "pep"]):
                os.sync()
                if side == "pep":
                    dt, secs, size, path = pep_round(pep, pid)
                    pe.append(dt)
                    ps.append(secs)
                    psz.append(size)
                else:
                    path = os.path.join(gdir, f"gcore.{r}")
                    dt, size = gcore_round(pid, path)
                    ge.append(dt)
                    gsz.append(size)
                state = process_state(pid)
                assert state in ("S", "R"), f"the victim is {state!r} after {side}'s dump"
                if r == 0:
                    n = gdb_threads(exe, path)
                    print(f"gdb 'info threads' on {side}'s core: {n} thread(s)")
                    assert n == THREADS, f"gdb lists {n} threads in {side}'s core, not {THREADS}"
                os.remove(path)
            print(f"round {r + 1}: pep {pe[-1]:.3f} s (dump {ps[-1]:.3f} s, {psz[-1] / 1e6:.1f} MB)  "
                  f"gcore {ge[-1]:.3f} s ({gsz[-1] / 1e6:.1f} MB)  load {load_average()}")
        mpe, mps, mge = median(pe), median(ps), median(ge)
        mpsz, mgsz = median(psz), median(gsz)
        print(f"rounds: {args.runs}; victim {rss_mb(pid):.0f} MB resident, still running; "
              f"load average after: {load_average()}")
        print(f"pep   ProcDump over ssh: median {mpe:.3f} s  (dump alone, pep's Seconds: {mps:.3f} s)")
        print(f"gcore (gdb -p):          median {mge:.3f} s")
        print(f"core size: pep {mpsz / 1e6:.1f} MB, gcore {mgsz / 1e6:.1f} MB")
        print(f"ratio pep/gcore end to end (median): {mpe / mge:.2f}  (target <= 0.50)  "
              f"{verdict(mpe <= 0.5 * mge)}")
        print(f"ratio pep dump alone/gcore (median): {mps / mge:.2f}  (for reference)")
        print(f"core size pep/gcore: {mpsz / mgsz:.3f}  (target <= 1.00)  {verdict(mpsz <= mgsz)}")
    finally:
        pep.stop()
        victim.kill()
        victim.wait()
        shutil.rmtree(gdir, ignore_errors=True)


if __name__ == "__main__":
    main()
