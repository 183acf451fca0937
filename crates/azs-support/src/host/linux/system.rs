//! Facts about the real machine: its identity, memory and clock ([`computer_info`]), its mounted
//! file systems ([`volumes`]), its network interfaces, routes and listening sockets ([`net_view`]),
//! and its code-integrity settings ([`code_integrity`]). Read from procfs and sysfs; the network
//! configuration comes from iproute2's JSON output through [`Runner`].

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::runner::{Limits, Runner};

/// Who the machine is and what it has: what `Get-ComputerInfo` shows on Windows.
#[derive(Debug, Clone, Serialize)]
pub struct ComputerInfo {
    /// The host name, as `hostname` prints it.
    pub host_name: String,
    /// The distribution (`PRETTY_NAME` of `/etc/os-release`), e.g. "Debian GNU/Linux 12 (bookworm)".
    pub os: String,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// The machine architecture (`uname -m`), e.g. "x86_64".
    pub architecture: String,
    /// The processor model, from `/proc/cpuinfo` ("Unknown" when it does not say).
    pub cpu_model: String,
    /// Logical processors online.
    pub logical_processors: u32,
    /// Physical memory the kernel manages (`MemTotal`).
    pub memory_total_bytes: u64,
    /// Memory available to new work without swapping (`MemAvailable`).
    pub memory_available_bytes: u64,
    /// When the machine booted.
    pub boot_time: DateTime<Utc>,
    /// Seconds since boot.
    pub uptime_seconds: u64,
    /// The machine's local time now, RFC 3339 with its UTC offset.
    pub local_time: String,
    /// The time zone (`/etc/timezone`, else the `/etc/localtime` link), "UTC" when neither says.
    pub time_zone: String,
}

/// Collects [`ComputerInfo`] from uname, procfs and `/etc`.
pub fn computer_info() -> Result<ComputerInfo, String> {
    let uname = rustix::system::uname();
    let meminfo = read("/proc/meminfo")?;
    let memory = |key: &str| {
        meminfo_kib(&meminfo, key)
            .map(|kib| kib * 1024)
            .ok_or_else(|| format!("/proc/meminfo does not show {key}"))
    };
    let uptime = read("/proc/uptime")?;
    let uptime_seconds = uptime
        .split_whitespace()
        .next()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or("/proc/uptime could not be read as seconds")?;
    let stat = read("/proc/stat")?;
    let boot_time = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .ok_or("/proc/stat does not show the boot time")?;
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Ok(ComputerInfo {
        host_name: host_name(),
        os: os_name(),
        kernel: uname.release().to_string_lossy().into_owned(),
        architecture: uname.machine().to_string_lossy().into_owned(),
        cpu_model: cpu_model(&cpuinfo),
        logical_processors: logical_processors(&cpuinfo),
        memory_total_bytes: memory("MemTotal")?,
        memory_available_bytes: memory("MemAvailable")?,
        boot_time,
        uptime_seconds: uptime_seconds as u64,
        local_time: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        time_zone: time_zone(),
    })
}

/// The host name, as `hostname` prints it (the kernel's node name).
pub fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// Reads a whole procfs/sysfs/etc file, with a one-line error naming it.
fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path} could not be read: {e}"))
}

/// A `Key:   123 kB` value of `/proc/meminfo`, in KiB.
fn meminfo_kib(meminfo: &str, key: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == key).then(|| v.split_whitespace().next()?.parse().ok())?
    })
}

/// `PRETTY_NAME` of os-release, unquoted; "Linux" when there is none.
fn os_name() -> String {
    ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|text| {
            text.lines().find_map(|l| {
                let v = l.strip_prefix("PRETTY_NAME=")?.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                    .unwrap_or(v);
                (!v.is_empty()).then(|| v.to_string())
            })
        })
        .unwrap_or_else(|| "Linux".to_string())
}

/// The processor model: x86's `model name`, else what ARM kernels print.
fn cpu_model(cpuinfo: &str) -> String {
    ["model name", "Model", "Hardware", "cpu model", "cpu"]
        .iter()
        .find_map(|key| {
            cpuinfo.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "Unknown".to_string())
}

/// Logical processors online (`/sys/devices/system/cpu/online`, e.g. "0-3,6"), else the
/// `processor` lines of `/proc/cpuinfo`.
fn logical_processors(cpuinfo: &str) -> u32 {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| count_cpu_list(s.trim()));
    online.unwrap_or_else(|| {
        let n = cpuinfo
            .lines()
            .filter(|l| l.split(':').next().map(str::trim) == Some("processor"))
            .count();
        u32::try_from(n.max(1)).unwrap_or(u32::MAX)
    })
}

/// Counts a kernel CPU list ("0-3,6" → 5).
fn count_cpu_list(list: &str) -> Option<u32> {
    let mut n = 0u32;
    for part in list.split(',').filter(|p| !p.is_empty()) {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<u32>().ok()?.checked_sub(a.parse::<u32>().ok()?)? + 1,
            None => part.parse::<u32>().map(|_| 1).ok()?,
        };
    }
    (n > 0).then_some(n)
}

/// `/etc/timezone`, else the zone `/etc/localtime` links to, else "UTC".
fn time_zone() -> String {
    if let Ok(tz) = std::fs::read_to_string("/etc/timezone") {
        let tz = tz.trim();
        if !tz.is_empty() {
            return tz.to_string();
        }
    }
    std::fs::read_link("/etc/localtime")
        .ok()
        .and_then(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .split_once("zoneinfo/")
                .map(|(_, zone)| zone.to_string())
        })
        .filter(|z| !z.is_empty())
        .unwrap_or_else(|| "UTC".to_string())
}

/// A mounted file system with its space, like a line of `df`.
#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    /// Where it is mounted.
    pub mount_point: String,
    /// What is mounted (a block device, or a name such as "tmpfs" or "overlay").
    pub device: String,
    /// Its type, e.g. "ext4", "xfs", "tmpfs".
    pub file_system: String,
    /// Total size.
    pub size_bytes: u64,
    /// Free space, including what is reserved for root.
    pub free_bytes: u64,
    /// Free space an unprivileged user may use (what `df` calls available).
    pub available_bytes: u64,
    /// Used space as `df` computes it: used / (used + available), in percent, one decimal.
    pub used_percent: f64,
}

/// Kernel and pseudo file systems that hold no user data.
const PSEUDO_FILE_SYSTEMS: &[&str] = &[
    "proc",
    "sysfs",
    "devpts",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "autofs",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "binfmt_misc",
    "nsfs",
    "efivarfs",
    "rpc_pipefs",
];

/// The machine's real file systems: every mount of `/proc/self/mountinfo` except kernel and
/// pseudo file systems, anything mounted under `/proc` or `/sys`, files bind-mounted onto files
/// (a container's `/etc/hosts`) and file systems with no blocks; each mount point once (the mount
/// on top), sorted by mount point.
pub fn volumes() -> Result<Vec<Volume>, String> {
    let mountinfo = read("/proc/self/mountinfo")?;
    // Later lines are mounted on top of earlier ones at the same point: the last one is visible.
    let mut mounts: BTreeMap<String, (String, String)> = BTreeMap::new();
    for line in mountinfo.lines() {
        let Some((mount_point, file_system, device)) = parse_mountinfo_line(line) else {
            continue;
        };
        mounts.insert(mount_point, (file_system, device));
    }
    let mut volumes = Vec::new();
    for (mount_point, (file_system, device)) in mounts {
        if PSEUDO_FILE_SYSTEMS.contains(&file_system.as_str())
            || file_system.starts_with("cgroup")
            || ["/proc", "/sys"]
                .iter()
                .any(|p| mount_point == *p || mount_point.starts_with(&format!("{p}/")))
        {
            continue;
        }
        if !std::fs::metadata(&mount_point).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        // A mount that cannot be asked (gone, or no permission) is left out rather than failing
        // the whole list.
        let Ok(st) = rustix::fs::statvfs(mount_point.as_str()) else {
            continue;
        };
        if st.f_blocks == 0 {
            continue;
        }
        let unit = st.f_frsize.max(1);
        let size_bytes = st.f_blocks.saturating_mul(unit);
        let free_bytes = st.f_bfree.saturating_mul(unit);
        let available_bytes = st.f_bavail.saturating_mul(unit);
        let used = size_bytes.saturating_sub(free_bytes);
        let used_percent = if used + available_bytes == 0 {
            0.0
        } else {
            (used as f64 * 1000.0 / (used + available_bytes) as f64).round() / 10.0
        };
        volumes.push(Volume {
            mount_point,
            device,
            file_system,
            size_bytes,
            free_bytes,
            available_bytes,
            used_percent,
        });
    }
    Ok(volumes)
}

/// Mount point, file-system type and source of one `/proc/self/mountinfo` line
/// (`36 35 98:0 /root /mnt opts [optional...] - type source superopts`).
fn parse_mountinfo_line(line: &str) -> Option<(String, String, String)> {
    let (left, right) = line.split_once(" - ")?;
    let mount_point = left.split(' ').nth(4)?;
    let mut right = right.split(' ');
    let file_system = right.next()?;
    let device = right.next().unwrap_or("");
    Some((
        unescape_octal(mount_point),
        unescape_octal(file_system),
        unescape_octal(device),
    ))
}

/// Undoes the kernel's octal escapes in mountinfo (`\040` space, `\011` tab, `\012` newline,
/// `\134` backslash).
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(b) = u8::try_from(value) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The machine's network: interfaces with their addresses, routes, and listening sockets.
#[derive(Debug, Clone, Serialize)]
pub struct NetView {
    /// Every interface, in the kernel's order.
    pub interfaces: Vec<Interface>,
    /// IPv4 then IPv6 routes of the main table.
    pub routes: Vec<Route>,
    /// Sockets waiting for connections (TCP) or datagrams (UDP), sorted by protocol and port.
    pub listening: Vec<Listener>,
}

/// A network interface.
#[derive(Debug, Clone, Serialize)]
pub struct Interface {
    /// Its name, e.g. "eth0".
    pub name: String,
    /// Its link-layer address ("" when it has none).
    pub mac: String,
    /// Its MTU in bytes.
    pub mtu: u32,
    /// Its operational state as the kernel says it ("UP", "DOWN", "UNKNOWN" ...).
    pub state: String,
    /// Its IPv4 and IPv6 addresses with prefix length, e.g. "127.0.0.1/8".
    pub addresses: Vec<String>,
}

/// A route.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// The destination network ("default" for the default route).
    pub destination: String,
    /// The next hop ("" for a directly connected network).
    pub gateway: String,
    /// The interface it goes out of.
    pub interface: String,
    /// Its metric (0 when none is set).
    pub metric: u32,
}

/// A listening socket.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listener {
    /// "TCP", "TCP6", "UDP" or "UDP6".
    pub protocol: String,
    /// The address it is bound to ("0.0.0.0" or "::" for every address).
    pub local_address: String,
    /// Its port.
    pub port: u16,
}

/// Interfaces and routes from `ip -j` (iproute2), listening sockets from `/proc/net`.
pub fn net_view() -> Result<NetView, String> {
    let runner = Runner::local();
    let addresses = ip_json(&runner, &["-j", "address", "show"])?;
    let mut routes = parse_routes(&ip_json(&runner, &["-j", "-4", "route", "show"])?);
    // A machine without IPv6 answers with an error or nothing; its IPv4 routes still stand.
    if let Ok(v6) = ip_json(&runner, &["-j", "-6", "route", "show"]) {
        routes.extend(parse_routes(&v6));
    }
    let mut listening = Vec::new();
    for (file, protocol, want_state) in [
        ("/proc/net/tcp", "TCP", "0A"),
        ("/proc/net/tcp6", "TCP6", "0A"),
        ("/proc/net/udp", "UDP", "07"),
        ("/proc/net/udp6", "UDP6", "07"),
    ] {
        // tcp6/udp6 are absent when IPv6 is disabled.
        if let Ok(text) = std::fs::read_to_string(file) {
            listening.extend(parse_proc_net(&text, protocol, want_state));
        }
    }
    listening.sort_by(|a, b| {
        (&a.protocol, a.port, &a.local_address).cmp(&(&b.protocol, b.port, &b.local_address))
    });
    listening.dedup();
    Ok(NetView {
        interfaces: parse_interfaces(&addresses),
        routes,
        listening,
    })
}

/// Runs `ip ARGS` and parses its JSON.
fn ip_json(runner: &Runner, args: &[&str]) -> Result<serde_json::Value, String> {
    let limits = Limits {
        timeout: Duration::from_secs(10),
        ..Limits::default()
    };
    let out = runner
        .run("ip", args, limits)
        .map_err(|e| format!("{e} (iproute2 is needed for the network view)"))?;
    if !out.success() || out.truncated {
        return Err(format!(
            "ip {} failed: {}",
            args.join(" "),
            if out.truncated {
                "its output was too large"
            } else {
                out.first_error_line()
            }
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("ip {} printed something unexpected: {e}", args.join(" ")))
}

fn json_str(v: &serde_json::Value, key: &str) -> String {
    v.get(key)
        .and_then(|s| s.as_str())
        .unwrap_or("")
        .to_string()
}

fn json_u32(v: &serde_json::Value, key: &str) -> u32 {
    v.get(key)
        .and_then(|n| n.as_u64())
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

/// Interfaces from `ip -j address show`.
fn parse_interfaces(json: &serde_json::Value) -> Vec<Interface> {
    let Some(links) = json.as_array() else {
        return Vec::new();
    };
    links
        .iter()
        .map(|link| Interface {
            name: json_str(link, "ifname"),
            mac: json_str(link, "address"),
            mtu: json_u32(link, "mtu"),
            state: json_str(link, "operstate"),
            addresses: link
                .get("addr_info")
                .and_then(|a| a.as_array())
                .map(|infos| {
                    infos
                        .iter()
                        .filter(|i| i.get("local").is_some())
                        .map(|i| format!("{}/{}", json_str(i, "local"), json_u32(i, "prefixlen")))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Routes from `ip -j route show`.
fn parse_routes(json: &serde_json::Value) -> Vec<Route> {
    let Some(routes) = json.as_array() else {
        return Vec::new();
    };
    routes
        .iter()
        .map(|r| Route {
            destination: json_str(r, "dst"),
            gateway: json_str(r, "gateway"),
            interface: json_str(r, "dev"),
            metric: json_u32(r, "metric"),
        })
        .collect()
}

/// Sockets in state `want_state` (hex, as the kernel prints it) of a `/proc/net/{tcp,udp}[6]`
/// table.
fn parse_proc_net(text: &str, protocol: &str, want_state: &str) -> Vec<Listener> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1)?;
            let state = fields.nth(1)?;
            if !state.eq_ignore_ascii_case(want_state) {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            Some(Listener {
                protocol: protocol.to_string(),
                local_address: proc_net_address(addr)?,
                port: u16::from_str_radix(port, 16).ok()?,
            })
        })
        .collect()
}

/// An address of `/proc/net`: 32-bit words in hex, each in the machine's byte order.
fn proc_net_address(hex: &str) -> Option<String> {
    let words = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<Vec<u32>>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    match bytes.len() {
        4 => Some(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            Some(Ipv6Addr::from(octets).to_string())
        }
        _ => None,
    }
}

/// What guards the code the kernel runs.
#[derive(Debug, Clone, Serialize)]
pub struct CodeIntegrity {
    /// UEFI Secure Boot: "Enabled", "Disabled" (also when UEFI has no SecureBoot variable), or
    /// "Unknown (not booted with UEFI)".
    pub secure_boot: String,
    /// Kernel lockdown mode: "none", "integrity" or "confidentiality"; "Unavailable" when the
    /// kernel has no lockdown support (or securityfs is not mounted).
    pub kernel_lockdown: String,
    /// Whether the kernel loads only signed modules: "Yes", "No", or "Unknown" when the kernel
    /// does not say (built without module signing).
    pub module_signatures_enforced: String,
    /// The kernel's taint flags (`/proc/sys/kernel/tainted`; 0 = untainted, also when unreadable).
    pub kernel_tainted: u64,
}

/// The EFI variable holding the Secure Boot state (4 bytes of attributes, then 1 = enabled).
const SECURE_BOOT_VAR: &str =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

/// Reads Secure Boot, lockdown, module-signature enforcement and taint; never fails (what cannot
/// be read is said in the fields).
pub fn code_integrity() -> CodeIntegrity {
    let secure_boot = if !std::path::Path::new("/sys/firmware/efi").exists() {
        "Unknown (not booted with UEFI)"
    } else {
        match std::fs::read(SECURE_BOOT_VAR) {
            Ok(bytes) if bytes.last() == Some(&1) => "Enabled",
            _ => "Disabled",
        }
    };
    let kernel_lockdown = std::fs::read_to_string("/sys/kernel/security/lockdown")
        .ok()
        .and_then(|s| bracketed(&s).map(str::to_string))
        .unwrap_or_else(|| "Unavailable".to_string());
    let module_signatures_enforced =
        match std::fs::read_to_string("/sys/module/module/parameters/sig_enforce") {
            Ok(s) if s.trim() == "Y" => "Yes",
            Ok(s) if s.trim() == "N" => "No",
            _ => "Unknown",
        };
    let kernel_tainted = std::fs::read_to_string("/proc/sys/kernel/tainted")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    CodeIntegrity {
        secure_boot: secure_boot.to_string(),
        kernel_lockdown,
        module_signatures_enforced: module_signatures_enforced.to_string(),
        kernel_tainted,
    }
}

/// The word in brackets of a sysfs choice list ("none [integrity] confidentiality").
fn bracketed(s: &str) -> Option<&str> {
    let start = s.find('[')? + 1;
    let end = start + s[start..].find(']')?;
    Some(&s[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computer_info_matches_the_machine() {
        let info = computer_info().expect("computer info");
        let kernel_host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
        assert_eq!(info.host_name, kernel_host.trim());
        assert_eq!(host_name(), info.host_name);

        let now = Utc::now();
        assert!(info.boot_time < now, "{info:?}");
        let uptime: f64 = std::fs::read_to_string("/proc/uptime")
            .expect("uptime")
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .expect("uptime seconds");
        let implied_boot = now.timestamp() - uptime as i64;
        assert!(
            (info.boot_time.timestamp() - implied_boot).abs() <= 5,
            "boot {} vs now - uptime {implied_boot}",
            info.boot_time
        );
        assert!((info.uptime_seconds as f64 - uptime).abs() <= 5.0);

        let meminfo = std::fs::read_to_string("/proc/meminfo").expect("meminfo");
        let total_kib: u64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("MemTotal");
        assert_eq!(info.memory_total_bytes, total_kib * 1024);
        assert!(info.memory_available_bytes <= info.memory_total_bytes);
        assert!(info.logical_processors >= 1);
        assert!(!info.kernel.is_empty() && !info.architecture.is_empty());
        assert!(
            chrono::DateTime::parse_from_rfc3339(&info.local_time).is_ok(),
            "{}",
            info.local_time
        );
        assert!(!info.time_zone.is_empty());
        if std::path::Path::new("/etc/debian_version").exists() {
            assert!(info.os.contains("Debian"), "{}", info.os);
        }
    }

    #[test]
    fn cpu_lists_count() {
        assert_eq!(count_cpu_list("0-3,6"), Some(5));
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("x"), None);
    }

    #[test]
    fn volumes_show_the_file_system_of_tmp_like_df() {
        let volumes = volumes().expect("volumes");
        assert!(
            volumes
                .iter()
                .all(|v| !["proc", "sysfs"].contains(&v.file_system.as_str())
                    && !v.file_system.starts_with("cgroup")),
            "{volumes:#?}"
        );
        let mut seen = std::collections::HashSet::new();
        assert!(volumes.iter().all(|v| seen.insert(v.mount_point.clone())));
        assert!(volumes
            .windows(2)
            .all(|w| w[0].mount_point < w[1].mount_point));

        // The volume holding /tmp is the one with the longest mount point that prefixes it.
        let tmp = volumes
            .iter()
            .filter(|v| {
                v.mount_point == "/"
                    || "/tmp" == v.mount_point
                    || "/tmp".starts_with(&format!("{}/", v.mount_point))
            })
            .max_by_key(|v| v.mount_point.len())
            .expect("a volume holds /tmp");
        let out = Runner::local()
            .run(
                "df",
                &["-B1", "--output=size,avail", "--", "/tmp"],
                Limits::default(),
            )
            .expect("df runs");
        assert!(out.success(), "{}", out.stderr);
        let text = String::from_utf8_lossy(&out.stdout);
        let numbers: Vec<u64> = text
            .lines()
            .nth(1)
            .expect("a df line")
            .split_whitespace()
            .map(|n| n.parse().expect("a number"))
            .collect();
        let near = |a: u64, b: u64| a.abs_diff(b) <= 8 << 20;
        assert!(near(tmp.size_bytes, numbers[0]), "{tmp:?} vs df {text}");
        assert!(
            near(tmp.available_bytes, numbers[1]),
            "{tmp:?} vs df {text}"
        );
        assert!(tmp.free_bytes >= tmp.available_bytes);
        assert!((0.0..=100.0).contains(&tmp.used_percent));
    }

    #[test]
    fn mountinfo_lines_are_parsed_and_unescaped() {
        let line = r"36 35 98:0 / /mnt/my\040disk rw,noatime shared:1 - ext4 /dev/sdb1 rw";
        assert_eq!(
            parse_mountinfo_line(line),
            Some((
                "/mnt/my disk".to_string(),
                "ext4".to_string(),
                "/dev/sdb1".to_string()
            ))
        );
        assert_eq!(unescape_octal(r"a\134b\011"), "a\\b\t");
        assert_eq!(unescape_octal(r"trailing\04"), r"trailing\04");
    }

    #[test]
    fn net_view_shows_loopback_and_a_socket_we_listen_on() {
        if which_ip().is_none() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("iproute2 (ip) is not installed");
            }
            eprintln!("skipped: iproute2 (ip) is not installed yet");
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let udp_port = udp.local_addr().expect("addr").port();
        let view = net_view().expect("net view");
        let lo = view
            .interfaces
            .iter()
            .find(|i| i.name == "lo")
            .expect("lo is listed");
        assert!(lo.addresses.iter().any(|a| a == "127.0.0.1/8"), "{lo:?}");
        assert!(lo.mtu > 0);
        assert!(
            view.listening
                .iter()
                .any(|l| l.protocol == "TCP" && l.local_address == "127.0.0.1" && l.port == port),
            "{port} not in {:?}",
            view.listening
        );
        assert!(
            view.listening
                .iter()
                .any(|l| l.protocol == "UDP" && l.port == udp_port),
            "{udp_port} not in {:?}",
            view.listening
        );
        // A connected (not listening) TCP socket is not listed.
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let client_port = client.local_addr().expect("addr").port();
        let view = net_view().expect("net view");
        assert!(!view
            .listening
            .iter()
            .any(|l| l.protocol == "TCP" && l.port == client_port));
    }

    fn which_ip() -> Option<()> {
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
            .iter()
            .any(|p| std::path::Path::new(p).exists())
            .then_some(())
    }

    #[test]
    fn proc_net_addresses_decode() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n   1: 0100007F:1F91 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n";
        if cfg!(target_endian = "little") {
            assert_eq!(
                parse_proc_net(table, "TCP", "0A"),
                vec![Listener {
                    protocol: "TCP".into(),
                    local_address: "127.0.0.1".into(),
                    port: 8080
                }]
            );
            assert_eq!(
                proc_net_address("00000000000000000000000001000000").as_deref(),
                Some("::1")
            );
        }
    }

    #[test]
    fn code_integrity_uses_only_documented_words() {
        let ci = code_integrity();
        assert!(
            ["Enabled", "Disabled", "Unknown (not booted with UEFI)"]
                .contains(&ci.secure_boot.as_str()),
            "{ci:?}"
        );
        assert!(
            ["none", "integrity", "confidentiality", "Unavailable"]
                .contains(&ci.kernel_lockdown.as_str()),
            "{ci:?}"
        );
        assert!(
            ["Yes", "No", "Unknown"].contains(&ci.module_signatures_enforced.as_str()),
            "{ci:?}"
        );
        let tainted: u64 = std::fs::read_to_string("/proc/sys/kernel/tainted")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        assert_eq!(ci.kernel_tainted, tainted);
        assert_eq!(
            bracketed("none [integrity] confidentiality"),
            Some("integrity")
        );
    }
}
