//! Upload throughput and client CPU of pep's blob client (`BlobClient::upload_file`, default
//! `UploadOptions`) on one file: up to 64 MiB one Put Blob streamed from disk, the service's MD5
//! read back with HEAD; above, 8 MiB blocks, 8 in flight, MD5 per block, then HEAD.
//!
//! ```sh
//! cargo bench -p azs-support --bench blob_upload -- --sas URL --file PATH --name BLOB [--runs N]
//! ```
//!
//! (or `BLOB_UPLOAD_SAS`, `BLOB_UPLOAD_FILE`, `BLOB_UPLOAD_NAME`, `BLOB_UPLOAD_RUNS`). The SAS is a
//! container SAS URL allowing create and write (and read, for the check after the commit). With
//! several runs, run `i` > 0 uploads `BLOB-i`, so no run finds blocks staged by another. Prints one
//! JSON line per run: `seconds`, `bytes`, `mb_per_s` (10^6 bytes), `cpu_seconds` (user + system
//! time of all threads of this process during the upload), `blocks_sent`,
//! `blocks_skipped`. `benches/log_bundle.py` builds and runs it against Azurite.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use azs_support::logs::blob::{BlobClient, ContainerSas, UploadOptions};
use azs_support::logs::{Cancel, Progress};

struct Args {
    sas: String,
    file: PathBuf,
    name: String,
    runs: u32,
}

fn usage() -> String {
    "usage: blob_upload --sas URL --file PATH --name BLOB [--runs N]".to_string()
}

fn parse_args() -> Result<Args, String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut sas = env("BLOB_UPLOAD_SAS");
    let mut file = env("BLOB_UPLOAD_FILE").map(PathBuf::from);
    let mut name = env("BLOB_UPLOAD_NAME");
    let mut runs = env("BLOB_UPLOAD_RUNS");
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{arg} needs a value; {}", usage()))
        };
        match arg.as_str() {
            "--sas" => sas = Some(value()?),
            "--file" => file = Some(PathBuf::from(value()?)),
            "--name" => name = Some(value()?),
            "--runs" => runs = Some(value()?),
            // `cargo bench` passes `--bench`; libtest-style flags mean nothing here.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}; {}", usage())),
        }
    }
    let runs = match runs {
        Some(r) => r
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("--runs: '{r}' is not a positive number"))?,
        None => 1,
    };
    Ok(Args {
        sas: sas.ok_or_else(usage)?,
        file: file.ok_or_else(usage)?,
        name: name.ok_or_else(usage)?,
        runs,
    })
}

/// User + system CPU seconds of this process so far, all threads (`CLOCK_PROCESS_CPUTIME_ID`:
/// nanoseconds, where /proc's ticks are 10 ms, a third of a whole upload here).
fn cpu_seconds() -> Result<f64, String> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Ok(t.tv_sec as f64 + t.tv_nsec as f64 / 1e9)
}

fn run(args: &Args) -> Result<(), String> {
    let sas = ContainerSas::parse(&args.sas).map_err(|e| format!("--sas: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let client = BlobClient::new(UploadOptions::default()).map_err(|e| e.to_string())?;
    for i in 0..args.runs {
        let name = if i == 0 {
            args.name.clone()
        } else {
            format!("{}-{i}", args.name)
        };
        let progress = Progress::new();
        let cancel = Cancel::new();
        let cpu0 = cpu_seconds()?;
        let start = Instant::now();
        let blob = runtime
            .block_on(client.upload_file(&sas, &name, &args.file, &progress, &cancel))
            .map_err(|e| format!("uploading {}: {e}", args.file.display()))?;
        let seconds = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds()? - cpu0;
        let line = serde_json::json!({
            "name": name,
            "seconds": seconds,
            "bytes": blob.length,
            "mb_per_s": blob.length as f64 / 1e6 / seconds,
            "cpu_seconds": cpu,
            "blocks_sent": blob.blocks_sent,
            "blocks_skipped": blob.blocks_skipped,
            "verified": blob.verified,
        });
        println!("{line}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| run(&args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blob_upload: {e}");
            ExitCode::FAILURE
        }
    }
}
