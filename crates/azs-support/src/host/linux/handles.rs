//! Open file descriptors of the machine's processes, like lsof: the link targets of
//! `/proc/PID/fd/*`, with sockets resolved through the socket tables of the process's network
//! namespace (`/proc/PID/net/{tcp,tcp6,udp,udp6,raw,raw6,unix,netlink,packet}`, read once per
//! namespace).

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::unix::fs::FileTypeExt;
use std::rc::Rc;

use serde::Serialize;

use super::processes::not_found;

/// One open file descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handle {
    /// The process's PID.
    pub process_id: u32,
    /// The process's name (`comm`).
    pub process_name: String,
    /// The descriptor number.
    pub fd: u32,
    /// "File", "Directory", "Socket", "Pipe", "Device", "AnonInode" or "Other".
    pub kind: String,
    /// What it refers to: a path, `TCP 127.0.0.1:41234 -> 127.0.0.1:22 ESTABLISHED`,
    /// `TCP [::]:22 LISTEN`, `UDP 0.0.0.0:5353`, `UNIX /run/x.sock`, `pipe:[1234]`,
    /// `anon_inode:[eventfd]`, ...
    pub target: String,
}

/// The open descriptors of process `pid`, or of every process (those that exit meanwhile or
/// whose descriptors may not be read are left out), sorted by process id then descriptor.
pub fn list(pid: Option<u32>) -> Result<Vec<Handle>, String> {
    let mut sockets = SocketTables::default();
    let mut out = Vec::new();
    match pid {
        Some(pid) => {
            if pid == 0 || !is_process(pid) {
                return Err(not_found(pid));
            }
            match process_handles(pid, &mut sockets) {
                Ok(h) => out = h,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found(pid)),
                Err(e) => return Err(format!("cannot read the handles of process {pid}: {e}")),
            }
        }
        None => {
            let dir = std::fs::read_dir("/proc").map_err(|e| format!("cannot read /proc: {e}"))?;
            let mut pids: Vec<u32> = dir
                .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&p| p > 0)
                .collect();
            pids.sort_unstable();
            for p in pids {
                if let Ok(h) = process_handles(p, &mut sockets) {
                    out.extend(h);
                }
            }
        }
    }
    out.sort_by_key(|h| (h.process_id, h.fd));
    Ok(out)
}

/// Whether `/proc/PID` is a process (not a thread of another one).
fn is_process(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse::<u32>().ok())
        })
        == Some(pid)
}

/// One process's descriptors; an error when it is gone or its descriptors may not be read.
fn process_handles(pid: u32, sockets: &mut SocketTables) -> std::io::Result<Vec<Handle>> {
    let name = std::fs::read(format!("/proc/{pid}/comm"))?;
    let name = String::from_utf8_lossy(&name)
        .trim_end_matches('\n')
        .to_string();
    let fd_dir = format!("/proc/{pid}/fd");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&fd_dir)? {
        let Ok(entry) = entry else { continue };
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // A descriptor closed since the directory was read is simply not there any more.
        let Ok(link) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let link = link.to_string_lossy().into_owned();
        let (kind, target) = classify(pid, &entry.path(), link, sockets);
        out.push(Handle {
            process_id: pid,
            process_name: name.clone(),
            fd,
            kind: kind.to_string(),
            target,
        });
    }
    Ok(out)
}

/// The kind and target of a descriptor whose link reads `link`.
fn classify(
    pid: u32,
    fd_path: &std::path::Path,
    link: String,
    sockets: &mut SocketTables,
) -> (&'static str, String) {
    if let Some(inode) = bracketed(&link, "socket:") {
        let target = sockets
            .of(pid)
            .get(&inode)
            .cloned()
            .unwrap_or_else(|| link.clone());
        return ("Socket", target);
    }
    if link.starts_with("pipe:") {
        return ("Pipe", link);
    }
    if link.starts_with("anon_inode:") {
        return ("AnonInode", link);
    }
    if !link.starts_with('/') {
        // net:[...], mnt:[...] and other namespace or pseudo-file links.
        return ("Other", link);
    }
    // Stat what the descriptor refers to (the magic link is followed even when the path has since
    // been deleted or is not reachable from here).
    let kind = match std::fs::metadata(fd_path) {
        Ok(m) => {
            let t = m.file_type();
            if t.is_dir() {
                "Directory"
            } else if t.is_file() {
                "File"
            } else if t.is_char_device() || t.is_block_device() {
                "Device"
            } else if t.is_fifo() {
                "Pipe"
            } else if t.is_socket() {
                "Socket"
            } else {
                "Other"
            }
        }
        Err(_) if link.starts_with("/dev/") => "Device",
        Err(_) => "File",
    };
    (kind, link)
}

/// The number in `PREFIX[N]`.
fn bracketed(link: &str, prefix: &str) -> Option<u64> {
    link.strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Socket inode → description, per network namespace, read when first needed.
#[derive(Default)]
struct SocketTables {
    by_namespace: HashMap<String, Rc<HashMap<u64, String>>>,
}

impl SocketTables {
    /// The table of `pid`'s network namespace.
    fn of(&mut self, pid: u32) -> Rc<HashMap<u64, String>> {
        // Without the namespace link (access denied), the process's own view, keyed by its PID.
        let key = std::fs::read_link(format!("/proc/{pid}/ns/net"))
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("pid:{pid}"));
        if let Some(t) = self.by_namespace.get(&key) {
            return t.clone();
        }
        let table = Rc::new(read_socket_tables(&format!("/proc/{pid}/net")));
        self.by_namespace.insert(key, table.clone());
        table
    }
}

/// Reads every socket table under `dir` (a `/proc/PID/net`).
fn read_socket_tables(dir: &str) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    let read = |file: &str| {
        std::fs::read(format!("{dir}/{file}"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    for (file, proto) in [
        ("tcp", "TCP"),
        ("tcp6", "TCP"),
        ("udp", "UDP"),
        ("udp6", "UDP"),
        ("raw", "RAW"),
        ("raw6", "RAW"),
    ] {
        for (inode, text) in parse_inet(&read(file), proto) {
            out.insert(inode, text);
        }
    }
    for (inode, text) in parse_unix(&read("unix")) {
        out.insert(inode, text);
    }
    for (inode, text) in parse_netlink(&read("netlink")) {
        out.insert(inode, text);
    }
    for (inode, text) in parse_packet(&read("packet")) {
        out.insert(inode, text);
    }
    out
}

/// The lines of /proc/net/{tcp,udp,raw}{,6}: `sl local rem st tx:rx tr:when retrnsmt uid
/// timeout inode ...`.
fn parse_inet(text: &str, proto: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (Some(local), Some(remote), Ok(state), Ok(inode)) = (
            parse_endpoint(f[1]),
            parse_endpoint(f[2]),
            u8::from_str_radix(f[3], 16),
            f[9].parse::<u64>(),
        ) else {
            continue;
        };
        if inode == 0 {
            // TIME_WAIT entries belong to no socket.
            continue;
        }
        let mut text = format!("{proto} {local}");
        let unconnected = remote.ip().is_unspecified() && remote.port() == 0;
        if !unconnected {
            text.push_str(&format!(" -> {remote}"));
        }
        if proto == "TCP" {
            text.push(' ');
            text.push_str(tcp_state(state));
        }
        out.push((inode, text));
    }
    out
}

/// `0100007F:0016` (IPv4: one host-order 32-bit word, so little-endian hex on x86) or 32 hex
/// digits of four such words (IPv6), a colon and the port in hex.
fn parse_endpoint(s: &str) -> Option<SocketAddr> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |w: &str| u32::from_str_radix(w, 16).ok().map(u32::to_ne_bytes);
    match addr.len() {
        8 => Some(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from(word(addr)?),
            port,
        ))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(addr.get(i * 8..i * 8 + 8)?)?);
            }
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(bytes),
                port,
                0,
                0,
            )))
        }
        _ => None,
    }
}

/// The kernel's TCP states (include/net/tcp_states.h).
fn tcp_state(state: u8) -> &'static str {
    match state {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        0x0C => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// The lines of /proc/net/unix: `Num RefCount Protocol Flags Type St Inode [Path]`; the path (an
/// abstract one starts with `@`) is the rest of the line and may hold spaces.
fn parse_unix(text: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let mut rest = line.trim_start();
        let mut fields = Vec::with_capacity(7);
        while fields.len() < 7 {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            fields.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
        let Some(Ok(inode)) = fields.get(6).map(|v| v.parse::<u64>()) else {
            continue;
        };
        let path = rest.trim_end_matches(['\n', '\r']);
        let text = if path.is_empty() {
            match fields.get(4).copied() {
                Some("0001") => format!("UNIX STREAM socket:[{inode}]"),
                Some("0002") => format!("UNIX DGRAM socket:[{inode}]"),
                Some("0005") => format!("UNIX SEQPACKET socket:[{inode}]"),
                _ => format!("UNIX socket:[{inode}]"),
            }
        } else {
            format!("UNIX {path}")
        };
        out.push((inode, text));
    }
    out
}

/// The lines of /proc/net/netlink: `sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode`.
fn parse_netlink(text: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(Ok(proto)), Some(Ok(inode))) = (
            f.get(1).map(|v| v.parse::<u32>()),
            f.get(9).map(|v| v.parse::<u64>()),
        ) else {
            continue;
        };
        let name = match proto {
            0 => "ROUTE".to_string(),
            4 => "SOCK_DIAG".to_string(),
            9 => "AUDIT".to_string(),
            15 => "KOBJECT_UEVENT".to_string(),
            16 => "GENERIC".to_string(),
            n => format!("protocol {n}"),
        };
        out.push((inode, format!("NETLINK {name}")));
    }
    out
}

/// The lines of /proc/net/packet: `sk RefCnt Type Proto Iface R Rmem User Inode`.
fn parse_packet(text: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(Ok(inode)) = f.get(8).map(|v| v.parse::<u64>()) else {
            continue;
        };
        let iface = f
            .get(4)
            .and_then(|i| i.parse::<u32>().ok())
            .filter(|&i| i != 0)
            .and_then(interface_name);
        let text = match iface {
            Some(name) => format!("PACKET {name}"),
            None => "PACKET".to_string(),
        };
        out.push((inode, text));
    }
    out
}

/// The name of network interface `index` (from /sys/class/net/*/ifindex).
fn interface_name(index: u32) -> Option<String> {
    std::fs::read_dir("/sys/class/net")
        .ok()?
        .filter_map(Result::ok)
        .find(|e| {
            std::fs::read_to_string(e.path().join("ifindex"))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                == Some(index)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_file_a_listener_a_connection_and_a_pipe_of_this_process_are_listed() {
        let me = std::process::id();
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(b"x").expect("writes");
        let path = std::fs::canonicalize(file.path()).expect("canonical");
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let port = listener.local_addr().expect("addr").port();
        let client = TcpStream::connect(("127.0.0.1", port)).expect("connects");
        let (server, _) = listener.accept().expect("accepts");
        let cport = client.local_addr().expect("addr").port();
        let (reader, writer) = std::io::pipe().expect("pipe");

        let handles = list(Some(me)).expect("lists");
        assert!(handles.iter().all(|h| h.process_id == me));
        assert!(handles.iter().all(|h| !h.process_name.is_empty()));
        for w in handles.windows(2) {
            assert!(w[0].fd < w[1].fd, "sorted by fd");
        }
        let has =
            |kind: &str, target: &str| handles.iter().any(|h| h.kind == kind && h.target == target);
        let dump = || format!("{handles:#?}");
        assert!(has("File", &path.to_string_lossy()), "{}", dump());
        assert!(
            has("Socket", &format!("TCP 127.0.0.1:{port} LISTEN")),
            "{}",
            dump()
        );
        assert!(
            has(
                "Socket",
                &format!("TCP 127.0.0.1:{cport} -> 127.0.0.1:{port} ESTABLISHED")
            ),
            "{}",
            dump()
        );
        assert!(
            has(
                "Socket",
                &format!("TCP 127.0.0.1:{port} -> 127.0.0.1:{cport} ESTABLISHED")
            ),
            "{}",
            dump()
        );
        use std::os::fd::AsRawFd;
        for end in [reader.as_raw_fd(), writer.as_raw_fd()] {
            let fd = u32::try_from(end).expect("an fd");
            let h = handles.iter().find(|h| h.fd == fd).expect("the pipe's end");
            assert_eq!(h.kind, "Pipe", "{}", dump());
            assert!(h.target.starts_with("pipe:["), "{}", dump());
        }
        assert!(
            handles.iter().any(|h| h.kind == "Directory"),
            "/proc/PID/fd itself"
        );
        drop((reader, writer, client, server, listener, file));
    }

    #[test]
    fn every_process_is_listed_in_order() {
        let started = std::time::Instant::now();
        let all = list(None).expect("lists");
        println!(
            "list(None) read {} handles in {:?}",
            all.len(),
            started.elapsed()
        );
        let me = std::process::id();
        assert!(all.iter().any(|h| h.process_id == me));
        for w in all.windows(2) {
            assert!((w[0].process_id, w[0].fd) < (w[1].process_id, w[1].fd));
        }
    }

    #[test]
    fn an_unknown_pid_is_not_found() {
        let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(4_194_304);
        assert_eq!(
            list(Some(max + 1)).expect_err("absent"),
            format!(
                "Cannot find a process with the process identifier {}",
                max + 1
            )
        );
        assert_eq!(
            list(Some(0)).expect_err("absent"),
            "Cannot find a process with the process identifier 0"
        );
    }

    #[test]
    fn socket_table_lines_parse() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:A0B2 0100007F:0016 01 00000000:00000000 00:00000000 00000000     0        0 111 1 0 20 4 30 10 -1\n\
           1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 112 1 0 100 0 0 10 0\n\
           2: 0100007F:0016 0100007F:A0B3 06 00000000:00000000 03:00000F0E 00000000     0        0 0 3 0\n";
        assert_eq!(
            parse_inet(tcp, "TCP"),
            [
                (
                    111,
                    "TCP 127.0.0.1:41138 -> 127.0.0.1:22 ESTABLISHED".to_string()
                ),
                (112, "TCP 0.0.0.0:22 LISTEN".to_string()),
            ]
        );
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 113 1 0 100 0 0 10 0\n\
           1: 00000000000000000000000001000000:0016 0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 114 1 0 100 0 0 10 0\n\
           2: B80D01200000000000000000FF000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 115 1 0 100 0 0 10 0\n";
        assert_eq!(
            parse_inet(tcp6, "TCP"),
            [
                (113, "TCP [::]:22 LISTEN".to_string()),
                (
                    114,
                    "TCP [::1]:22 -> [::ffff:127.0.0.1]:8080 ESTABLISHED".to_string()
                ),
                (115, "TCP [2001:db8::ff]:80 LISTEN".to_string()),
            ]
        );
        let udp = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
           10: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 116 2 0 0\n";
        assert_eq!(
            parse_inet(udp, "UDP"),
            [(116, "UDP 0.0.0.0:5353".to_string())]
        );
        let unix = "Num       RefCount Protocol Flags    Type St Inode Path\n\
           0000000000000000: 00000002 00000000 00010000 0001 01 117 /run/x.sock\n\
           0000000000000000: 00000003 00000000 00000000 0001 03 118\n\
           0000000000000000: 00000002 00000000 00010000 0001 01 119 @/tmp/.X11 unix/X0\n";
        assert_eq!(
            parse_unix(unix),
            [
                (117, "UNIX /run/x.sock".to_string()),
                (118, "UNIX STREAM socket:[118]".to_string()),
                (119, "UNIX @/tmp/.X11 unix/X0".to_string()),
            ]
        );
        let netlink = "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n\
           00000000f87a4a25 0   0          00000000 0        0        0     2        0        120\n";
        assert_eq!(parse_netlink(netlink), [(120, "NETLINK ROUTE".to_string())]);
    }
}
