//! Benchmark: a large stamp (16 scale-unit hosts, 200 tenant VMs, 5 rings, 2,000+ replicas).
//!
//! Targets (issue 3): the stamp loads in under 200 ms; any single read command answers in under
//! 10 ms of server time, p99 over 1,000 runs. "Server time" is everything pep does for a line after
//! the SSH layer hands it over: parse, gate against the live grant, bind, run, render, transcribe
//! (`Shell::execute`). Every Diagnostics-level command that changes nothing is measured, with its
//! first catalog example as the command line, each in a fresh session of its own support identity
//! (a case's sessions share its working directory, so one command's files would otherwise weigh
//! on another's); commands whose example does not fit the stamp are reported as such.
//! `Test-AzsSupportKnownIssue` (every health check over the whole stamp) is measured too.
//!
//! Run: `cargo bench -p pep-shell --bench stamp_scale` (needs python3 for the stamp generator).
//! Bounded: 1,000 runs per command (`PEP_BENCH_RUNS` to change), everything in a temporary dir.

use azs_support::catalog::Access;
use azs_support::stamp::load_scenario;
use chrono::Utc;
use pep_shell::clock::Clock;
use pep_shell::consent::AccessLevel;
use pep_shell::endpoint::{Endpoint, EndpointOptions};
use pep_shell::identity::{Identity, Role};
use pep_shell::shell::{SessionKind, Shell};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let runs: usize = std::env::var("PEP_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("large.toml");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("python3")
        .arg(root.join("scenarios/tools/make_stamp.py"))
        .args([
            "--hosts",
            "16",
            "--tenant-vms",
            "200",
            "--rings",
            "5",
            "--replicas",
            "2100",
            "--name",
            "large",
        ])
        .output()
        .expect("python3 runs the stamp generator");
    assert!(
        out.status.success(),
        "generator: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&scenario, &out.stdout).expect("write scenario");
    let spec = scenario.display().to_string();

    // Load time.
    let mut loads = Vec::new();
    let mut stamp = None;
    for _ in 0..21 {
        let t = Instant::now();
        let s = load_scenario(&spec).expect("large stamp loads");
        loads.push(t.elapsed().as_secs_f64() * 1000.0);
        stamp = Some(s);
    }
    let stamp = stamp.expect("loaded");
    loads.sort_by(f64::total_cmp);
    let replicas: usize = stamp
        .rings
        .iter()
        .flat_map(|r| &r.services)
        .flat_map(|s| &s.partitions)
        .map(|p| p.replicas.len())
        .sum();
    println!(
        "stamp: {} hosts, {} infrastructure VMs, {} tenant VMs, {} rings, {} replicas ({} KiB of TOML)",
        stamp.hosts.len(),
        stamp.vms.len(),
        stamp.compute.vms.len(),
        stamp.rings.len(),
        replicas,
        out.stdout.len() / 1024
    );
    println!(
        "load: median {:.1} ms, max {:.1} ms over {} loads (target < 200 ms)",
        percentile(&loads, 50.0),
        loads[loads.len() - 1],
        loads.len()
    );

    // Server time per read command.
    let endpoint = Endpoint::open(
        &EndpointOptions {
            state: dir.path().join("state"),
            scenario: spec,
            reset_stamp: true,
            catalog: None,
            profile: azs_support::catalog::Profile::AzsHub,
            workdir_quota: 64 << 30,
            ..EndpointOptions::default()
        },
        Clock::system(),
    )
    .expect("endpoint");
    endpoint
        .consent
        .enable(AccessLevel::DiagnosticsRepair, 480, None)
        .expect("grant");
    let identity = Identity {
        name: "bench".into(),
        role: Role::Support,
        key: String::new(),
        fingerprint: "SHA256:bench".into(),
        added_at: Utc::now(),
    };
    let mut worst = (0.0f64, String::new());
    let mut failed = Vec::new();
    let mut measured = 0;
    println!(
        "{:<58} {:>9} {:>9}",
        "command (its first catalog example)", "p50 ms", "p99 ms"
    );
    // Every Diagnostics read by its first example, and the health checks over the whole stamp
    // (a DiagnosticsRepair command that changes nothing without -Remediate).
    let reads = endpoint
        .catalog
        .commands()
        .iter()
        .filter(|c| c.access == Access::Diagnostics && !c.supports_should_process)
        .filter_map(|c| Some((c.name.clone(), c.examples.first()?.code.clone())));
    let checks = ["Test-AzsSupportKnownIssue"]
        .into_iter()
        .map(|n| (n.to_string(), n.to_string()));
    for (i, (name, line)) in reads
        .chain(checks)
        .collect::<Vec<_>>()
        .into_iter()
        .enumerate()
    {
        // A support identity of its own per command: a case's sessions share its working
        // directory, and one command's files must not weigh on another's.
        let identity = Identity {
            name: format!("bench{i}"),
            ..identity.clone()
        };
        let mut shell = Shell::start(
            endpoint.clone(),
            identity.clone(),
            "127.0.0.1:0",
            SessionKind::Exec,
        )
        .expect("session");
        let first = shell.execute(&line);
        if let Some(e) = first.error {
            failed.push(format!("{name}: {e}"));
            continue;
        }
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let r = shell.execute(&line);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(r);
        }
        times.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&times, 50.0), percentile(&times, 99.0));
        println!("{:<58} {:>9.3} {:>9.3}", name, p50, p99);
        if p99 > worst.0 {
            worst = (p99, name.clone());
        }
        measured += 1;
        shell.finish("benchmark done");
    }
    println!(
        "read commands measured: {measured}; worst p99 {:.3} ms ({}) (target < 10 ms)",
        worst.0, worst.1
    );
    if !failed.is_empty() {
        println!(
            "not measured ({}), their example failed on this stamp:",
            failed.len()
        );
        for f in failed {
            println!("  {f}");
        }
    }
}
