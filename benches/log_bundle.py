#!/usr/bin/env python3
"""Benchmark (c): log collection, bundling and upload to Azurite, end to end, against the anchor
pipeline on the same files.

The corpus: about 480 MB of real log text — the 16 Loghub samples of `shared/corpus/loghub/` (see
its NOTICE.md) replicated over 16 nodes. Each node folder holds one file per sample (~1.9 MB,
below the collector's 25 MiB per-file cap) whose lines are the sample's lines, cycled from a
node-dependent offset until the node holds ~30 MB, each rewritten as `<ISO-8601 UTC timestamp>
<original line>`. The timestamps are spread evenly over the 24 hours before 2026-06-01T00:00:00Z,
shifted by one minute per node, so the window given to pep keeps every line (and none of the
stamp's own generated logs, which live in the 48 hours before the stamp's clock). The corpus is
generated once into `$CARGO_TARGET_DIR/bench-corpus/` (default `target/`) and reused.

Each round (default 3, `--runs`) measures:
  (a) pep: a fresh container and its SAS, then the wall time of
      `ssh ... "Get-AzureStackLog -OutputSasUri '<SAS>' -FilterByRole BareMetal -FromDate ...
      -ToDate ... | ConvertTo-Json"` against a `pep serve` whose scenario (generated into a temp
      dir: `default` plus hosts AZS-HOST05..16, each host's `log_dir` one node folder) gives
      16 hosts. Bundle bytes = the sum of the returned zip records' Length; pep's CPU time is the
      server's utime+stime delta (/proc/<pid>/stat); Azurite's is measured alike.
  (b) the anchor: `zip -r -6 -q out.zip corpus/` (timed, with its rusage), then in a Python
      subprocess `BlobClient.upload_blob(data=<file>, max_concurrency=8, overwrite=True)` of
      azure-storage-blob to the same Azurite (timed inside the subprocess around the call, with
      `resource.getrusage(RUSAGE_SELF)` around it for its CPU; interpreter start and imports are
      not counted, which favours the anchor).
  (c) upload throughput on the same bytes: the anchor's out.zip uploaded by pep's blob client (the
      `blob_upload` bench binary: `BlobClient::upload_file` with pep's defaults — a file up to
      64 MiB with nothing staged goes in one Put Blob streamed from disk in 256 KiB reads, with no
      client-side hash, as the SDK does: the record carries the MD5 the service computed, and a HEAD
      reads length and MD5 back; larger ones in 8 MiB blocks, 8 in flight, each with its MD5) —
      MB/s and client CPU seconds per MB (CLOCK_PROCESS_CPUTIME_ID, all threads), beside the
      SDK's from (b). pep's client also asks for the staged block list first (resume) and sends
      the HEAD, which the SDK does not.
      The SDK's defaults send a blob below 64 MiB (max_single_put_size) in one Put Blob, so for a
      ~61 MB zip `max_concurrency=8` has nothing to parallelise; for reference the SDK is also
      run with 8 MiB blocks from the first byte, like pep's client (printed, not in the ratios).
Containers are deleted after use, and each round starts a fresh Azurite (in memory, it keeps the
memory of deleted blobs for a while: RSS grew ~230 MiB a round without the restart).

It prints the medians and four ratios with PASS/MISS against the issue's targets:
end-to-end pep / (zip + SDK upload) <= 0.40; bundle bytes pep / zip <= 1.02; upload MB/s
pep client / SDK >= 0.95; client CPU per MB pep client / SDK <= 0.50.

Usage: python3 benches/log_bundle.py [--runs N] [--keep-corpus-only]
Installs what it lacks: azure-storage-blob==12.31.1 (pip), Debian `zip`, and Azurite 3.37.0
(npm, into ~/.cache/pep/azurite, unless $PEP_AZURITE_BIN names one). Builds `pep` and the
`blob_upload` bench of azs-support in release mode. Needs ~1 GB of disk under the target dir
(corpus + one zip) and a few GB of RAM for in-memory Azurite. Bounded: every subprocess has a
timeout; Azurite and pep are started by this script and killed by pid on exit; all on 127.0.0.1.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

from common import PEP, ROOT, SSH_OPTS, TARGET, build, keygen, median, need, now

SDK_PIN = "azure-storage-blob==12.31.1"
AZURITE_VERSION = "3.37.0"
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

NODES = 16
NODE_BYTES = 30_000_000
CORPUS_VERSION = 1
WINDOW_END = datetime(2026, 6, 1, tzinfo=timezone.utc)
WINDOW_START = WINDOW_END - timedelta(hours=24)
NODE_SHIFT = timedelta(minutes=1)
HOSTS = [f"AZS-HOST{i:02d}" for i in range(1, NODES + 1)]
DEFAULT_HOSTS = 4  # AZS-HOST01..04 exist in the embedded `default` stamp

SSH_TIMEOUT = 900
ZIP_TIMEOUT = 600
UPLOAD_TIMEOUT = 600
CLK_TCK = os.sysconf("SC_CLK_TCK")
MB = 1_000_000


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# What it installs


def ensure_sdk():
    try:
        import azure.storage.blob  # noqa: F401
    except ImportError:
        log(f"installing {SDK_PIN}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        SDK_PIN], check=True, timeout=600)
        import importlib
        importlib.invalidate_caches()
        import azure.storage.blob  # noqa: F401


def azurite_bin():
    bin_ = os.environ.get("PEP_AZURITE_BIN")
    if bin_:
        return bin_
    d = os.path.join(os.path.expanduser("~"), ".cache", "pep", "azurite")
    bin_ = os.path.join(d, "node_modules", ".bin", "azurite-blob")
    if not os.path.exists(bin_):
        need("npm", "npm")
        log(f"installing azurite@{AZURITE_VERSION} into {d}")
        os.makedirs(d, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                        f"azurite@{AZURITE_VERSION}"], cwd=d, check=True, timeout=900)
    return bin_


def build_blob_upload():
    """Builds the `blob_upload` bench of azs-support (release) and returns its executable."""
    out = subprocess.run(["cargo", "build", "--release", "--locked", "-p", "azs-support", "--bench",
                          "blob_upload", "--message-format=json"], cwd=ROOT, check=True, timeout=1800,
                         stdout=subprocess.PIPE, text=True).stdout
    exe = None
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == "blob_upload" \
                and msg.get("executable"):
            exe = msg["executable"]
    if not exe:
        sys.exit("log_bundle.py: cargo did not report the blob_upload bench executable")
    return exe


# ---------------------------------------------------------------------------------------------
# The corpus


def shared_dir():
    d = os.environ.get("PEP_SHARED")
    if d:
        return d
    return os.path.join(os.path.dirname(ROOT), "shared")


def loghub_samples():
    d = os.path.join(shared_dir(), "corpus", "loghub")
    names = sorted(n for n in os.listdir(d) if n.endswith(".log"))
    if len(names) != 16:
        sys.exit(f"log_bundle.py: expected 16 Loghub samples in {d}, found {len(names)}")
    samples = []
    for n in names:
        with open(os.path.join(d, n), "rb") as f:
            lines = f.read().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        samples.append((n, lines))
    return d, samples


def iso(ts):
    """`2026-05-31T10:00:00.123Z` for a POSIX timestamp in seconds (UTC)."""
    sec = int(ts)
    ms = int((ts - sec) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ms:03d}Z"


def make_corpus(root):
    """Generates the corpus under root/corpus (once: a marker file names its parameters)."""
    corpus = os.path.join(root, "corpus")
    marker = os.path.join(root, "complete.json")
    src, samples = loghub_samples()
    params = {"version": CORPUS_VERSION, "nodes": NODES, "node_bytes": NODE_BYTES,
              "window_end": WINDOW_END.isoformat(), "samples": [n for n, _ in samples]}
    try:
        with open(marker) as f:
            if json.load(f) == params:
                return corpus
    except (OSError, ValueError):
        pass
    log(f"generating the corpus into {corpus} (once)")
    shutil.rmtree(root, ignore_errors=True)
    tmp = corpus + ".tmp"
    os.makedirs(tmp)
    prefix = 25  # len("2026-05-31T10:00:00.123Z ")
    replica_bytes = sum(sum(len(line) + 1 + prefix for line in lines) for _, lines in samples)
    scale = NODE_BYTES / replica_bytes
    start = WINDOW_START.timestamp()
    for node in range(NODES):
        d = os.path.join(tmp, f"node{node + 1:02d}")
        os.makedirs(d)
        shift = node * NODE_SHIFT.total_seconds()
        # Lines span the window less the largest shift, plus one second of margin at each end.
        span = (WINDOW_END - WINDOW_START).total_seconds() - (NODES - 1) * NODE_SHIFT.total_seconds() - 2
        for name, lines in samples:
            count = int(len(lines) * scale)
            offset = (node * 125) % len(lines)
            step = span / count
            out = []
            last_sec, last_txt = -1, ""
            for k in range(count):
                ts = start + 1 + shift + k * step
                sec = int(ts)
                if sec != last_sec:
                    last_sec, last_txt = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
                ms = int((ts - sec) * 1000)
                out.append(f"{last_txt}.{ms:03d}Z ".encode() + lines[(offset + k) % len(lines)])
            with open(os.path.join(d, name), "wb") as f:
                f.write(b"\n".join(out) + b"\n")
    with open(os.path.join(tmp, "NOTICE.md"), "wb") as f:
        with open(os.path.join(src, "NOTICE.md"), "rb") as g:
            f.write(b"Generated by benches/log_bundle.py from these samples, timestamps rewritten.\n\n" + g.read())
    os.rename(tmp, corpus)
    with open(marker, "w") as f:
        json.dump(params, f)
    return corpus


def tree_bytes(d):
    total = 0
    for base, _, files in os.walk(d):
        for n in files:
            total += os.path.getsize(os.path.join(base, n))
    return total


# ---------------------------------------------------------------------------------------------
# Processes


def proc_cpu(pid):
    """utime+stime of a live process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_port(port, proc, deadline_s):
    import socket
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"log_bundle.py: server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"log_bundle.py: nothing listening on 127.0.0.1:{port} after {deadline_s} s")


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class Azurite:
    def __init__(self, workdir, name="azurite"):
        from common import free_port
        self.port = free_port()
        # In memory (Azurite refuses --location with --inMemoryPersistence); run from a scratch
        # folder, where it may still write its debug and extent bookkeeping.
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.proc = subprocess.Popen([azurite_bin(), "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                                      "--skipApiVersionCheck", "--loose", "--silent", "--inMemoryPersistence"],
                                     cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port, self.proc, 60)
        self.conn = (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
                     f"BlobEndpoint=http://127.0.0.1:{self.port}/{DEV_ACCOUNT};")

    def service(self):
        from azure.storage.blob import BlobServiceClient
        return BlobServiceClient.from_connection_string(self.conn)

    def container(self, name):
        """Creates container `name` and returns its SAS URL (read, add, create, write, list)."""
        from azure.storage.blob import ContainerSasPermissions, generate_container_sas
        self.service().create_container(name)
        sas = generate_container_sas(DEV_ACCOUNT, name, account_key=DEV_KEY,
                                     permission=ContainerSasPermissions(read=True, add=True, create=True,
                                                                        write=True, list=True),
                                     expiry=datetime.now(timezone.utc) + timedelta(hours=2))
        return f"http://127.0.0.1:{self.port}/{DEV_ACCOUNT}/{name}?{sas}"

    def delete(self, name):
        try:
            self.service().delete_container(name)
        except Exception as e:  # noqa: BLE001 - cleanup only
            log(f"note: deleting container {name}: {e}")

    def cpu(self):
        return proc_cpu(self.proc.pid)

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
        return 0


def scenario_toml(corpus):
    lines = ['version = 1', 'name = "bench-log-bundle"',
             'description = "The default stamp with 16 hosts whose log_dir is one node folder of the log bundle '
             'benchmark corpus."', 'extends = "default"', ""]
    for i, host in enumerate(HOSTS):
        lines += ["[[host]]", f'name = "{host}"']
        if i >= DEFAULT_HOSTS:
            lines += ['role = "BareMetal"', 'state = "Up"']
        lines += [f'log_dir = "{os.path.join(corpus, f"node{i + 1:02d}")}"', ""]
    return "\n".join(lines)


class PepServer:
    """`pep serve --scenario FILE` with an operator identity (olivia)."""

    def __init__(self, workdir, scenario):
        self.state = os.path.join(workdir, "state")
        self.proc = subprocess.Popen([PEP, "serve", "--listen", "127.0.0.1:0", "--state", self.state,
                                      "--scenario", scenario],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=dict(os.environ, RUST_LOG="error"), start_new_session=True)
        banner = self.proc.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", banner)
        if not m:
            stop(self.proc)
            sys.exit(f"log_bundle.py: pep serve did not start (banner {banner!r})")
        self.port = int(m.group(1))
        self.op = keygen(os.path.join(workdir, "op"))
        subprocess.run([PEP, "identity", "add", "--state", self.state, "--role", "operator", "--name", "olivia",
                        "--key", self.op + ".pub"], check=True, stdout=subprocess.DEVNULL, timeout=60)

    def ssh(self, command, timeout=SSH_TIMEOUT):
        argv = ["ssh", *SSH_OPTS, "-p", str(self.port), "-i", self.op, "bench@127.0.0.1", command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def cpu(self):
        return proc_cpu(self.proc.pid)

    def clean_workdirs(self):
        shutil.rmtree(os.path.join(self.state, "workdirs"), ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The measurements


def parse_json(text):
    """The JSON document in `text` (skipping any progress lines printed before it)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("[", "{")):
            try:
                return json.loads("\n".join(lines[i:]))
            except ValueError:
                continue
    sys.exit(f"log_bundle.py: no JSON in Get-AzureStackLog's output: {text[-2000:]!r}")


def run_pep(pep, azurite, round_):
    container = f"pep-r{round_}"
    sas = azurite.container(container)
    frm = WINDOW_START.strftime("%Y-%m-%dT%H:%M:%SZ")
    to = WINDOW_END.strftime("%Y-%m-%dT%H:%M:%SZ")
    cmd = (f"Get-AzureStackLog -OutputSasUri '{sas}' -FilterByRole BareMetal -FromDate {frm} -ToDate {to}"
           " | ConvertTo-Json")
    cpu0, az0 = pep.cpu(), azurite.cpu()
    t = now()
    out = pep.ssh(cmd)
    wall = now() - t
    cpu, az = pep.cpu() - cpu0, azurite.cpu() - az0
    if out.returncode != 0:
        sys.exit(f"log_bundle.py: Get-AzureStackLog failed ({out.returncode}): {out.stderr.strip()[:2000]}"
                 f" {out.stdout.strip()[-2000:]}")
    records = parse_json(out.stdout)
    if isinstance(records, dict):
        records = [records]
    bad = [r for r in records if r.get("Status") != "Uploaded"]
    if bad:
        sys.exit(f"log_bundle.py: records not uploaded: {bad}")
    zips = [r for r in records if str(r.get("Name", "")).endswith(".zip")]
    bundle = sum(int(r["Length"]) for r in zips)
    total = sum(int(r["Length"]) for r in records)
    stored = sum(b.size for b in azurite.service().get_container_client(container).list_blobs())
    azurite.delete(container)
    pep.clean_workdirs()
    return {"wall": wall, "bundle": bundle, "all_files": total, "stored": stored, "zips": len(zips),
            "records": len(records), "cpu": cpu, "azurite_cpu": az}


def run_zip(corpus, out_zip):
    if os.path.exists(out_zip):
        os.remove(out_zip)
    t = now()
    p = subprocess.Popen(["zip", "-r", "-6", "-q", out_zip, os.path.basename(corpus)], cwd=os.path.dirname(corpus))
    deadline = time.monotonic() + ZIP_TIMEOUT
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            os.wait4(p.pid, 0)
            sys.exit("log_bundle.py: zip timed out")
        time.sleep(0.02)
    wall = now() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"log_bundle.py: zip exited {p.returncode}")
    return {"wall": wall, "bytes": os.path.getsize(out_zip), "cpu": ru.ru_utime + ru.ru_stime}


def run_sdk(azurite, container, path, blocks=False):
    """Uploads `path` with the SDK in a child Python; returns its figures (and Azurite's CPU).
    `blocks`: 8 MiB blocks from the first byte (max_single_put_size = max_block_size = 8 MiB),
    as pep's client sends them, instead of the SDK's defaults (one Put Blob below 64 MiB)."""
    sas = azurite.container(container)
    az0 = azurite.cpu()
    mode = "blocks" if blocks else "default"
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--sdk-upload", sas, "anchor.zip", path, mode],
                         capture_output=True, text=True, timeout=UPLOAD_TIMEOUT)
    az = azurite.cpu() - az0
    if out.returncode != 0:
        sys.exit(f"log_bundle.py: SDK upload failed: {out.stderr.strip()[-2000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["azurite_cpu"] = az
    azurite.delete(container)
    return r


def sdk_upload_child(sas, name, path, mode):
    """The anchor's upload, in its own process: timed and CPU-measured around `upload_blob` only."""
    import resource
    from azure.storage.blob import ContainerClient
    sizes = {}
    if mode == "blocks":
        sizes = {"max_single_put_size": 8 << 20, "max_block_size": 8 << 20}
    client = ContainerClient.from_container_url(sas, **sizes).get_blob_client(name)
    size = os.path.getsize(path)
    with open(path, "rb") as data:
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        client.upload_blob(data=data, length=size, max_concurrency=8, overwrite=True)
        wall = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    stored = client.get_blob_properties().size
    if stored != size:
        sys.exit(f"stored {stored} bytes of {size}")
    print(json.dumps({"seconds": wall, "bytes": size, "mb_per_s": size / MB / wall, "cpu_seconds": cpu}))


def run_pep_client(exe, azurite, container, path):
    sas = azurite.container(container)
    az0 = azurite.cpu()
    out = subprocess.run([exe, "--sas", sas, "--file", path, "--name", "anchor.zip", "--runs", "1"],
                         capture_output=True, text=True, timeout=UPLOAD_TIMEOUT)
    az = azurite.cpu() - az0
    if out.returncode != 0:
        sys.exit(f"log_bundle.py: blob_upload failed: {out.stderr.strip()[-2000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["azurite_cpu"] = az
    azurite.delete(container)
    return r


# ---------------------------------------------------------------------------------------------


def verdict(ok):
    return "PASS" if ok else "MISS"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--corpus-only", action="store_true", help="generate the corpus and stop")
    ap.add_argument("--sdk-upload", nargs=4, metavar=("SAS", "NAME", "FILE", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sdk_upload:
        sdk_upload_child(*args.sdk_upload)
        return

    bench_root = os.path.join(TARGET, "bench-corpus")
    corpus = make_corpus(bench_root)
    corpus_bytes = tree_bytes(corpus)
    log(f"corpus: {corpus} ({corpus_bytes / MB:.1f} MB in {NODES} node folders)")
    if args.corpus_only:
        return
    need("zip", "zip")
    ensure_sdk()
    azurite_bin()
    build()
    exe = build_blob_upload()

    load0 = os.getloadavg()
    if load0[0] > 1.0:
        log(f"note: load average {load0[0]:.2f}: other work on this machine will skew the figures")
    work = tempfile.mkdtemp(prefix="pep-logbench-")
    out_zip = os.path.join(bench_root, "anchor.zip")
    azurite = pep = None
    rows = []
    try:
        azurite = Azurite(work)
        scenario = os.path.join(work, "bench-log-bundle.toml")
        with open(scenario, "w") as f:
            f.write(scenario_toml(corpus))
        pep = PepServer(work, scenario)
        for r in range(args.runs):
            if r:  # a fresh Azurite per round: in memory, it keeps deleted blobs' memory for a while
                stop(azurite.proc)
                azurite = Azurite(work, f"azurite-{r}")
            row = {}
            row["pep"] = run_pep(pep, azurite, r)
            row["zip"] = run_zip(corpus, out_zip)
            row["sdk"] = run_sdk(azurite, f"anchor-r{r}", out_zip)
            row["client"] = run_pep_client(exe, azurite, f"client-r{r}", out_zip)
            row["sdk8"] = run_sdk(azurite, f"anchor8-r{r}", out_zip, blocks=True)
            rows.append(row)
            p, z, s, c = row["pep"], row["zip"], row["sdk"], row["client"]
            log(f"round {r + 1}/{args.runs}: pep {p['wall']:.2f} s (cpu {p['cpu']:.1f} s, azurite {p['azurite_cpu']:.1f} s,"
                f" {p['bundle'] / MB:.1f} MB in {p['zips']} zips); zip {z['wall']:.2f} s ({z['bytes'] / MB:.1f} MB);"
                f" SDK upload {s['seconds']:.2f} s ({s['mb_per_s']:.0f} MB/s, cpu {s['cpu_seconds']:.2f} s);"
                f" pep client {c['seconds']:.2f} s ({c['mb_per_s']:.0f} MB/s, cpu {c['cpu_seconds']:.2f} s);"
                f" azurite RSS {azurite.rss_mib()} MiB")
    finally:
        if pep:
            stop(pep.proc)
        if azurite:
            stop(azurite.proc)
        shutil.rmtree(work, ignore_errors=True)
        if os.path.exists(out_zip):
            os.remove(out_zip)

    def m(side, key):
        return median([row[side][key] for row in rows])

    pep_wall, pep_bundle, pep_cpu, pep_az = m("pep", "wall"), m("pep", "bundle"), m("pep", "cpu"), m("pep", "azurite_cpu")
    zip_wall, zip_bytes, zip_cpu = m("zip", "wall"), m("zip", "bytes"), m("zip", "cpu")
    sdk_wall, sdk_mbs, sdk_cpu, sdk_az = m("sdk", "seconds"), m("sdk", "mb_per_s"), m("sdk", "cpu_seconds"), m("sdk", "azurite_cpu")
    cl_wall, cl_mbs, cl_cpu, cl_az = m("client", "seconds"), m("client", "mb_per_s"), m("client", "cpu_seconds"), m("client", "azurite_cpu")
    sdk8_wall, sdk8_mbs = m("sdk8", "seconds"), m("sdk8", "mb_per_s")
    sdk8_cpu_mb = median([row["sdk8"]["cpu_seconds"] / (row["sdk8"]["bytes"] / MB) for row in rows])
    anchor = median([row["zip"]["wall"] + row["sdk"]["seconds"] for row in rows])
    zmb = zip_bytes / MB
    sdk_cpu_mb = median([row["sdk"]["cpu_seconds"] / (row["sdk"]["bytes"] / MB) for row in rows])
    cl_cpu_mb = median([row["client"]["cpu_seconds"] / (row["client"]["bytes"] / MB) for row in rows])

    print(f"corpus: {corpus_bytes / MB:.1f} MB of log text, {NODES} nodes x 16 Loghub samples; rounds: {len(rows)};"
          f" {os.cpu_count()} CPUs; Azurite {AZURITE_VERSION} in memory; {SDK_PIN}")
    print(f"load average before / after: {load0[0]:.2f} / {os.getloadavg()[0]:.2f}"
          + ("  (other work was running: figures are noisy)" if load0[0] > 1.0 else ""))
    print(f"pep  Get-AzureStackLog end to end: median {pep_wall:6.2f} s  bundle {pep_bundle / MB:6.1f} MB"
          f"  server CPU {pep_cpu:5.1f} s ({pep_cpu / pep_wall:.2f} cores busy)  Azurite CPU {pep_az:5.1f} s"
          f"  ({corpus_bytes / MB / pep_wall:.0f} MB/s of logs)")
    print(f"anchor zip -r -6:                 median {zip_wall:6.2f} s  zip    {zmb:6.1f} MB  CPU {zip_cpu:5.1f} s")
    print(f"anchor SDK upload_blob (8):       median {sdk_wall:6.2f} s  {sdk_mbs:6.1f} MB/s  client CPU {sdk_cpu:5.2f} s"
          f" ({sdk_cpu_mb * 1000:.2f} ms/MB)  Azurite CPU {sdk_az:5.1f} s")
    print(f"anchor end to end (zip + upload): median {anchor:6.2f} s")
    print(f"pep client upload of the same zip: median {cl_wall:6.2f} s  {cl_mbs:6.1f} MB/s  client CPU {cl_cpu:5.2f} s"
          f" ({cl_cpu_mb * 1000:.2f} ms/MB)  Azurite CPU {cl_az:5.1f} s")
    print(f"(for reference) SDK with 8 MiB blocks:  median {sdk8_wall:6.2f} s  {sdk8_mbs:6.1f} MB/s"
          f"  client CPU {sdk8_cpu_mb * 1000:.2f} ms/MB  (max_single_put_size = max_block_size = 8 MiB;"
          f" the ratios use the SDK's defaults)")
    ratios = [
        ("end to end, pep / anchor", pep_wall / anchor, "<=", 0.40),
        ("bundle size, pep / zip", pep_bundle / zip_bytes, "<=", 1.02),
        ("upload throughput, pep client / SDK", cl_mbs / sdk_mbs, ">=", 0.95),
        ("client CPU per MB, pep client / SDK", cl_cpu_mb / sdk_cpu_mb, "<=", 0.50),
    ]
    for name, value, op, target in ratios:
        ok = value <= target if op == "<=" else value >= target
        print(f"ratio {name:38s} {value:5.2f}  (target {op} {target:.2f})  {verdict(ok)}")


if __name__ == "__main__":
    main()
