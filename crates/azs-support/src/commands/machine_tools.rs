//! Tests of the host-level commands on the real machine: each command runs through the
//! [`crate::host::Host`] seam against the Linux machine these tests run on (a `sleep` child to
//! stop, dump and trace; the machine's own services, journal, files and network).

#[cfg(test)]
mod tests {
    use super::super::testing::{prop as get, run_in, RealMachine};
    use super::super::{diagnostic_tools, ece, host_repair, hosts, traces};
    use super::super::{Implementation, Mode};
    use crate::value::Value;
    use crate::workdir::WorkingDirectory;
    use chrono::Utc;
    use std::process::{Child, Command};

    /// The `linux` stamp (the machine alone, its default roots) and a working directory of
    /// 2 GiB.
    fn machine() -> RealMachine {
        RealMachine::new(2 << 30, None, None)
    }

    struct Sleeper(Child);

    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn sleeper() -> Sleeper {
        Sleeper(Command::new("sleep").arg("300").spawn().expect("sleep"))
    }

    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    }

    #[test]
    fn processes_of_the_machine_are_listed_and_stopped_for_real() {
        let mut m = machine();
        let s = sleeper();
        let pid = s.0.id();
        let rows = m
            .run(hosts::get_process, &[("Id", i64::from(pid).into())])
            .expect("listed");
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(get(&rows[0], "Name"), "sleep");
        assert_eq!(get(&rows[0], "CommandLine"), "sleep 300");
        assert_eq!(get(&rows[0], "UserName"), "root");
        assert_eq!(get(&rows[0], "ComputerName"), m.host);
        // Its open descriptors: at least stdin, stdout and stderr.
        assert!(
            get(&rows[0], "Handles").parse::<u32>().expect("handles") >= 3,
            "{rows:?}"
        );
        // The names are the machine's own, sorted by name.
        let all = m.run(hosts::get_process, &[]).expect("all");
        let names: Vec<String> = all.iter().map(|r| get(r, "Name").to_lowercase()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(all.len() > 3);
        // PID 1 and pep itself are refused, and nothing happens to them.
        let e = m
            .run(host_repair::stop_process, &[("Id", 1i64.into())])
            .expect_err("pid 1");
        assert!(e.starts_with("refusing to stop"), "{e}");
        let me = i64::from(std::process::id());
        let e = m
            .run(host_repair::stop_process, &[("Id", me.into())])
            .expect_err("self");
        assert!(e.contains("refusing to stop"), "{e}");
        // -WhatIf changes nothing.
        let out = run_in(
            &m.wd,
            &mut m.stamp,
            host_repair::stop_process,
            &[
                ("ComputerName", m.host.as_str().into()),
                ("Id", i64::from(pid).into()),
            ],
            true,
            Mode::WhatIf,
        );
        assert!(out.result.expect("what if").is_empty());
        assert!(alive(pid));
        let stopped = m
            .run(host_repair::stop_process, &[("Id", i64::from(pid).into())])
            .expect("stopped");
        assert_eq!(get(&stopped[0], "Signal"), "SIGTERM");
        assert!(!alive(pid), "the process is still running");
    }

    #[test]
    fn a_dump_of_a_real_process_is_an_elf_core_in_the_working_directory() {
        let mut m = machine();
        let s = sleeper();
        let pid = s.0.id();
        let out = m
            .run(
                diagnostic_tools::invoke_proc_dump,
                &[("ProcessId", i64::from(pid).into())],
            )
            .expect("dumped");
        let path = m.wd.path().join(get(&out[0], "Path"));
        assert!(get(&out[0], "Path").starts_with("dumps/"), "{out:?}");
        let bytes = std::fs::read(&path).expect("core");
        assert_eq!(&bytes[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([bytes[16], bytes[17]]), 4, "ET_CORE");
        assert!(alive(pid), "the dumped process keeps running");
        let e = m
            .run(
                diagnostic_tools::invoke_proc_dump,
                &[("ProcessId", 1i64.into())],
            )
            .expect_err("pid 1");
        assert!(e.starts_with("refusing to dump"), "{e}");
    }

    #[test]
    fn a_dump_that_does_not_fit_the_quota_is_refused_and_leaves_nothing() {
        let mut m = machine();
        let tmp = tempfile::tempdir().expect("tmp");
        m.wd = WorkingDirectory::new(tmp.path(), Utc::now(), "small", 1 << 20);
        let s = sleeper();
        let e = m
            .run(
                diagnostic_tools::invoke_proc_dump,
                &[("ProcessId", i64::from(s.0.id()).into())],
            )
            .expect_err("too big for 1 MiB");
        assert!(!e.is_empty());
        let dumps = m.wd.path().join("dumps");
        let left: Vec<_> = std::fs::read_dir(&dumps)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
        // Nothing stays reserved: a small file still fits.
        m.wd.write_new("after.txt", b"ok").expect("room is back");
        assert!(alive(s.0.id()));
    }

    #[test]
    fn model_only_commands_refuse_the_real_machine() {
        let mut m = machine();
        // (Folder sizes, copies, removals and the disk clean-up act on the machine: their tests
        // are in file_collection and disk_cleanup, on temporary roots.)
        for (f, args) in [
            (ece::get_dsc_logs as Implementation, vec![]),
            (
                ece::COMMANDS
                    .iter()
                    .find(|(n, _)| *n == "Get-AzsSupportECEComputerRole")
                    .map(|(_, f)| *f)
                    .expect("ece role"),
                vec![],
            ),
        ] {
            let e = m.run(f, &args).expect_err("refused");
            assert!(e.contains("is a real machine"), "{e}");
        }
    }

    #[test]
    fn facts_of_the_machine_are_its_own() {
        let mut m = machine();
        let info = m.run(hosts::get_computer_information, &[]).expect("info");
        assert_eq!(
            get(&info[0], "OSVersion"),
            crate::host::linux::os_pretty_name()
        );
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        assert_eq!(get(&info[0], "LogicalProcessors"), cores.to_string());
        let disks = m.run(hosts::get_disk_space, &[]).expect("disks");
        assert!(
            disks.iter().any(|d| get(d, "DriveLetter") == "/"),
            "{disks:?}"
        );
        let ci = m.run(ece::get_code_integrity, &[]).expect("ci");
        assert!(!get(&ci[0], "KernelLockdown").is_empty());
        let view = m
            .run(diagnostic_tools::invoke_get_net_view, &[])
            .expect("netview");
        assert!(get(&view[0], "Interfaces").contains("lo"), "{view:?}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handles = m
            .run(
                diagnostic_tools::invoke_handle,
                &[("ProcessId", i64::from(std::process::id()).into())],
            )
            .expect("handles");
        assert!(
            handles
                .iter()
                .any(|h| get(h, "Name") == format!("TCP 127.0.0.1:{port} LISTEN")),
            "{handles:?}"
        );
        // Without systemd as PID 1, services are one plain error, not model data.
        if !std::path::Path::new("/run/systemd/system").exists() {
            let e = m.run(hosts::get_service, &[]).expect_err("no systemd");
            assert!(e.contains("systemd is not running"), "{e}");
        }
    }

    #[test]
    fn a_real_packet_trace_captures_loopback_traffic_into_a_pcapng() {
        let Ok(_) = which_dumpcap() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "dumpcap is missing"
            );
            eprintln!("skipped: dumpcap is not installed");
            return;
        };
        let mut m = machine();
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        let port = sock.local_addr().expect("addr").port();
        let on = m
            .run(
                traces::enable_netsh_trace,
                &[
                    ("Interface", "lo".into()),
                    ("Protocol", Value::Array(vec!["UDP".into()])),
                    ("Port", Value::Array(vec![i64::from(port).into()])),
                    ("Duration", 60i64.into()),
                    ("MaxSize", 10i64.into()),
                ],
            )
            .expect("started");
        assert_eq!(get(&on[0], "State"), "Running");
        assert_eq!(get(&on[0], "Filter"), format!("(udp) and (port {port})"));
        let twice = m.run(traces::enable_netsh_trace, &[]).expect_err("twice");
        assert!(twice.contains("already running"), "{twice}");
        for i in 0..50 {
            sock.send_to(format!("pep-marker-{i}").as_bytes(), ("127.0.0.1", port))
                .expect("send");
        }
        let live = m.wd.path().join(get(&on[0], "TraceFile"));
        assert!(crate::host::linux::capture::wait_for_pcapng_packets(&live, 50) >= 50);
        let off = m.run(traces::disable_netsh_trace, &[]).expect("stopped");
        assert_eq!(get(&off[0], "StoppedBy"), "Disable");
        assert!(
            get(&off[0], "Packets").parse::<u64>().expect("n") >= 50,
            "{off:?}"
        );
        let file = get(&off[0], "TraceFile");
        let bytes = std::fs::read(m.wd.path().join(&file)).expect("pcapng");
        assert_eq!(&bytes[..4], &[0x0a, 0x0d, 0x0d, 0x0a]);
        let listed = m.run(traces::get_trace_file_path, &[]).expect("files");
        assert!(listed.iter().any(|f| get(f, "Path") == file), "{listed:?}");
        let events = m
            .run(traces::get_trace_event, &[("Path", file.as_str().into())])
            .expect("events");
        assert!(events.len() >= 50, "{}", events.len());
        assert!(events.iter().all(|e| get(e, "Protocol") == "UDP"));
        let e = m
            .run(traces::disable_netsh_trace, &[])
            .expect_err("none left");
        assert!(e.contains("no packet trace"), "{e}");
    }

    #[test]
    fn services_and_their_journal_on_a_real_systemd_through_the_commands() {
        let container = match crate::host::linux::nspawn::Container::boot_or_skip("pep-cmd-svc") {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => panic!("{e}"),
        };
        container
            .write_unit(
                "peptest-cmd.service",
                "[Unit]\nDescription=pep command test\n[Service]\nExecStart=/bin/sh -c 'while true; do echo peptest-cmd-tick; sleep 1; done'\n",
            )
            .expect("unit");
        let mut m = machine();
        m.stamp.machines.clear();
        m.stamp
            .attach_local_machine_via(container.runner().prefix().to_vec());
        let unit = ("Name", Value::from("peptest-cmd"));
        let listed = m
            .run(hosts::get_service, &[("Name", "peptest-cmd*".into())])
            .expect("listed");
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(get(&listed[0], "State"), "Stopped");
        assert_eq!(get(&listed[0], "DisplayName"), "pep command test");
        let e = m
            .run(host_repair::stop_service, std::slice::from_ref(&unit))
            .expect_err("stopped already");
        assert!(e.contains("already stopped"), "{e}");
        let started = m
            .run(host_repair::start_service, std::slice::from_ref(&unit))
            .expect("start");
        assert_eq!(get(&started[0], "State"), "Running");
        let first = get(&started[0], "ProcessId");
        assert_ne!(first, "0");
        let restarted = m
            .run(host_repair::restart_service, std::slice::from_ref(&unit))
            .expect("restart");
        assert_eq!(get(&restarted[0], "State"), "Running");
        assert_ne!(get(&restarted[0], "ProcessId"), first);
        let e = m
            .run(
                host_repair::stop_service,
                &[("Name", "systemd-journald".into())],
            )
            .expect_err("protected");
        assert!(e.contains("protected") || e.contains("refus"), "{e}");
        // The unit ticks every second; journald in the container writes a little late on a
        // loaded machine.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let events = loop {
            let events = m
                .run(
                    hosts::get_win_event,
                    &[("LogName", Value::Array(vec!["peptest-cmd".into()]))],
                )
                .expect("journal");
            if events
                .iter()
                .any(|e| get(e, "Message") == "peptest-cmd-tick")
                || std::time::Instant::now() > until
            {
                break events;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        };
        assert!(
            events
                .iter()
                .any(|e| get(e, "Message") == "peptest-cmd-tick"),
            "{events:?}"
        );
        assert!(events
            .iter()
            .all(|e| get(e, "LogName") == "peptest-cmd.service"));
        let stopped = m
            .run(host_repair::stop_service, std::slice::from_ref(&unit))
            .expect("stop");
        assert_eq!(get(&stopped[0], "State"), "Stopped");
    }

    /// A Python loop writing a byte and sleeping 50 ms, forever, already in its loop.
    fn python_loop() -> crate::test_process::RunningLoop {
        crate::test_process::RunningLoop::start(
            "import os, time\nwhile True:\n    os.write(1, b'x'); time.sleep(0.05)",
        )
        .expect("python3")
    }

    fn dump_files(v: &Value) -> Vec<String> {
        match v.as_record().and_then(|r| r.get("DumpFiles")) {
            Some(Value::Array(a)) => a.iter().map(Value::to_display).collect(),
            other => panic!("DumpFiles: {other:?}"),
        }
    }

    #[test]
    fn a_wmi_trace_of_the_machine_is_a_bounded_strace_of_one_process() {
        let mut m = machine();
        let py = python_loop();
        let pid = py.pid();
        let started = std::time::Instant::now();
        let out = m
            .run(
                traces::invoke_wmi_tracing,
                &[
                    ("ProcessId", i64::from(pid).into()),
                    ("DurationInSeconds", 2i64.into()),
                ],
            )
            .expect("traced");
        let took = started.elapsed();
        assert!(
            took >= std::time::Duration::from_secs(2) && took < std::time::Duration::from_secs(15),
            "{took:?}"
        );
        assert_eq!(get(&out[0], "ComputerName"), m.host);
        assert_eq!(get(&out[0], "Note"), "real trace: strace");
        // The trace ran for its 2 seconds, plus strace's start and stop on a loaded machine: the
        // reported time is what it really took, never less than asked, never more than the call.
        let secs: Vec<u64> = get(&out[0], "Duration")
            .split(':')
            .map(|p| p.parse().expect("hh:mm:ss"))
            .collect();
        let reported = secs.iter().fold(0, |acc, p| acc * 60 + p);
        assert!(
            (2..=took.as_secs() + 1).contains(&reported),
            "{reported} s reported, {took:?} taken"
        );
        assert_eq!(get(&out[0], "StoppedBy"), "duration");
        assert!(dump_files(&out[0]).is_empty());
        let file = get(&out[0], "TraceFile");
        assert!(
            file.starts_with(&format!("{}_SyscallTrace_{pid}_", m.host))
                && file.ends_with(".strace"),
            "{file}"
        );
        let text = std::fs::read_to_string(m.wd.path().join(&file)).expect("trace file");
        assert!(
            text.contains("clock_nanosleep(") || text.contains("nanosleep("),
            "{text}"
        );
        assert!(text.contains("write(1, \"x\", 1)"), "{text}");
        assert_eq!(get(&out[0], "Syscalls"), text.lines().count().to_string());
        assert!(text.lines().count() > 20, "{text}");
        assert!(alive(pid), "the traced process keeps running");
        // The file is charged to the working directory and readable through its commands.
        assert!(m.wd.used_bytes().expect("used") >= text.len() as u64);
        let lines = run_in(
            &m.wd,
            &mut m.stamp,
            super::super::working_directory::get_file_content,
            &[("Path", file.as_str().into())],
            false,
            Mode::Execute,
        )
        .result
        .expect("content");
        assert!(
            lines
                .iter()
                .any(|l| l.to_display().contains("write(1, \"x\", 1)")),
            "{lines:?}"
        );
        // Refused: no process, a protected process, too long.
        let e = m.run(traces::invoke_wmi_tracing, &[]).expect_err("no pid");
        assert!(e.contains("-ProcessId"), "{e}");
        for protected in [1, i64::from(std::process::id())] {
            let e = m
                .run(
                    traces::invoke_wmi_tracing,
                    &[
                        ("ProcessId", protected.into()),
                        ("DurationInSeconds", 1i64.into()),
                    ],
                )
                .expect_err("protected");
            assert!(e.starts_with("refusing to trace"), "{e}");
        }
        let e = m
            .run(
                traces::invoke_wmi_tracing,
                &[
                    ("ProcessId", i64::from(pid).into()),
                    ("DurationInSeconds", 301i64.into()),
                ],
            )
            .expect_err("too long");
        assert!(e.contains("from 1 to 300 seconds"), "{e}");
        assert!(alive(pid));
    }

    #[test]
    fn a_wmi_trace_with_dumps_leaves_a_core_of_the_traced_process() {
        let mut m = machine();
        let s = sleeper();
        let pid = s.0.id();
        let out = m
            .run(
                traces::invoke_wmi_tracing,
                &[
                    ("ProcessId", i64::from(pid).into()),
                    ("DurationInSeconds", 1i64.into()),
                    ("IncludeDumps", true.into()),
                ],
            )
            .expect("traced");
        let dumps = dump_files(&out[0]);
        assert_eq!(dumps.len(), 1, "{out:?}");
        assert!(
            dumps[0].starts_with("dumps/") && dumps[0].ends_with(".core"),
            "{dumps:?}"
        );
        let bytes = std::fs::read(m.wd.path().join(&dumps[0])).expect("core");
        assert_eq!(&bytes[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([bytes[16], bytes[17]]), 4, "ET_CORE");
        assert!(m.wd.path().join(get(&out[0], "TraceFile")).exists());
        assert!(alive(pid), "traced and dumped, the process keeps running");
    }

    fn which_dumpcap() -> Result<(), ()> {
        ["/usr/bin/dumpcap", "/usr/sbin/dumpcap"]
            .iter()
            .any(|p| std::path::Path::new(p).exists())
            .then_some(())
            .ok_or(())
    }
}
