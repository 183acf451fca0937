//! Obfuscation of everything that leaves the endpoint, in the style of the sos cleaner: host names,
//! domains, IP addresses (v4 and v6), MAC addresses, user names and operator-listed keywords are
//! replaced with stand-ins that stay the same across files and across runs. This module owns the
//! detection rules, the stand-ins and the map from originals to stand-ins.
//!
//! # The map
//! The map stays on the endpoint, in the state directory, readable by its owner only (mode 0600,
//! written atomically by [`Obfuscator::save`]); it is never put into a bundle. Format, version 1:
//!
//! ```json
//! {
//!   "version": 1,
//!   "hosts":         { "azs-host01": "host0", "node7.contoso.local": "host1.obfuscateddomain0" },
//!   "domains":       { "contoso.local": "obfuscateddomain0" },
//!   "ip_addresses":  { "10.0.0.4": "100.64.0.1", "fe80::1": "fd53:4f53::1" },
//!   "mac_addresses": { "00:0d:60:e9:14:d8": "53:4f:53:00:00:01" },
//!   "users":         { "webmaster": "obfuscateduser0" },
//!   "keywords":      { "falcon": "obfuscatedword0" }
//! }
//! ```
//!
//! Keys are normalised: host names, domains, users and keywords lowercased (all are matched
//! case-insensitively: Windows names are, and a name leaking in another case defeats the point);
//! IPv6 addresses in their canonical compressed form; MACs lowercase with colons. Every section is
//! optional. A map of another version is refused, not guessed at. The next stand-in of each kind
//! is one past the highest in the map, so stand-ins are never reused.
//!
//! # Stand-ins
//! Hosts `host0`, `host1`, ...; a name under a listed domain keeps a stand-in domain
//! (`host1.obfuscateddomain0`, and its first label alone becomes `host1` wherever it appears);
//! IPv4 addresses from `100.64.0.1` upwards (the shared address space `100.64.0.0/10`; past its
//! 4 million addresses stand-ins leave the range but stay unique); IPv6 `fd53:4f53::1` upwards;
//! MACs `53:4f:53:00:00:01` upwards (the original's separator kept); users `obfuscateduser0`...;
//! keywords `obfuscatedword0`.... Numbers are handed out in the order originals are first met.
//!
//! # What is found
//! - IPv4: exactly four dotted decimal octets 0-255, not next to a letter or digit, nor to a dot
//!   that continues the number (`6.1.7601.23505` and `1.2.3.4.5` are left alone; a sentence's
//!   final dot is not a continuation), nor right after `~` (Windows component versions).
//! - IPv6: eight groups, or fewer with `::`, valid as an address, not glued to a word or to more
//!   groups (so `10:30:45`, `std::vector` and `0:0:0:0:0:0:0:0:2181` are left alone).
//! - MAC: six hex pairs joined by `:` or `-`.
//! - Left alone on purpose, as they identify nothing: `0.0.0.0`, `127.0.0.0/8`,
//!   `255.255.255.255` and netmasks (`255.255.255.0`), `::` and `::1`, the all-zero and broadcast
//!   MACs.
//! - Hosts: the listed names as whole words (a word ends at anything but a letter or digit, so
//!   `AZS-HOST01_trace.log` is found), and any `<label>.<listed domain>`.
//! - Users: the listed names as whole words, plus names found by context and then replaced
//!   everywhere: `user <name>` (which covers `for user` and `Invalid user`), `user=<name>`,
//!   `ruser=<name>` and `DOMAIN\name` (an upper-case NetBIOS domain, not part of a path).
//!   Numeric names, system accounts (`root`, `sshd`, `SYSTEM`) and words that follow "user" in
//!   prose (`unknown`, `authentication`, `data`) are not taken for users; see [`NOT_USER_NAMES`].
//!   A user name is a whole word in a stricter sense than a host's: `_`, `-` and an inner `.`
//!   join words (`data` is not in `meta-data`).
//! - Keywords: anywhere, even inside words, case-insensitively.
//!
//! # Limits
//! A user or host learned from one file is replaced in that whole file and in the files cleaned
//! after it; a file cleaned earlier, or at the same time on another thread, that mentions the name
//! without its context keeps it. Host names outside the listed domains and not listed are not found
//! (`220-135-151-1.hinet-ip.hinet.net` stays), nor are NetBIOS domain names themselves. A name that
//! is also a common word (a user called `default`) is replaced in prose too.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use crate::atomic_file::atomic_write;

/// The version of the map file this module reads and writes.
pub const MAP_VERSION: u32 = 1;

/// Words that follow "user" (or sit behind `DOMAIN\`) without being someone's account: built-in
/// and system accounts that identify no one, and prose ("push user data"). Compared lowercased.
pub const NOT_USER_NAMES: &[&str] = &[
    "a",
    "account",
    "adm",
    "agent",
    "an",
    "and",
    "authentication",
    "backup",
    "bin",
    "by",
    "daemon",
    "data",
    "directory",
    "filter",
    "for",
    "from",
    "ftp",
    "games",
    "gnats",
    "group",
    "halt",
    "has",
    "home",
    "id",
    "in",
    "info",
    "input",
    "interface",
    "invalid",
    "irc",
    "is",
    "list",
    "local",
    "localservice",
    "localsystem",
    "login",
    "logon",
    "lp",
    "mail",
    "man",
    "management",
    "messagebus",
    "mode",
    "name",
    "network",
    "networkservice",
    "news",
    "nfsnobody",
    "nobody",
    "none",
    "not",
    "ntp",
    "null",
    "of",
    "on",
    "operator",
    "or",
    "parameter",
    "password",
    "postfix",
    "privacy",
    "profile",
    "proxy",
    "request",
    "root",
    "service",
    "session",
    "settings",
    "shutdown",
    "sshd",
    "sync",
    "sys",
    "system",
    "the",
    "to",
    "unknown",
    "user",
    "users",
    "uucp",
    "was",
    "with",
    "www-data",
];

/// The first IPv4 stand-in less one: `100.64.0.0`.
const IPV4_BASE: u32 = 0x6440_0000;
/// The IPv6 stand-ins' prefix, `fd53:4f53::/32`.
const IPV6_BASE: u128 = 0xfd53_4f53 << 96;
/// The bits of an IPv6 stand-in that number it.
const LOW96: u128 = (1 << 96) - 1;
const HEX4: &str = "[0-9A-Fa-f]{1,4}";
/// A name after `user `, `user=` or `DOMAIN\`.
const NAME: &str = r"([A-Za-z0-9_][A-Za-z0-9._$-]*)";
/// A DNS label in front of a listed domain.
const LABELS: &str = r"(?i-u:(?:[a-z0-9][a-z0-9-]*\.)*)";

/// What the operator knows must not leave the endpoint.
#[derive(Debug, Clone, Default)]
pub struct ObfuscationRules {
    /// Known host names (the stamp's node names such as `AZS-HOST01`, the machine's own name).
    pub hosts: Vec<String>,
    /// Domains such as `contoso.local`: every name under one is a host.
    pub domains: Vec<String>,
    /// Known user names.
    pub users: Vec<String>,
    /// Operator-listed words, matched case-insensitively anywhere.
    pub keywords: Vec<String>,
}

/// The kinds of things the map holds, in the order [`Obfuscator::entries`] lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MapKind {
    /// A host name, short or fully qualified.
    Host,
    /// A listed domain or one under it.
    Domain,
    /// An IPv4 or IPv6 address.
    IPAddress,
    /// A MAC address.
    MACAddress,
    /// A user name.
    User,
    /// An operator-listed keyword.
    Keyword,
}

const KINDS: [MapKind; 6] = [
    MapKind::Host,
    MapKind::Domain,
    MapKind::IPAddress,
    MapKind::MACAddress,
    MapKind::User,
    MapKind::Keyword,
];

impl MapKind {
    /// The name the operator sees.
    pub fn as_str(self) -> &'static str {
        match self {
            MapKind::Host => "Host",
            MapKind::Domain => "Domain",
            MapKind::IPAddress => "IPAddress",
            MapKind::MACAddress => "MACAddress",
            MapKind::User => "User",
            MapKind::Keyword => "Keyword",
        }
    }
}

impl fmt::Display for MapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the map as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MapEntry {
    pub kind: MapKind,
    pub original: String,
    pub replacement: String,
}

/// The map file, version 1 (see the module header).
#[derive(Debug, Default, Serialize, Deserialize)]
struct MapFile {
    version: u32,
    #[serde(default)]
    hosts: BTreeMap<String, String>,
    #[serde(default)]
    domains: BTreeMap<String, String>,
    #[serde(default)]
    ip_addresses: BTreeMap<String, String>,
    #[serde(default)]
    mac_addresses: BTreeMap<String, String>,
    #[serde(default)]
    users: BTreeMap<String, String>,
    #[serde(default)]
    keywords: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: Option<u64>,
}

/// The next number of each kind of stand-in.
#[derive(Debug, Default)]
struct Counters {
    host: u64,
    domain: u64,
    ipv4: u32,
    ipv6: u128,
    mac: u32,
    user: u64,
    keyword: u64,
}

/// The scanner of one moment: the combined pattern and the literal words in it. Immutable, so a
/// cleaning pass uses it without a lock; replaced whole when words are learned.
struct Scanner {
    regex: Regex,
    words: HashMap<String, MapKind>,
}

struct State {
    /// Original (normalised) → stand-in, one table per [`MapKind`].
    tables: [HashMap<String, String>; 6],
    next: Counters,
    /// Words matched literally: listed, from the map, or learned; lowercase → kind.
    words: HashMap<String, MapKind>,
    scanner: Arc<Scanner>,
    /// `words` has grown since `scanner` was built.
    stale: bool,
}

/// Replaces what identifies the stamp and its people with consistent stand-ins. Shared by the
/// threads that compress a bundle: lookups take a read lock, only a new mapping takes the write
/// lock.
pub struct Obfuscator {
    map_path: PathBuf,
    /// Listed domains, lowercase, longest first.
    domains: Vec<String>,
    /// Finds users by context and names under listed domains (learned before replacing).
    context: Regex,
    state: RwLock<State>,
}

impl Obfuscator {
    /// Loads the map at `map_path` (a map of an unknown version is refused) or starts an empty one.
    pub fn open(map_path: &Path, rules: ObfuscationRules) -> io::Result<Self> {
        let file = match fs::read(map_path) {
            Ok(bytes) => parse_map(&bytes, map_path)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => MapFile::default(),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("reading obfuscation map {}: {e}", map_path.display()),
                ))
            }
        };
        let mut domains: Vec<String> = rules
            .domains
            .iter()
            .map(|d| d.trim().trim_matches('.').to_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        domains.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        domains.dedup();

        let tables = [
            file.hosts,
            file.domains,
            file.ip_addresses,
            file.mac_addresses,
            file.users,
            file.keywords,
        ]
        .map(|t| t.into_iter().collect::<HashMap<_, _>>());
        let next = counters_of(&tables);

        let mut words = HashMap::new();
        let listed = [
            (MapKind::Host, &rules.hosts),
            (MapKind::User, &rules.users),
            (MapKind::Keyword, &rules.keywords),
        ];
        for (kind, list) in listed {
            for w in list.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
                words.entry(w.to_lowercase()).or_insert(kind);
            }
        }
        for kind in [
            MapKind::Host,
            MapKind::Domain,
            MapKind::User,
            MapKind::Keyword,
        ] {
            for w in tables[kind as usize].keys() {
                words.entry(w.clone()).or_insert(kind);
            }
        }

        let context = build_context(&domains).map_err(invalid)?;
        let scanner = Arc::new(build_scanner(&domains, &words).map_err(invalid)?);
        Ok(Obfuscator {
            map_path: map_path.to_path_buf(),
            domains,
            context,
            state: RwLock::new(State {
                tables,
                next,
                words,
                scanner,
                stale: false,
            }),
        })
    }

    /// A whole file's text, cleaned.
    pub fn clean(&self, text: &str) -> String {
        self.clean_cow(text).into_owned()
    }

    /// A whole file's text, cleaned; borrowed when there was nothing to replace.
    pub fn clean_cow<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.learn(text);
        let scanner = self.scanner();
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut pos = 0;
        while let Some(m) = scanner.regex.find_at(text, pos) {
            let (start, end) = (m.start(), m.end());
            match self.resolve(&scanner, text, start, end) {
                Action::Reject => {
                    pos = start + text[start..].chars().next().map_or(1, char::len_utf8);
                }
                Action::Keep => pos = end,
                Action::Replace(kind, key, sep) => {
                    let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                    o.push_str(&text[copied..start]);
                    self.push_standin(kind, &key, sep, o);
                    copied = end;
                    pos = end;
                }
            }
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut o) => {
                o.push_str(&text[copied..]);
                Cow::Owned(o)
            }
        }
    }

    /// An entry's name in the archive (node names appear in paths: `AZS-HOST01/Cluster.log`).
    pub fn clean_name(&self, path_in_archive: &str) -> String {
        self.clean(path_in_archive)
    }

    /// Writes the map, atomically, mode 0600.
    pub fn save(&self) -> io::Result<()> {
        let bytes = {
            let st = self.read();
            let [hosts, domains, ip_addresses, mac_addresses, users, keywords] = st
                .tables
                .clone()
                .map(|t| t.into_iter().collect::<BTreeMap<_, _>>());
            let file = MapFile {
                version: MAP_VERSION,
                hosts,
                domains,
                ip_addresses,
                mac_addresses,
                users,
                keywords,
            };
            serde_json::to_vec_pretty(&file).map_err(invalid)?
        };
        atomic_write(&self.map_path, &bytes, 0o600).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("saving obfuscation map {}: {e}", self.map_path.display()),
            )
        })
    }

    /// The whole map, sorted by kind, then original.
    pub fn entries(&self) -> Vec<MapEntry> {
        let st = self.read();
        let mut all: Vec<MapEntry> = KINDS
            .iter()
            .flat_map(|&kind| {
                st.tables[kind as usize].iter().map(move |(o, r)| MapEntry {
                    kind,
                    original: o.clone(),
                    replacement: r.clone(),
                })
            })
            .collect();
        all.sort();
        all
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The current scanner, rebuilt first if words were learned since it was built.
    fn scanner(&self) -> Arc<Scanner> {
        {
            let st = self.read();
            if !st.stale {
                return Arc::clone(&st.scanner);
            }
        }
        let mut st = self.write();
        if st.stale {
            match build_scanner(&self.domains, &st.words) {
                Ok(s) => {
                    st.scanner = Arc::new(s);
                    st.stale = false;
                }
                // Only a size limit can refuse escaped literals; the old scanner still finds
                // every address and every word known before.
                Err(e) => tracing::error!("obfuscation: cannot rebuild the word scanner: {e}"),
            }
        }
        Arc::clone(&st.scanner)
    }

    /// First pass: users named by context and names under listed domains join the map's words,
    /// so the second pass replaces them everywhere in `text`, before their context too.
    fn learn(&self, text: &str) {
        let mut new_users: Vec<String> = Vec::new();
        let mut new_hosts: Vec<String> = Vec::new();
        for caps in self.context.captures_iter(text) {
            let Some(whole) = caps.get(0) else { continue };
            let (start, end) = (whole.start(), whole.end());
            if let Some(name) = caps.get(1).or_else(|| caps.get(2)) {
                if alnum_before(text, start) {
                    continue;
                }
                self.note_user(name.as_str(), &mut new_users);
            } else if let (Some(_), Some(name)) = (caps.get(3), caps.get(4)) {
                let before = text[..start].bytes().next_back();
                let after = text[end..].bytes().next();
                let in_path = matches!(before, Some(b'\\' | b'/' | b':' | b'.'))
                    || matches!(after, Some(b'\\' | b'/'));
                if alnum_before(text, start) || in_path {
                    continue;
                }
                self.note_user(name.as_str(), &mut new_users);
            } else if caps.get(5).is_some() {
                if !standalone(text, start, end, b"") {
                    continue;
                }
                let name = lowercase(whole.as_str());
                let kind = self.name_kind(&name) as usize;
                if !self.read().tables[kind].contains_key(name.as_ref())
                    && !new_hosts.iter().any(|h| *h == name)
                {
                    new_hosts.push(name.into_owned());
                }
            }
        }
        if new_users.is_empty() && new_hosts.is_empty() {
            return;
        }
        let mut guard = self.write();
        let st = &mut *guard;
        for u in new_users {
            if let Entry::Vacant(e) = st.words.entry(u) {
                e.insert(MapKind::User);
                st.stale = true;
            }
        }
        for h in new_hosts {
            st.allocate(self.name_kind(&h), &h, &self.domains);
        }
    }

    fn note_user(&self, raw: &str, new: &mut Vec<String>) {
        let name = raw.trim_end_matches(['.', '-']);
        if name.is_empty() || name.len() > 64 || name.bytes().all(|b| b.is_ascii_digit()) {
            return;
        }
        let key = lowercase(name);
        if NOT_USER_NAMES.contains(&key.as_ref()) || new.iter().any(|n| *n == key) {
            return;
        }
        if !self.read().words.contains_key(key.as_ref()) {
            new.push(key.into_owned());
        }
    }

    /// What to do with one match of the scanner.
    fn resolve<'t>(
        &self,
        scanner: &Scanner,
        text: &'t str,
        start: usize,
        end: usize,
    ) -> Action<'t> {
        let t = &text[start..end];
        let lower = lowercase(t);
        if self.under_domain(&lower) {
            if !standalone(text, start, end, b"") {
                return Action::Reject;
            }
            return Action::Replace(self.name_kind(&lower), lower, None);
        }
        if let Some(&kind) = scanner.words.get(lower.as_ref()) {
            // A user name is a whole word in the strict sense (`data` is not in `meta-data` or
            // `data_thread`); a host's name also ends at `_` and `-` (`AZS-HOST01_trace.log`).
            let seps: &[u8] = match kind {
                MapKind::User => b"_-.",
                _ => b"",
            };
            if kind != MapKind::Keyword && !standalone(text, start, end, seps) {
                return Action::Reject;
            }
            return Action::Replace(kind, lower, None);
        }
        if t.contains(':') {
            if let Ok(ip) = t.parse::<Ipv6Addr>() {
                if !standalone(text, start, end, b":.") {
                    return Action::Reject;
                }
                if ip.is_loopback() || ip.is_unspecified() {
                    return Action::Keep;
                }
                return Action::Replace(MapKind::IPAddress, Cow::Owned(ip.to_string()), None);
            }
            return mac(text, start, end, ':');
        }
        if t.contains('-') {
            return mac(text, start, end, '-');
        }
        ipv4(text, start, end)
    }

    /// A listed domain is a domain; a name under one is a host.
    fn name_kind(&self, name: &str) -> MapKind {
        if self.domains.iter().any(|d| d == name) {
            MapKind::Domain
        } else {
            MapKind::Host
        }
    }

    /// Whether `name` (lowercase) is a listed domain or a name under one.
    fn under_domain(&self, name: &str) -> bool {
        self.domains.iter().any(|d| domain_split(name, d).is_some())
    }

    /// Appends the stand-in of `key`, allocating one if it is new.
    fn push_standin(&self, kind: MapKind, key: &str, sep: Option<char>, out: &mut String) {
        {
            let st = self.read();
            if let Some(v) = st.tables[kind as usize].get(key) {
                push_rendered(out, v, sep);
                return;
            }
        }
        let v = self.write().allocate(kind, key, &self.domains);
        push_rendered(out, &v, sep);
    }
}

/// What a scanner match turned out to be.
enum Action<'t> {
    /// Not a standalone thing: look again one character further.
    Reject,
    /// Found, but left as it is (loopback and the like).
    Keep,
    /// Replace with the stand-in of this key (MACs keep their separator).
    Replace(MapKind, Cow<'t, str>, Option<char>),
}

impl State {
    /// The stand-in of `key`, allocated if new. A name under a listed domain gets its first
    /// label's host number and its domain's stand-in, and its first label becomes a word.
    fn allocate(&mut self, kind: MapKind, key: &str, domains: &[String]) -> String {
        if let Some(v) = self.tables[kind as usize].get(key) {
            return v.clone();
        }
        let n = &mut self.next;
        let v = match kind {
            MapKind::Host => {
                let fqdn = domains
                    .iter()
                    .find_map(|d| domain_split(key, d).filter(|(label, _)| !label.is_empty()));
                match fqdn {
                    Some((label, domain)) => {
                        let host = self.allocate(MapKind::Host, label, domains);
                        let dom = self.allocate(MapKind::Domain, domain, domains);
                        if !self.words.contains_key(label) {
                            self.words.insert(label.to_string(), MapKind::Host);
                            self.stale = true;
                        }
                        format!("{host}.{dom}")
                    }
                    None => format!("host{}", bump(&mut n.host)),
                }
            }
            MapKind::Domain => format!("obfuscateddomain{}", bump(&mut n.domain)),
            MapKind::IPAddress if key.contains(':') => {
                n.ipv6 = n.ipv6.max(1);
                let v = Ipv6Addr::from(IPV6_BASE | (n.ipv6 & LOW96));
                n.ipv6 += 1;
                v.to_string()
            }
            MapKind::IPAddress => {
                n.ipv4 = n.ipv4.max(1);
                let v = Ipv4Addr::from(IPV4_BASE.wrapping_add(n.ipv4));
                n.ipv4 = n.ipv4.wrapping_add(1);
                v.to_string()
            }
            MapKind::MACAddress => {
                n.mac = n.mac.max(1);
                let m = n.mac;
                n.mac = n.mac.wrapping_add(1);
                format!(
                    "53:4f:53:{:02x}:{:02x}:{:02x}",
                    (m >> 16) & 0xff,
                    (m >> 8) & 0xff,
                    m & 0xff
                )
            }
            MapKind::User => format!("obfuscateduser{}", bump(&mut n.user)),
            MapKind::Keyword => format!("obfuscatedword{}", bump(&mut n.keyword)),
        };
        self.tables[kind as usize].insert(key.to_string(), v.clone());
        v
    }
}

fn bump(n: &mut u64) -> u64 {
    let v = *n;
    *n += 1;
    v
}

/// `name` split into its first label and the domain after it, when `name` is `domain` itself
/// (label empty) or ends with `.domain`.
fn domain_split<'n>(name: &'n str, domain: &str) -> Option<(&'n str, &'n str)> {
    if name == domain {
        return Some(("", name));
    }
    let prefix = name.strip_suffix(domain)?.strip_suffix('.')?;
    let dot = name.find('.')?;
    (!prefix.is_empty()).then(|| (&name[..dot], &name[dot + 1..]))
}

fn mac<'t>(text: &'t str, start: usize, end: usize, sep: char) -> Action<'t> {
    if !standalone(text, start, end, b":-.") {
        return Action::Reject;
    }
    let key = text[start..end].to_ascii_lowercase().replace('-', ":");
    if key == "00:00:00:00:00:00" || key == "ff:ff:ff:ff:ff:ff" {
        return Action::Keep;
    }
    Action::Replace(MapKind::MACAddress, Cow::Owned(key), Some(sep))
}

fn ipv4(text: &str, start: usize, end: usize) -> Action<'_> {
    let t = &text[start..end];
    let mut octets = [0u8; 4];
    let mut canonical = true;
    for (i, part) in t.split('.').enumerate() {
        match (octets.get_mut(i), part.parse::<u8>()) {
            (Some(o), Ok(v)) => *o = v,
            _ => return Action::Reject,
        }
        canonical &= part.len() == 1 || !part.starts_with('0');
    }
    // After `~`, four numbers are the version field of a Windows component name
    // (`Package_for_KB2607047~31bf3856ad364e35~amd64~~6.1.1.1`).
    if !ipv4_standalone(text, start, end) || text[..start].ends_with('~') {
        return Action::Reject;
    }
    let ip = Ipv4Addr::from(octets);
    let bits = u32::from(ip);
    let netmask = octets[0] == 255 && bits.leading_ones() + bits.trailing_zeros() == 32;
    if ip.is_loopback() || ip.is_unspecified() || netmask {
        return Action::Keep;
    }
    let key = if canonical {
        Cow::Borrowed(t)
    } else {
        Cow::Owned(ip.to_string())
    };
    Action::Replace(MapKind::IPAddress, key, None)
}

fn push_rendered(out: &mut String, standin: &str, sep: Option<char>) {
    match sep {
        Some(c) if c != ':' => out.extend(standin.chars().map(|x| if x == ':' { c } else { x })),
        _ => out.push_str(standin),
    }
}

fn lowercase(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn alnum_before(text: &str, start: usize) -> bool {
    text[..start]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
}

/// Whether `text[start..end]` stands alone: no letter or digit on either side, and no separator
/// from `seps` that continues it into a letter or digit (`1.2.3.4` in `1.2.3.4.5`).
/// Four dotted numbers stand alone as an address unless a digit or letter touches them, or a dot
/// continues them into more numbers (a version, an OID). A dot followed by a letter is a host
/// name going on: reverse-DNS names embed the address (`dsl-static-059.45.101.203.isp.net`),
/// and it must not leave with them.
fn ipv4_standalone(text: &str, start: usize, end: usize) -> bool {
    let mut before = text[..start].chars().rev();
    let mut after = text[end..].chars();
    let touches = |c: Option<char>, next: Option<char>| match c {
        Some(c) if c.is_alphanumeric() => true,
        Some('.') => next.is_some_and(|n| n.is_ascii_digit()),
        _ => false,
    };
    !touches(before.next(), before.next()) && !touches(after.next(), after.next())
}

fn standalone(text: &str, start: usize, end: usize, seps: &[u8]) -> bool {
    let continues = |first: Option<char>, second: Option<char>| match first {
        Some(c) if c.is_alphanumeric() => true,
        Some(c) if c.is_ascii() && seps.contains(&(c as u8)) => {
            second.is_some_and(char::is_alphanumeric)
        }
        _ => false,
    };
    let mut before = text[..start].chars().rev();
    let mut after = text[end..].chars();
    !continues(before.next(), before.next()) && !continues(after.next(), after.next())
}

fn build_context(domains: &[String]) -> Result<Regex, regex::Error> {
    let mut pattern =
        format!(r"(?i-u:user)[ \t]{NAME}|(?i-u:r?user)={NAME}|([A-Z][A-Z0-9-]{{0,14}})\\{NAME}");
    if !domains.is_empty() {
        pattern.push_str(&format!("|({})", domains_pattern(domains)));
    }
    Regex::new(&pattern)
}

fn domains_pattern(domains: &[String]) -> String {
    let alts: Vec<String> = domains.iter().map(|d| regex::escape(d)).collect();
    format!("{LABELS}(?i:{})", alts.join("|"))
}

/// One pattern for everything: names under listed domains first (so a listed host that is also
/// a label of a longer name does not cut it short), then addresses, then literal words, longest
/// first. Without capture groups, so the regex crate can run it on its DFA; the match is
/// classified afterwards from its text.
fn build_scanner(
    domains: &[String],
    words: &HashMap<String, MapKind>,
) -> Result<Scanner, regex::Error> {
    let mut alts = Vec::new();
    if !domains.is_empty() {
        alts.push(domains_pattern(domains));
    }
    let h = HEX4;
    alts.push(format!("{h}(?::{h}){{7}}"));
    alts.push(format!("{h}(?::{h}){{0,6}}::(?:{h}(?::{h}){{0,6}})?"));
    alts.push(format!("::{h}(?::{h}){{0,6}}"));
    alts.push("[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}".to_string());
    alts.push("[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}".to_string());
    alts.push(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}".to_string());
    let mut sorted: Vec<&String> = words.keys().collect();
    sorted.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    let (ascii, other): (Vec<&String>, Vec<&String>) =
        sorted.into_iter().partition(|w| w.is_ascii());
    for (group, flags) in [(ascii, "i-u"), (other, "i")] {
        if !group.is_empty() {
            let escaped: Vec<String> = group.iter().map(|w| regex::escape(w)).collect();
            alts.push(format!("(?{flags}:{})", escaped.join("|")));
        }
    }
    let regex = RegexBuilder::new(&alts.join("|"))
        .size_limit(256 << 20)
        .dfa_size_limit(64 << 20)
        .build()?;
    Ok(Scanner {
        regex,
        words: words.clone(),
    })
}

fn parse_map(bytes: &[u8], path: &Path) -> io::Result<MapFile> {
    let bad = |what: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("obfuscation map {}: {what}", path.display()),
        )
    };
    let v: VersionOnly =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not a map file ({e})")))?;
    match v.version {
        Some(v) if v == u64::from(MAP_VERSION) => {}
        Some(v) => {
            return Err(bad(format!(
                "is version {v}; this pep reads version {MAP_VERSION} only"
            )))
        }
        None => return Err(bad("has no version".to_string())),
    }
    serde_json::from_slice(bytes).map_err(|e| bad(format!("unreadable ({e})")))
}

/// The next number of each kind: one past the highest stand-in in the map.
fn counters_of(tables: &[HashMap<String, String>; 6]) -> Counters {
    let mut c = Counters::default();
    let numbered = |kind: MapKind, prefix: &str| {
        tables[kind as usize]
            .values()
            .filter_map(|v| {
                v.strip_prefix(prefix)?
                    .split('.')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .map(|n| n + 1)
            .max()
            .unwrap_or(0)
    };
    c.host = numbered(MapKind::Host, "host");
    c.domain = numbered(MapKind::Domain, "obfuscateddomain");
    c.user = numbered(MapKind::User, "obfuscateduser");
    c.keyword = numbered(MapKind::Keyword, "obfuscatedword");
    for v in tables[MapKind::IPAddress as usize].values() {
        if let Ok(ip) = v.parse::<Ipv4Addr>() {
            if let Some(n) = u32::from(ip).checked_sub(IPV4_BASE) {
                c.ipv4 = c.ipv4.max(n.saturating_add(1));
            }
        } else if let Ok(ip) = v.parse::<Ipv6Addr>() {
            c.ipv6 = c.ipv6.max((u128::from(ip) & LOW96) + 1);
        }
    }
    for v in tables[MapKind::MACAddress as usize].values() {
        let low: String = v.split(':').skip(3).collect();
        if let Ok(n) = u32::from_str_radix(&low, 16) {
            c.mac = c.mac.max(n + 1);
        }
    }
    c
}

fn invalid(e: impl fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn rules() -> ObfuscationRules {
        ObfuscationRules {
            hosts: vec!["AZS-HOST01".into(), "AZS-HOST02".into()],
            domains: vec!["contoso.local".into()],
            users: vec!["AzureStackAdmin".into()],
            keywords: vec!["Falcon".into()],
        }
    }

    fn open(dir: &Path, rules: ObfuscationRules) -> Obfuscator {
        Obfuscator::open(&dir.join("obfuscation-map.json"), rules).expect("open")
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Obfuscator>();
    }

    #[test]
    fn hosts_and_domains() {
        let tmp = tempfile::tempdir().expect("tmp");
        let o = open(tmp.path(), rules());
        // Names under the domain are learned (numbered) before the text is replaced.
        let out = o.clean(
            "AZS-HOST01 joined; azs-host01 ok; AZS-HOST010 is another; \
             node7.Contoso.local and node7 and CONTOSO.LOCAL; AZS-HOST02.contoso.local\n",
        );
        assert_eq!(
            out,
            "host2 joined; host2 ok; AZS-HOST010 is another; \
             host0.obfuscateddomain0 and host0 and obfuscateddomain0; host1.obfuscateddomain0\n"
        );
        assert!(o.clean("contoso.localhost").contains("contoso.localhost"));
    }

    #[test]
    fn names_in_archive_paths() {
        let tmp = tempfile::tempdir().expect("tmp");
        let o = open(tmp.path(), rules());
        assert_eq!(o.clean_name("AZS-HOST01/Cluster.log"), "host0/Cluster.log");
        assert_eq!(
            o.clean_name("Logs/azs-host01_10.0.0.4_trace.etl"),
            "Logs/host0_100.64.0.1_trace.etl"
        );
        assert_eq!(
            o.clean_name("sql01.contoso.local/errorlog"),
            "host1.obfuscateddomain0/errorlog"
        );
        assert_eq!(o.clean_name("SeedRing/ERCS01.log"), "SeedRing/ERCS01.log");
    }

    #[test]
    fn an_address_inside_a_reverse_dns_name_is_replaced() {
        let dir = tempfile::tempdir().expect("tmp");
        let o = Obfuscator::open(&dir.path().join("m.json"), ObfuscationRules::default())
            .expect("open");
        let out = o.clean("connection from 203.101.45.59 (dsl-static-059.45.101.203.isp.net)");
        assert!(!out.contains("45.101"), "{out}");
        assert!(o
            .clean("version 1.2.3.4.5 and 10.1.2.3.4")
            .contains("1.2.3.4.5"));
    }

    #[test]
    fn ipv4_only_four_octets_standing_alone() {
        let tmp = tempfile::tempdir().expect("tmp");
        let o = open(tmp.path(), rules());
        let text = "from 10.1.2.3 port 22; rhost=10.1.2.4 /10.1.2.3:3888 [10.1.2.5].\n\
                    build 6.1.7601.23505 v1.2.3.4 1.2.3.4.5 256.1.1.1 10.1.2 at 10:30:45 amd64~~6.1.1.1\n\
                    lo 127.0.0.1 any 0.0.0.0 mask 255.255.255.0 bcast 255.255.255.255\n";
        assert_eq!(
            o.clean(text),
            "from 100.64.0.1 port 22; rhost=100.64.0.2 /100.64.0.1:3888 [100.64.0.3].\n\
             build 6.1.7601.23505 v1.2.3.4 1.2.3.4.5 256.1.1.1 10.1.2 at 10:30:45 amd64~~6.1.1.1\n\
             lo 127.0.0.1 any 0.0.0.0 mask 255.255.255.0 bcast 255.255.255.255\n"
        );
        assert_eq!(o.clean("010.001.002.003"), "100.64.0.1");
    }

    #[test]
    fn ipv6() {
        let tmp = tempfile::tempdir().expect("tmp");
        let o = open(tmp.path(), rules());
        let out = o.clean(
            "a fe80::1ff:fe23:4567:890a%eth0 b [2001:DB8::1]:22 c 2001:db8:0:0:0:0:0:1 \
             d ::ffff:10.9.8.7 e ::1 f std::vector g 10:30:45 h 0:0:0:0:0:0:0:0:2181 i e::ca",
        );
        assert_eq!(
            out,
            "a fd53:4f53::1%eth0 b [fd53:4f53::2]:22 c fd53:4f53::2 \
             d ::ffff:100.64.0.1 e ::1 f std::vector g 10:30:45 h 0:0:0:0:0:0:0:0:2181 i fd53:4f53::3"
        );
    }

    #[test]
    fn macs() {
        let tmp = tempfile::tempdir().expect("tmp");
        let o = open(tmp.path(), rules());
        let out = o.clean(
            "eth0 00:0D:60:E9:14:D8 nic 00-0d-60-e9-14-d8 other 00:0d:60:e9:1d:dc \
             zero 00:00:00:00:00:00 time 12:30:45 long 00:0d:60:e9:14:d8:01",
        );
        assert_eq!(
            out,
            "eth0 53:4f:53:00:00:01 nic 53-4f-53-00-00-01 other 53:4f:53:00:00:02 \
             zero 00:00:00:00:00:00 time 12:30:45 long 00:0d:60:e9:14:d8:01"
        );
    }

    #[test]
    fn users_listed_and_by_context() {
        let tmp = tempfile::tempdir().expect("tmp");
        let o = open(tmp.path(), rules());
        let out = o.clean(
            "bob logged on\nFailed password for invalid user bob from 10.0.0.9\n\
             Accepted for user Alice; ruser=carol user=dave; CONTOSO\\erin signed in\n\
             azurestackadmin ran; user unknown; user root; Invalid user 1234; user  from\n\
             C:\\Windows\\System32 NT AUTHORITY\\SYSTEM ftpuser zed\n",
        );
        assert_eq!(
            out,
            "obfuscateduser0 logged on\n\
             Failed password for invalid user obfuscateduser0 from 100.64.0.1\n\
             Accepted for user obfuscateduser1; ruser=obfuscateduser2 user=obfuscateduser3; \
             CONTOSO\\obfuscateduser4 signed in\n\
             obfuscateduser5 ran; user unknown; user root; Invalid user 1234; user  from\n\
             C:\\Windows\\System32 NT AUTHORITY\\SYSTEM ftpuser zed\n"
        );
        // Learned names are replaced in later texts without their context.
        assert_eq!(
            o.clean("alice and BOB"),
            "obfuscateduser1 and obfuscateduser0"
        );
        // ... as whole words only: `_`, `-` and inner dots join words.
        assert_eq!(
            o.clean("bob_thread meta-bob bob.x (bob) bob."),
            "bob_thread meta-bob bob.x (obfuscateduser0) obfuscateduser0."
        );
    }

    #[test]
    fn keywords_case_insensitive_anywhere() {
        let tmp = tempfile::tempdir().expect("tmp");
        let o = open(tmp.path(), rules());
        assert_eq!(
            o.clean("Project FALCON, falcon, ProjectFalconX"),
            "Project obfuscatedword0, obfuscatedword0, Projectobfuscatedword0X"
        );
        let o = open(
            tmp.path(),
            ObfuscationRules {
                keywords: vec!["Müller".into()],
                users: vec!["Ådne".into()],
                ..rules()
            },
        );
        assert_eq!(o.clean("MÜLLER ådne"), "obfuscatedword0 obfuscateduser0");
    }

    #[test]
    fn nothing_to_replace_is_borrowed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let o = open(tmp.path(), rules());
        let text = "2015-07-29 17:41:44,747 - INFO build 6.1.7601.23505 took 10:30:45\n";
        assert!(matches!(o.clean_cow(text), Cow::Borrowed(_)));
    }

    #[test]
    fn consistent_across_instances_sharing_a_map() {
        let tmp = tempfile::tempdir().expect("tmp");
        let text = "AZS-HOST02 10.0.0.1 fe80::2 00:11:22:33:44:55 Invalid user eve falcon\n";
        let first = {
            let o = open(tmp.path(), rules());
            o.clean("10.0.0.7 AZS-HOST01");
            let out = o.clean(text);
            o.save().expect("save");
            out
        };
        let o = open(tmp.path(), rules());
        assert_eq!(o.clean(text), first);
        // New originals continue the numbering rather than reuse a stand-in.
        assert_eq!(o.clean("10.0.0.8 AZS-HOST03"), "100.64.0.3 AZS-HOST03");
        let o2 = open(tmp.path(), ObfuscationRules::default());
        assert_eq!(o2.clean("azs-host02 EVE"), "host1 obfuscateduser0");
        let kinds: Vec<MapKind> = o.entries().iter().map(|e| e.kind).collect();
        assert!(kinds.windows(2).all(|w| w[0] <= w[1]));
        assert!(o.entries().contains(&MapEntry {
            kind: MapKind::MACAddress,
            original: "00:11:22:33:44:55".into(),
            replacement: "53:4f:53:00:00:01".into(),
        }));
    }

    #[cfg(unix)]
    #[test]
    fn map_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tmp");
        let o = open(tmp.path(), rules());
        o.clean("10.0.0.1");
        o.save().expect("save");
        let meta = fs::metadata(tmp.path().join("obfuscation-map.json")).expect("stat");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = fs::read_to_string(tmp.path().join("obfuscation-map.json")).expect("read");
        assert!(text.contains("\"version\": 1"), "{text}");
    }

    #[test]
    fn unknown_version_is_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("obfuscation-map.json");
        fs::write(&path, r#"{"version":2,"hosts":{}}"#).expect("write");
        let err = Obfuscator::open(&path, rules()).err().expect("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("is version 2"), "{err}");
        fs::write(&path, r#"{"hosts":{}}"#).expect("write");
        assert!(Obfuscator::open(&path, rules()).is_err());
        fs::write(&path, "not json").expect("write");
        assert!(Obfuscator::open(&path, rules()).is_err());
    }

    #[test]
    fn threads_share_one_map() {
        let tmp = tempfile::tempdir().expect("tmp");
        let o = open(tmp.path(), rules());
        let texts: Vec<String> = (0..8)
            .map(|i| format!("10.0.{i}.1 Invalid user u{i} 10.0.0.1 AZS-HOST01\n"))
            .collect();
        std::thread::scope(|s| {
            for t in &texts {
                let o = &o;
                s.spawn(move || o.clean(t));
            }
        });
        let entries = o.entries();
        let ips: HashSet<&str> = entries
            .iter()
            .filter(|e| e.kind == MapKind::IPAddress)
            .map(|e| e.replacement.as_str())
            .collect();
        assert_eq!(ips.len(), 8, "{entries:?}");
        assert_eq!(o.clean(&texts[3]), o.clean(&texts[3]));
    }

    #[test]
    #[ignore = "prints throughput; run by hand"]
    fn throughput() {
        let corpus = corpus();
        let dir = corpus.as_path();
        let mut all = String::new();
        for e in fs::read_dir(dir).expect("ls") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "log") {
                all.push_str(&fs::read_to_string(&p).expect("read"));
            }
        }
        let tmp = tempfile::tempdir().expect("tmp");
        let o = open(tmp.path(), rules());
        o.clean(&all);
        let t = std::time::Instant::now();
        let rounds = 10;
        for _ in 0..rounds {
            std::hint::black_box(o.clean_cow(&all));
        }
        let mb = (all.len() * rounds) as f64 / 1e6;
        eprintln!(
            "{mb:.0} MB in {:?}: {:.1} MB/s",
            t.elapsed(),
            mb / t.elapsed().as_secs_f64()
        );
        for e in fs::read_dir(dir).expect("ls") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "log") {
                let text = fs::read_to_string(&p).expect("read");
                let t = std::time::Instant::now();
                for _ in 0..rounds {
                    std::hint::black_box(o.clean_cow(&text));
                }
                let mb = (text.len() * rounds) as f64 / 1e6;
                eprintln!(
                    "{:?}: {:.1} MB/s",
                    p.file_name().unwrap_or_default(),
                    mb / t.elapsed().as_secs_f64()
                );
            }
        }
    }

    /// The shared log samples (`$PEP_SHARED/corpus/loghub`).
    fn corpus() -> std::path::PathBuf {
        let shared = std::env::var("PEP_SHARED").unwrap_or_else(|_| "/work/shared".to_string());
        Path::new(&shared).join("corpus/loghub")
    }

    /// The same rules as the module, written independently: runs of letters, digits and dots,
    /// one trailing dot dropped, that are exactly four octets 0-255.
    fn ipv4s(text: &str) -> HashSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .map(|t| t.strip_suffix('.').unwrap_or(t))
            .filter(|t| {
                let parts: Vec<&str> = t.split('.').collect();
                parts.len() == 4
                    && parts
                        .iter()
                        .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u8>().is_ok())
            })
            .filter(|t| !t.starts_with("127.") && *t != "0.0.0.0" && !t.starts_with("255."))
            .map(str::to_string)
            .collect()
    }

    fn context_users(text: &str) -> HashSet<String> {
        let re = Regex::new(r"(?:[Ii]nvalid user|for user|user=) ?([^\s;,]+)").expect("re");
        re.captures_iter(text)
            .filter_map(|c| c.get(1))
            .map(|m| m.as_str().trim_end_matches('.').to_lowercase())
            .filter(|u| {
                !u.is_empty()
                    && !u.bytes().all(|b| b.is_ascii_digit())
                    && !NOT_USER_NAMES.contains(&u.as_str())
            })
            .collect()
    }

    #[test]
    fn real_logs_keep_no_ip_or_user() {
        let corpus = corpus();
        let tmp = tempfile::tempdir().expect("tmp");
        for name in ["OpenSSH_2k.log", "Linux_2k.log"] {
            let Ok(text) = fs::read_to_string(corpus.join(name)) else {
                eprintln!("skipped: {} not found", corpus.join(name).display());
                return;
            };
            let o = open(tmp.path(), ObfuscationRules::default());
            let out = o.clean(&text);
            o.save().expect("save");

            let ips = ipv4s(&text);
            assert!(ips.len() > 10, "{name}: {} addresses", ips.len());
            let left: Vec<String> = ipv4s(&out)
                .into_iter()
                .filter(|ip| ips.contains(ip))
                .collect();
            assert!(left.is_empty(), "{name}: still there: {left:?}");

            let users = context_users(&text);
            assert!(users.len() > 3, "{name}: {users:?}");
            let words: HashSet<String> = out
                .split(|c: char| !(c.is_ascii_alphanumeric() || "._$-".contains(c)))
                .map(|w| w.trim_end_matches('.').to_lowercase())
                .collect();
            let kept: Vec<&String> = users.iter().filter(|u| words.contains(*u)).collect();
            assert!(kept.is_empty(), "{name}: users still there: {kept:?}");
            assert_eq!(out.lines().count(), text.lines().count());

            let again = open(tmp.path(), ObfuscationRules::default());
            assert_eq!(
                again.clean(&text),
                out,
                "{name}: differs with the reopened map"
            );
        }
    }
}
