//! Services of a real Linux machine through systemd: listing the service units with their state,
//! reading one, and starting, stopping or restarting one. Everything goes through `systemctl`
//! with a fixed argv run by a [`Runner`] (unit names only after `--`, validated first). Where
//! PID 1 is not systemd the answer is a plain one-line error, never data from a model.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::runner::{Limits, Output, RunError, Runner};

/// The properties read for every unit, in one `systemctl show` call.
const SHOW_PROPERTIES: &str = "Id,Description,LoadState,ActiveState,SubState,MainPID,\
UnitFileState,NRestarts,Result,ActiveEnterTimestamp";

/// Units per `systemctl show` call when listing (keeps the argv small).
const SHOW_BATCH: usize = 256;

/// How long a start, stop or restart may take (systemd's own default job timeout is 90 s).
const CONTROL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Units no one may start, stop or restart through pep: losing them loses the machine, its
/// remote access, its firewall, its audit trail or pep itself. Matched on the name before `@`
/// and `.service` (and every `systemd-*` unit). The operator adds their own with
/// [`protect_units`] (`pep serve --host-protect-unit`).
const PROTECTED: &[&str] = &[
    // Remote access and the logins behind it.
    "ssh",
    "sshd",
    "sssd",
    "polkit",
    // The system bus and device manager.
    "dbus",
    "dbus-broker",
    // The network: stopping it cuts the machine off.
    "networking",
    "NetworkManager",
    // The firewall: stopping it opens the machine.
    "firewalld",
    "nftables",
    "netfilter-persistent",
    "ufw",
    "iptables",
    "ip6tables",
    // The machine's own record of what happened.
    "auditd",
    "rsyslog",
    "syslog-ng",
    "pep",
];

/// The units the operator protects besides [`PROTECTED`], by base name.
static OPERATOR_PROTECTED: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Adds `names` (`db`, `db.service`, `db@.service` protects every instance) to the units no one
/// may start, stop or restart through pep, nor stop, dump or trace the processes of, for the
/// rest of this process (`pep serve --host-protect-unit`). A name that is not a unit name is
/// refused, and then nothing is added.
pub fn protect_units(names: &[String]) -> Result<(), String> {
    let bases = names
        .iter()
        .map(|n| protected_base(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut held = OPERATOR_PROTECTED
        .write()
        .unwrap_or_else(|p| p.into_inner());
    for b in bases {
        if !held.contains(&b) {
            held.push(b);
        }
    }
    Ok(())
}

/// The base name a protected unit is matched on (`db`, `db.service`, `db@`, `db@.service` →
/// `db`), checked as [`unit_name`] checks one.
pub fn protected_base(name: &str) -> Result<String, String> {
    let unit = unit_name(name.trim_end_matches("@.service").trim_end_matches('@'))?;
    Ok(base_of(&unit).to_string())
}

/// A unit's name before `@` and `.service`.
fn base_of(unit: &str) -> &str {
    let base = unit.trim_end_matches(".service");
    base.split('@').next().unwrap_or(base)
}

/// One service unit as systemd reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    /// The unit id, e.g. `cron.service`.
    pub name: String,
    /// The unit's description (its name when it has none).
    pub description: String,
    /// `loaded`, `not-found`, `masked`, `error`, ...
    pub load_state: String,
    /// `active`, `inactive`, `failed`, `activating`, `deactivating`, ...
    pub active_state: String,
    /// The type-specific state: `running`, `dead`, `exited`, `auto-restart`, ...
    pub sub_state: String,
    /// How it starts, from UnitFileState: `Automatic` (enabled), `Disabled`, `Manual` (static,
    /// indirect, generated), `Masked`, or systemd's own word for anything else.
    pub start_mode: String,
    /// Its main process (0 when none).
    pub main_pid: u32,
    /// Automatic restarts systemd made (`Restart=`); a restart asked for by hand does not count.
    pub restarts: u32,
    /// How it last ended: `success`, `exit-code`, `signal`, `timeout`, ...
    pub result: String,
    /// When it last became active (whole seconds), if ever.
    pub active_since: Option<DateTime<Utc>>,
}

/// What may be done to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ServiceAction {
    /// `systemctl start`.
    Start,
    /// `systemctl stop`.
    Stop,
    /// `systemctl restart`.
    Restart,
}

impl ServiceAction {
    /// The systemctl verb.
    pub fn verb(self) -> &'static str {
        match self {
            ServiceAction::Start => "start",
            ServiceAction::Stop => "stop",
            ServiceAction::Restart => "restart",
        }
    }
}

/// The systemd of one machine, reached through a [`Runner`].
#[derive(Debug, Clone)]
pub struct Systemd {
    runner: Runner,
}

impl Systemd {
    /// The systemd that `runner`'s programs talk to.
    pub fn new(runner: Runner) -> Self {
        Systemd { runner }
    }

    /// Whether systemd runs there; the error says plainly that it does not.
    pub fn available(&self) -> Result<(), String> {
        let out = self.systemctl(&["is-system-running"], Limits::default())?;
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        match state.as_str() {
            "running" | "degraded" | "starting" | "initializing" | "maintenance" | "stopping" => {
                Ok(())
            }
            "offline" => Err(self.not_running("PID 1 is not systemd")),
            _ => Err(format!(
                "systemd on {} could not be asked for its state: {}",
                self.host(),
                first_line(&out, &state)
            )),
        }
    }

    /// Every service unit systemd knows (loaded or referenced, running or not), sorted by name.
    pub fn list(&self) -> Result<Vec<ServiceInfo>, String> {
        let out = self.systemctl(
            &[
                "--no-pager",
                "--output=json",
                "list-units",
                "--type=service",
                "--all",
            ],
            Limits::default(),
        )?;
        if !out.success() {
            return Err(format!(
                "the services of {} could not be listed: {}",
                self.host(),
                first_line(&out, "systemctl list-units failed")
            ));
        }
        if out.truncated {
            return Err(format!(
                "the services of {} could not be listed: systemctl printed too much",
                self.host()
            ));
        }
        let mut units = parse_list_units(&out.stdout)
            .map_err(|e| format!("systemctl list-units printed unreadable JSON: {e}"))?;
        // Installed services systemd has not loaded (never started, not wanted) are services
        // too, as Get-Service lists every installed one: add the unit files (not templates).
        let files = self.systemctl(
            &[
                "--no-pager",
                "--output=json",
                "list-unit-files",
                "--type=service",
            ],
            Limits::default(),
        )?;
        if files.success() && !files.truncated {
            let names = parse_unit_files(&files.stdout)
                .map_err(|e| format!("systemctl list-unit-files printed unreadable JSON: {e}"))?;
            units.extend(names.into_iter().filter(|n| !n.ends_with("@.service")));
            units.sort();
            units.dedup();
        }
        let mut infos = Vec::with_capacity(units.len());
        for batch in units.chunks(SHOW_BATCH) {
            let names: Vec<&str> = batch.iter().map(String::as_str).collect();
            infos.extend(self.show(&names)?);
        }
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        infos.dedup_by(|a, b| a.name == b.name);
        Ok(infos)
    }

    /// One service (`x` or `x.service`); an error when systemd has no such unit.
    pub fn get(&self, name: &str) -> Result<ServiceInfo, String> {
        let unit = unit_name(name)?;
        let info = self
            .show(&[unit.as_str()])?
            .into_iter()
            .next()
            .ok_or_else(|| format!("systemd on {} said nothing about {unit}", self.host()))?;
        if info.load_state == "not-found" {
            return Err(format!("there is no service {unit} on {}", self.host()));
        }
        Ok(info)
    }

    /// Starts, stops or restarts a service (protected units are refused), then reads its state.
    pub fn control(&self, name: &str, action: ServiceAction) -> Result<ServiceInfo, String> {
        let unit = validate_unit(name)?;
        let limits = Limits {
            timeout: CONTROL_TIMEOUT,
            ..Limits::default()
        };
        let out = self.systemctl(
            &["--no-ask-password", action.verb(), "--", unit.as_str()],
            limits,
        )?;
        if !out.success() {
            return Err(format!(
                "could not {} {unit} on {}: {}",
                action.verb(),
                self.host(),
                first_line(&out, "systemctl failed")
            ));
        }
        self.get(&unit)
    }

    /// `systemctl show` for `units` (one block each, blank-line separated).
    fn show(&self, units: &[&str]) -> Result<Vec<ServiceInfo>, String> {
        let mut args = vec!["show", "--timestamp=unix", "-p", SHOW_PROPERTIES, "--"];
        args.extend_from_slice(units);
        let out = self.systemctl(&args, Limits::default())?;
        if !out.success() {
            return Err(format!(
                "systemd on {} could not show {}: {}",
                self.host(),
                units.join(" "),
                first_line(&out, "systemctl show failed")
            ));
        }
        Ok(parse_show(&String::from_utf8_lossy(&out.stdout))
            .iter()
            .map(info_from)
            .collect())
    }

    /// Runs systemctl; "not installed" and "not booted with systemd" become the plain error.
    fn systemctl(&self, args: &[&str], limits: Limits) -> Result<Output, String> {
        match self.runner.run("systemctl", args, limits) {
            Ok(out) if out.stderr.contains("has not been booted with systemd") => {
                Err(self.not_running("PID 1 is not systemd"))
            }
            Ok(out) => Ok(out),
            Err(RunError::NotFound { .. }) => Err(self.not_running("systemctl is not installed")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn not_running(&self, why: &str) -> String {
        format!(
            "systemd is not running on {} ({why}): services cannot be listed or changed",
            self.host()
        )
    }

    /// The machine's name as the runner's programs see it (for messages).
    fn host(&self) -> String {
        host_name(&self.runner)
    }
}

/// The name of the machine `runner` reaches (`uname -n`), or "this machine".
pub(crate) fn host_name(runner: &Runner) -> String {
    runner
        .run("uname", &["-n"], Limits::default())
        .ok()
        .filter(Output::success)
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "this machine".to_string())
}

/// The first error line of `out`, else `fallback`.
fn first_line<'a>(out: &'a Output, fallback: &'a str) -> &'a str {
    match out.first_error_line() {
        "" => fallback,
        line => line,
    }
}

/// A service unit name, syntax only: `x` or `x.service` gives `x.service`. For reading (listing,
/// showing, journal filters); [`validate_unit`] also refuses protected units, for changing.
pub fn unit_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a service name is needed".to_string());
    }
    if name.starts_with('-') {
        return Err(format!(
            "'{name}' is not a service name: it may not start with '-'"
        ));
    }
    let unit = if name.ends_with(".service") {
        name.to_string()
    } else {
        format!("{name}.service")
    };
    let base = &unit[..unit.len() - ".service".len()];
    let ok = !base.is_empty()
        && unit.len() <= 255
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '@' | '-'));
    if !ok {
        return Err(format!(
            "'{name}' is not a service name: only letters, digits and : _ . @ - are allowed"
        ));
    }
    Ok(unit)
}

/// Whether `unit` (`x.service`, `x@i.service`) is one pep never changes, nor lets anyone stop,
/// dump or trace the processes of: [`PROTECTED`] (remote access, the system bus, the network,
/// the firewall, the audit and system logs, pep), every `systemd-*` unit, the operator's
/// [`protect_units`], and the unit pep itself runs in, whatever `pep install --unit` named it.
pub fn is_protected(unit: &str) -> bool {
    let operator = OPERATOR_PROTECTED.read().unwrap_or_else(|p| p.into_inner());
    protects(unit, own_unit(), &operator)
}

/// [`is_protected`], with pep's own unit and the operator's list given.
fn protects(unit: &str, own: Option<&str>, operator: &[String]) -> bool {
    let base = base_of(unit);
    PROTECTED.contains(&base)
        || base.starts_with("systemd-")
        || operator.iter().any(|o| o == base)
        || own.is_some_and(|own| own == unit || own.trim_end_matches(".service") == base)
}

/// The service unit this process runs in (from its cgroup), read once: none when pep is not run
/// by systemd as a service.
fn own_unit() -> Option<&'static str> {
    static OWN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    OWN.get_or_init(|| unit_of_process(std::process::id()))
        .as_deref()
}

/// The service unit process `pid` runs in, from its cgroup (`/system.slice/ssh.service`), if any.
pub fn unit_of_process(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .filter_map(|l| l.rsplit(':').next())
        .flat_map(|path| path.rsplit('/').find(|seg| seg.ends_with(".service")))
        .next()
        .map(str::to_string)
}

/// A service unit that may be started, stopped or restarted: [`unit_name`], and not a protected
/// unit ([`is_protected`]).
pub fn validate_unit(name: &str) -> Result<String, String> {
    let unit = unit_name(name)?;
    if is_protected(&unit) {
        return Err(format!(
            "{unit} is protected: stopping or restarting it could cut off the machine, its remote \
             access or pep itself, so pep does not change it"
        ));
    }
    Ok(unit)
}

/// The unit names in `systemctl --output=json list-units`.
fn parse_list_units(json: &[u8]) -> Result<Vec<String>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Row {
        unit: String,
    }
    let rows: Vec<Row> = serde_json::from_slice(json)?;
    Ok(rows.into_iter().map(|r| r.unit).collect())
}

/// The unit names of `systemctl --output=json list-unit-files`.
fn parse_unit_files(json: &[u8]) -> Result<Vec<String>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Row {
        unit_file: String,
    }
    let rows: Vec<Row> = serde_json::from_slice(json)?;
    Ok(rows.into_iter().map(|r| r.unit_file).collect())
}

/// `systemctl show` output: one `key=value` map per blank-line separated block.
fn parse_show(text: &str) -> Vec<HashMap<String, String>> {
    let mut blocks = Vec::new();
    let mut cur = HashMap::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                blocks.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            cur.insert(k.to_string(), v.to_string());
        }
    }
    if !cur.is_empty() {
        blocks.push(cur);
    }
    blocks
}

/// The start mode a user reads, from systemd's UnitFileState.
fn start_mode(unit_file_state: &str) -> String {
    match unit_file_state {
        "enabled" | "enabled-runtime" => "Automatic",
        "disabled" => "Disabled",
        "static" | "indirect" | "generated" => "Manual",
        "masked" | "masked-runtime" => "Masked",
        other => other,
    }
    .to_string()
}

fn info_from(p: &HashMap<String, String>) -> ServiceInfo {
    let s = |k: &str| p.get(k).cloned().unwrap_or_default();
    let n = |k: &str| p.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
    ServiceInfo {
        name: s("Id"),
        description: s("Description"),
        load_state: s("LoadState"),
        active_state: s("ActiveState"),
        sub_state: s("SubState"),
        start_mode: start_mode(&s("UnitFileState")),
        main_pid: n("MainPID"),
        restarts: n("NRestarts"),
        result: s("Result"),
        active_since: p
            .get("ActiveEnterTimestamp")
            .and_then(|v| v.strip_prefix('@'))
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|&secs| secs > 0)
            .and_then(|secs| DateTime::from_timestamp(secs, 0)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::host::linux::journal::{self, JournalQuery};
    use crate::host::linux::nspawn::Container;

    #[test]
    fn the_unit_pep_runs_in_is_protected_whatever_its_name() {
        assert!(!protects("support-gw.service", None, &[]));
        assert!(protects(
            "support-gw.service",
            Some("support-gw.service"),
            &[]
        ));
        assert!(protects(
            "support-gw@1.service",
            Some("support-gw.service"),
            &[]
        ));
        assert!(!protects("cron.service", Some("support-gw.service"), &[]));
        assert!(protects("pep.service", Some("support-gw.service"), &[]));
    }

    #[test]
    fn the_network_firewall_and_audit_are_protected_and_the_operator_adds_units() {
        for unit in [
            "networking.service",
            "NetworkManager.service",
            "ufw.service",
            "nftables.service",
            "auditd.service",
            "rsyslog.service",
            "systemd-networkd.service",
        ] {
            assert!(protects(unit, None, &[]), "{unit}");
        }
        let db = vec!["postgresql".to_string()];
        assert!(protects("postgresql.service", None, &db));
        assert!(protects("postgresql@15-main.service", None, &db));
        assert!(!protects("postgresql-backup.service", None, &db));
        assert!(!protects("cron.service", None, &db));
        // The names are checked before anything is added.
        let e = protect_units(&["ok-unit".into(), "bad/unit".into()]).expect_err("bad");
        assert!(e.contains("not a service name"), "{e}");
        assert!(!is_protected("ok-unit.service"));
        protect_units(&[
            "peptest-guarded-a".into(),
            "peptest-guarded-b@.service".into(),
        ])
        .expect("protected");
        assert!(is_protected("peptest-guarded-a.service"));
        assert!(is_protected("peptest-guarded-b@x.service"));
        let e = validate_unit("peptest-guarded-a").expect_err("refused");
        assert!(e.contains("is protected"), "{e}");
    }

    #[test]
    fn unit_names_are_checked_and_protected_units_refused() {
        assert_eq!(validate_unit("cron").as_deref(), Ok("cron.service"));
        assert_eq!(validate_unit("cron.service").as_deref(), Ok("cron.service"));
        assert_eq!(
            validate_unit("getty@tty1").as_deref(),
            Ok("getty@tty1.service")
        );
        for bad in ["-x", "../x", "a;b", "a b", "", ".service", "x/y.service"] {
            let err = validate_unit(bad).expect_err(bad);
            assert!(!err.contains('\n'), "{err}");
            assert!(
                err.contains("not a service name") || err.contains("needed"),
                "{err}"
            );
        }
        for protected in [
            "ssh",
            "sshd.service",
            "dbus",
            "systemd-journald",
            "systemd-logind",
            "systemd-udevd",
            "systemd-networkd",
            "pep",
            "sshd@1-10.0.0.1:22-10.0.0.2:5000",
        ] {
            let err = validate_unit(protected).expect_err(protected);
            assert!(err.contains("is protected"), "{err}");
        }
        // Reading a protected unit is fine.
        assert_eq!(
            unit_name("systemd-journald").as_deref(),
            Ok("systemd-journald.service")
        );
        assert_eq!(
            validate_unit("peptest-echo").as_deref(),
            Ok("peptest-echo.service")
        );
    }

    #[test]
    fn show_blocks_become_services() {
        let text = "MainPID=0\nNRestarts=0\nId=cron.service\nDescription=cron.service\n\
LoadState=not-found\nUnitFileState=\nActiveEnterTimestamp=\n\n\
MainPID=19\nNRestarts=2\nId=systemd-journald.service\nDescription=Journal Service\n\
LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\n\
UnitFileState=static\nActiveEnterTimestamp=@1796206782\n";
        let infos: Vec<ServiceInfo> = parse_show(text).iter().map(info_from).collect();
        assert_eq!(infos.len(), 2);
        assert_eq!(infos[0].name, "cron.service");
        assert_eq!(infos[0].active_since, None);
        assert_eq!(infos[1].description, "Journal Service");
        assert_eq!(infos[1].start_mode, "Manual");
        assert_eq!(infos[1].main_pid, 19);
        assert_eq!(infos[1].restarts, 2);
        assert_eq!(
            infos[1].active_since.map(|t| t.timestamp()),
            Some(1796206782)
        );
        assert_eq!(start_mode("enabled"), "Automatic");
        assert_eq!(start_mode("disabled"), "Disabled");
        assert_eq!(start_mode("masked"), "Masked");
        assert_eq!(start_mode("alias"), "alias");
    }

    #[test]
    fn without_systemd_as_pid_1_services_say_so_plainly() {
        let sd = Systemd::new(Runner::local());
        if std::path::Path::new("/run/systemd/system").exists() {
            assert_eq!(sd.available(), Ok(()));
            return;
        }
        let err = sd.available().expect_err("no systemd here");
        assert!(err.starts_with("systemd is not running on "), "{err}");
        assert!(
            err.ends_with("(PID 1 is not systemd): services cannot be listed or changed"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        assert_eq!(sd.list().expect_err("no data without systemd"), err);
        assert_eq!(sd.get("cron").expect_err("no data without systemd"), err);
        assert_eq!(
            sd.control("cron", ServiceAction::Start)
                .expect_err("no change without systemd"),
            err
        );
    }

    const ECHO_UNIT: &str = "[Unit]\nDescription=pep test echo\n\n[Service]\n\
ExecStart=/bin/sh -c 'while true; do echo peptest-tick; sleep 1; done'\n";

    const FLAP_UNIT: &str = "[Unit]\nDescription=pep test flap\nStartLimitIntervalSec=0\n\n\
[Service]\nExecStart=/bin/sh -c 'echo peptest-flap; exit 3'\nRestart=always\nRestartSec=200ms\n";

    /// Waits (bounded) until `f` gives `Some`.
    fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(started.elapsed() < limit, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One container for everything that needs a real systemd (boot is about a second).
    #[test]
    fn a_real_systemd_starts_restarts_stops_lists_and_logs_a_service() {
        let started = Instant::now();
        let Some(container) = Container::boot_or_skip("peptest-sd").expect("container boots")
        else {
            return;
        };
        eprintln!("container booted in {:?}", started.elapsed());
        let sd = Systemd::new(container.runner());
        sd.available().expect("systemd runs in the container");

        container
            .write_unit("peptest-echo.service", ECHO_UNIT)
            .expect("unit written");
        container
            .write_unit("peptest-flap.service", FLAP_UNIT)
            .expect("unit written");

        let before = sd.get("peptest-echo").expect("unit known");
        assert_eq!(before.name, "peptest-echo.service");
        assert_eq!(before.load_state, "loaded");
        assert_eq!(before.active_state, "inactive");
        assert_eq!(before.start_mode, "Manual", "no [Install]: static");
        assert_eq!(before.main_pid, 0);

        // Start.
        let t0 = Utc::now();
        let on = sd
            .control("peptest-echo", ServiceAction::Start)
            .expect("starts");
        assert_eq!(on.active_state, "active", "{on:?}");
        assert_eq!(on.sub_state, "running", "{on:?}");
        assert!(on.main_pid > 0, "{on:?}");
        let since = on.active_since.expect("active since");
        assert!(
            since.timestamp() >= t0.timestamp() - 1 && since <= Utc::now(),
            "{since} vs {t0}"
        );

        // Restart: a new main process; a restart by hand is not an automatic restart.
        std::thread::sleep(Duration::from_millis(1500));
        let again = sd
            .control("peptest-echo.service", ServiceAction::Restart)
            .expect("restarts");
        assert_eq!(again.active_state, "active");
        assert!(
            again.main_pid > 0 && again.main_pid != on.main_pid,
            "{again:?}"
        );
        assert_eq!(again.restarts, 0, "systemd counts only automatic restarts");

        // Automatic restarts are counted.
        sd.control("peptest-flap", ServiceAction::Start)
            .expect("starts");
        let flapped = wait_for("automatic restarts", Duration::from_secs(15), || {
            sd.get("peptest-flap").ok().filter(|i| i.restarts >= 2)
        });
        assert_eq!(flapped.name, "peptest-flap.service");
        sd.control("peptest-flap", ServiceAction::Stop)
            .expect("stops");

        // Listing.
        let all = sd.list().expect("lists");
        assert!(all.windows(2).all(|w| w[0].name < w[1].name), "sorted");
        assert!(all.iter().all(|s| s.name.ends_with(".service")));
        let listed = all
            .iter()
            .find(|s| s.name == "peptest-echo.service")
            .expect("listed");
        assert_eq!(listed.description, "pep test echo");
        assert_eq!(listed.main_pid, again.main_pid);
        let journald = all
            .iter()
            .find(|s| s.name == "systemd-journald.service")
            .expect("journald listed");
        assert_eq!(journald.active_state, "active");

        // Protected and missing units.
        let err = sd
            .control("systemd-journald", ServiceAction::Stop)
            .expect_err("protected");
        assert!(err.contains("is protected"), "{err}");
        assert_eq!(
            sd.get("systemd-journald").expect("readable").active_state,
            "active"
        );
        let err = sd.get("peptest-missing").expect_err("missing");
        assert!(
            err.contains("there is no service peptest-missing.service"),
            "{err}"
        );
        let err = sd
            .control("peptest-missing", ServiceAction::Start)
            .expect_err("missing");
        assert!(
            err.starts_with("could not start peptest-missing.service"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");

        // Its journal: the ticks, newest last, inside the window.
        let q = JournalQuery {
            unit: Some("peptest-echo".into()),
            since: Some(t0 - chrono::Duration::seconds(1)),
            until: None,
            max_level: None,
            grep: None,
            limit: 200,
        };
        // journald in the container writes a little late on a loaded machine.
        let (entries, t1) = wait_for(
            "three ticks of the restarted unit",
            Duration::from_secs(20),
            || {
                let entries = journal::read(&container.runner(), &q).expect("journal read");
                let t1 = Utc::now();
                let ticks = entries.iter().filter(|e| e.message == "peptest-tick");
                let mine = ticks.clone().any(|e| e.pid == again.main_pid);
                (ticks.count() >= 3 && mine).then_some((entries, t1))
            },
        );
        let ticks: Vec<_> = entries
            .iter()
            .filter(|e| e.message == "peptest-tick")
            .collect();
        assert!(ticks.len() >= 3, "{entries:#?}");
        for e in &ticks {
            assert_eq!(e.level, "Information");
            assert_eq!(e.unit, "peptest-echo.service");
            assert_eq!(e.identifier, "sh");
            assert!(
                e.time >= t0 - chrono::Duration::seconds(1) && e.time <= t1,
                "{e:?}"
            );
            assert!(e.host.starts_with("peptest-sd"), "{e:?}");
        }
        assert!(ticks.iter().any(|e| e.pid == again.main_pid), "{ticks:#?}");
        assert!(
            entries.windows(2).all(|w| w[0].time <= w[1].time),
            "newest last"
        );
        assert!(
            entries
                .iter()
                .any(|e| e.message.starts_with("Started peptest-echo.service")),
            "systemd's own lines about the unit: {entries:#?}"
        );

        // Filters: level, grep, limit, a window that ends before the start.
        let errors_only = journal::read(
            &container.runner(),
            &JournalQuery {
                max_level: Some(3),
                ..q.clone()
            },
        )
        .expect("journal read");
        assert!(errors_only.iter().all(|e| e.message != "peptest-tick"));
        let grepped = journal::read(
            &container.runner(),
            &JournalQuery {
                grep: Some("peptest-tick".into()),
                ..q.clone()
            },
        )
        .expect("journal read");
        assert!(!grepped.is_empty());
        assert!(grepped.iter().all(|e| e.message.contains("peptest-tick")));
        // The text filter is literal: '.' is no wildcard, and no match is no error.
        let literal = journal::read(
            &container.runner(),
            &JournalQuery {
                grep: Some("peptest.tick".into()),
                ..q.clone()
            },
        )
        .expect("no match is not an error");
        assert!(literal.is_empty(), "{literal:#?}");
        let last_two = journal::read(
            &container.runner(),
            &JournalQuery {
                limit: 2,
                ..q.clone()
            },
        )
        .expect("journal read");
        assert_eq!(last_two.len(), 2);
        assert!(
            last_two[1].time >= ticks[ticks.len() - 1].time,
            "{last_two:#?} {entries:#?}"
        );
        let before_start = journal::read(
            &container.runner(),
            &JournalQuery {
                since: Some(t0 - chrono::Duration::seconds(3600)),
                until: Some(t0 - chrono::Duration::seconds(2)),
                ..q.clone()
            },
        )
        .expect("journal read");
        assert!(before_start.iter().all(|e| e.message != "peptest-tick"));

        // Stop.
        let off = sd
            .control("peptest-echo", ServiceAction::Stop)
            .expect("stops");
        assert_eq!(off.active_state, "inactive", "{off:?}");
        assert_eq!(off.main_pid, 0);

        let stopping = Instant::now();
        drop(container);
        eprintln!("container stopped in {:?}", stopping.elapsed());
    }
}
