//! Log collection and upload over SSH, against a real Azurite: support sends the case's logs to
//! the vendor's container (and cannot choose another), the operator uploads anywhere; each blob
//! is downloaded and checked (a zip, its MD5 and SHA-256 as recorded, every line inside the
//! window); refused SAS URLs give one line; an interrupted upload resumes with only the missing
//! blocks; revocation stops an upload; obfuscated bundles keep no original name or address; the
//! signature is found nowhere under the state directory or in pep's log.

use crate::harness::Pep;
use azs_support::logs::azurite::Azurite;
use azs_support::logs::collect::line_time;
use chrono::{DateTime, Duration as Days, Utc};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Azurite, or None (skipped) when it is not installed — but under CI it must be.
fn azurite(persistent: Option<&Path>) -> Option<std::sync::Arc<Azurite>> {
    if azs_support::logs::azurite::azurite_bin().is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Azurite is not installed (.ci/run installs it)"
        );
        eprintln!("skipping: Azurite is not installed (.ci/run installs it)");
        return None;
    }
    match persistent {
        Some(dir) => Some(std::sync::Arc::new(
            Azurite::start(Some(dir)).expect("azurite starts"),
        )),
        None => Azurite::shared_for_tests("logs"),
    }
}

/// A container SAS URL (created container) written to a 0600 file.
fn sas_file(az: &Azurite, dir: &Path, container: &str, perms: &str) -> (String, PathBuf) {
    az.create_container(container).expect("container");
    let url = az.container_sas(container, perms, Utc::now() + Days::days(1));
    let path = dir.join(format!("{container}.sas"));
    std::fs::write(&path, &url).expect("write");
    set_mode(&path, 0o600);
    (url, path)
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn sig_of(url: &str) -> String {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("sig="))
        .expect("sig")
        .to_string()
}

/// GET a blob with the container SAS.
fn download(sas: &str, name: &str) -> Vec<u8> {
    azs_support::logs::blob::install_ring();
    let (base, query) = sas.split_once('?').expect("query");
    let url = format!("{base}/{name}?{query}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let r = reqwest::get(&url).await.expect("get");
        assert!(r.status().is_success(), "GET {name}: {}", r.status());
        r.bytes().await.expect("body").to_vec()
    })
}

/// Blobs with uncommitted (staged) blocks, and how many: List Blobs with uncommitted blobs, then
/// each one's uncommitted block list.
fn uncommitted_blocks(sas: &str) -> Vec<(String, usize)> {
    azs_support::logs::blob::install_ring();
    let (base, query) = sas.split_once('?').expect("query");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let list = reqwest::get(format!(
            "{base}?{query}&restype=container&comp=list&include=uncommittedblobs"
        ))
        .await
        .expect("list")
        .text()
        .await
        .expect("body");
        let names = regex::Regex::new("<Name>([^<]+)</Name>").expect("re");
        let mut out = Vec::new();
        for c in names.captures_iter(&list) {
            let name = c[1].to_string();
            let blocks = reqwest::get(format!(
                "{base}/{name}?{query}&comp=blocklist&blocklisttype=uncommitted"
            ))
            .await
            .expect("blocklist")
            .text()
            .await
            .expect("body");
            let n = blocks.matches("<Block>").count();
            if n > 0 {
                out.push((name, n));
            }
        }
        out.sort();
        out
    })
}

fn list(az: &Azurite, sas: &str) -> Vec<(String, u64)> {
    let _ = az;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let client = azs_support::logs::blob::BlobClient::new(Default::default()).expect("client");
    let sas = azs_support::logs::blob::ContainerSas::parse(sas).expect("sas");
    rt.block_on(client.list_blobs(&sas)).expect("list")
}

/// A scenario whose host AZS-HOST01 carries a real log folder of `mb` MiB of hard-to-compress
/// lines (hex noise) stamped over the last hour, so its BareMetal zip spans several 1 MiB blocks.
fn big_log_scenario(dir: &Path, mb: usize) -> PathBuf {
    let logs = dir.join("biglogs");
    std::fs::create_dir_all(&logs).expect("dir");
    let now = Utc::now();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut text = String::with_capacity(mb << 20);
    let mut i = 0u64;
    while text.len() < mb << 20 {
        let t = now - Days::milliseconds(3_000_000 - (i as i64 % 3_000_000));
        text.push_str(&t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        text.push_str(" Info trace ");
        for _ in 0..6 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            text.push_str(&format!("{:016x}", x));
        }
        text.push('\n');
        i += 997;
    }
    std::fs::write(logs.join("trace.log"), text).expect("write");
    let scenario = dir.join("big-logs.toml");
    std::fs::write(
        &scenario,
        format!(
            "extends = \"default\"\nversion = 1\nname = \"big-logs\"\ndescription = \"A host with a large real log folder.\"\n\n[[host]]\nname = \"AZS-HOST01\"\nlog_dir = \"{}\"\n",
            logs.display()
        ),
    )
    .expect("scenario");
    scenario
}

fn records(json: &str) -> Vec<serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(json).expect("json") {
        serde_json::Value::Array(a) => a,
        v => vec![v],
    }
}

fn md5_b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(md5::compute(bytes).0)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file under `dir`, recursively, as bytes.
fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                if let Ok(b) = std::fs::read(&p) {
                    out.push((p, b));
                }
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The entries of a zip: name and text.
fn entries(zip: &[u8]) -> Vec<(String, String)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).expect("entry");
            let mut s = Vec::new();
            f.read_to_end(&mut s).expect("read");
            (
                f.name().map(|n| n.to_string()).unwrap_or_default(),
                String::from_utf8_lossy(&s).into_owned(),
            )
        })
        .collect()
}

/// Checks an uploaded collection: every record's blob is there, byte for byte as recorded, and
/// every line of the role zips lies in [from, to].
fn check_uploaded(sas: &str, recs: &[serde_json::Value], from: DateTime<Utc>, to: DateTime<Utc>) {
    assert!(!recs.is_empty());
    for r in recs {
        let name = r["Name"].as_str().expect("Name");
        assert_eq!(r["Status"], "Uploaded", "{r}");
        let bytes = download(sas, name);
        assert_eq!(
            bytes.len() as u64,
            r["Length"].as_u64().expect("Length"),
            "{name}"
        );
        assert_eq!(
            md5_b64(&bytes),
            r["ContentMD5"].as_str().expect("md5"),
            "{name}"
        );
        assert_eq!(
            sha256_hex(&bytes),
            r["Sha256"].as_str().expect("sha"),
            "{name}"
        );
        if name.ends_with(".zip") && !name.contains("-WorkingDirectory") {
            let mut lines = 0;
            for (entry, text) in entries(&bytes) {
                let mut last: Option<DateTime<Utc>> = None;
                for line in text.lines() {
                    if let Some(t) =
                        line_time(line, to.format("%Y").to_string().parse().unwrap_or(2026))
                    {
                        assert!(t >= from && t <= to, "{name}/{entry}: {line}");
                        last = Some(t);
                        lines += 1;
                    } else {
                        assert!(
                            last.is_some() || line.trim().is_empty(),
                            "{name}/{entry}: a line before any timestamp: {line}"
                        );
                    }
                }
            }
            assert!(lines > 0, "{name} holds log lines");
        }
    }
}

#[test]
fn support_sends_the_case_logs_to_the_vendor_and_every_blob_verifies() {
    let Some(az) = azurite(None) else { return };
    let keys = tempfile::tempdir().expect("tmp");
    let (vendor, vendor_file) = sas_file(&az, keys.path(), "vendor", "rcwl");
    let pep = Pep::start_with(&[
        "--vendor-upload-sas-file",
        vendor_file.to_str().expect("utf8"),
    ]);
    let (op, sup) = pep.granted("Diagnostics");

    // Something in the case's working directory, to travel with the logs.
    let r = pep.exec(&sup, "Get-AzsSupportInfrastructureHost | Save-AzsSupportObjectToFile -FilePrefix hosts -FileFormat json");
    assert!(r.ok(), "{r:?}");

    // The operator sees the destination, signature redacted.
    let r = pep.exec(&op, "Get-AzureStackSupportConfiguration");
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout.contains("devstoreaccount1") && r.stdout.contains("vendor"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(&sig_of(&vendor)), "{}", r.stdout);

    let now = Utc::now();
    let (from, to) = (now - Days::hours(2), now - Days::minutes(30));
    let cmd = format!(
        "Send-AzureStackDiagnosticLog -FilterByRole ECE,SeedRing,NC -FromDate {} -ToDate {} | ConvertTo-Json",
        from.to_rfc3339(),
        to.to_rfc3339()
    );
    let r = pep.exec(&sup, &cmd);
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stderr.contains("uploaded to devstoreaccount1/vendor"),
        "summary: {r:?}"
    );
    let recs = records(&r.stdout);
    check_uploaded(&vendor, &recs, from, to);
    let names: Vec<&str> = recs.iter().filter_map(|r| r["Name"].as_str()).collect();
    for role in ["ECE", "SeedRing", "NC", "WorkingDirectory"] {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("AzureStackLogs-") && n.ends_with(&format!("-{role}.zip"))),
            "{role}: {names:?}"
        );
    }
    assert!(names.contains(&"manifest.json") && names.contains(&"Get-AzureStackLog_Output.log"));
    let wd = recs
        .iter()
        .find(|r| {
            r["Name"]
                .as_str()
                .is_some_and(|n| n.ends_with("-WorkingDirectory.zip"))
        })
        .expect("working directory zip");
    let wd_bytes = download(&vendor, wd["Name"].as_str().expect("name"));
    assert!(
        entries(&wd_bytes)
            .iter()
            .any(|(n, _)| n.starts_with("hosts")),
        "the saved file travels"
    );
    let listed = list(&az, &vendor);
    assert_eq!(listed.len(), recs.len(), "{listed:?}");

    // Support cannot choose where data goes.
    let r = pep.exec(
        &sup,
        &format!("Send-AzureStackDiagnosticLog -OutputSasUri '{vendor}'"),
    );
    assert_eq!(r.status, Some(2), "{r:?}");
    let r = pep.exec(&sup, &format!("Get-AzureStackLog -OutputSasUri '{vendor}'"));
    assert_eq!(r.status, Some(3), "{r:?}");
    assert!(!r.stderr.contains(&sig_of(&vendor)), "{r:?}");

    // The history, as JSON, for the operator only.
    let r = pep.exec(&op, "Get-LogCollectionHistory | ConvertTo-Json");
    assert!(r.ok(), "{r:?}");
    let hist = records(&r.stdout);
    assert_eq!(hist.len(), 1, "{}", r.stdout);
    assert_eq!(hist[0]["Identity"], "sam");
    assert_eq!(hist[0]["SupportRequestId"], "2611210001");
    assert_eq!(hist[0]["Destination"], "devstoreaccount1/vendor");
    assert_eq!(hist[0]["Status"], "Succeeded");
    assert_eq!(
        hist[0]["UploadNumberOfFiles"].as_u64(),
        Some(recs.len() as u64)
    );
    let r = pep.exec(&sup, "Get-LogCollectionHistory");
    assert_eq!(r.status, Some(3), "operators only: {r:?}");

    // The operator uploads anywhere; a read-only or expired SAS gives one line.
    let (other, _) = sas_file(&az, keys.path(), "operator-case", "rcwl");
    let r = pep.exec(
        &op,
        &format!("Get-AzureStackLog -OutputSasUri '{other}' -FilterByRole ECE -FilterByNode AZS-ERCS01,AZS-ERCS02 | ConvertTo-Json"),
    );
    assert!(r.ok(), "{r:?}");
    let recs = records(&r.stdout);
    check_uploaded(&other, &recs, now - Days::hours(5), now + Days::minutes(5));
    // Into the working directory only, event logs only.
    let r = pep.exec(
        &op,
        "Get-AzureStackLog -OutputPath events-only -FilterByRole ECE -FilterByLogType WindowsEvent | ConvertTo-Json",
    );
    assert!(r.ok(), "{r:?}");
    let recs = records(&r.stdout);
    assert!(
        recs.iter().all(|r| r["Status"] == "Written"),
        "{}",
        r.stdout
    );
    let zip = all_files(&pep.state.join("workdirs"))
        .into_iter()
        .find(|(p, _)| {
            p.parent().is_some_and(|d| d.ends_with("events-only"))
                && p.to_string_lossy().ends_with("-ECE.zip")
        })
        .expect("the ECE zip in events-only");
    let names: Vec<String> = entries(&zip.1).into_iter().map(|(n, _)| n).collect();
    assert!(
        !names.is_empty() && names.iter().all(|n| n.contains("/Events/")),
        "{names:?}"
    );
    az.create_container("readonly").expect("container");
    let ro = az.container_sas("readonly", "rl", Utc::now() + Days::days(1));
    let r = pep.exec(
        &op,
        &format!("Get-AzureStackLog -OutputSasUri '{ro}' -FilterByRole ECE"),
    );
    assert_eq!(r.status, Some(1), "{r:?}");
    let err: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(err.len(), 1, "{r:?}");
    assert!(
        err[0].contains("does not allow writing to devstoreaccount1/readonly"),
        "{r:?}"
    );
    let expired = az.container_sas("readonly", "rcwl", Utc::now() - Days::hours(1));
    let r = pep.exec(
        &op,
        &format!("Get-AzureStackLog -OutputSasUri '{expired}' -FilterByRole ECE"),
    );
    assert_eq!(r.status, Some(1), "{r:?}");
    assert!(r.stderr.contains("expired"), "{r:?}");

    // No signature anywhere: state directory (transcripts, history, collections) and the log.
    for sig in [
        sig_of(&vendor),
        sig_of(&other),
        sig_of(&ro),
        sig_of(&expired),
    ] {
        for (p, bytes) in all_files(&pep.state) {
            assert!(
                !contains(&bytes, &sig),
                "the signature is in {}",
                p.display()
            );
        }
        assert!(!pep.log().contains(&sig), "the signature is in pep's log");
    }
}

#[test]
fn an_interrupted_upload_resumes_with_only_the_missing_blocks() {
    let tmp = tempfile::tempdir().expect("tmp");
    let Some(az) = azurite(None) else { return };
    let (vendor, vendor_file) = sas_file(&az, tmp.path(), "vendor-resume", "rcwl");
    // 1 MiB blocks at 16 Mbit/s: a few MiB take seconds, time enough to interrupt.
    let scenario = big_log_scenario(tmp.path(), 6);
    let mut pep = Pep::start_with(&[
        "--scenario",
        scenario.to_str().expect("utf8"),
        "--vendor-upload-sas-file",
        vendor_file.to_str().expect("utf8"),
        "--upload-block-mb",
        "1",
        "--upload-cap-mbps",
        "8",
    ]);
    let (_op, sup) = pep.granted("Diagnostics");
    let now = Utc::now();
    let cmd = format!(
        "Send-AzureStackDiagnosticLog -FilterByRole BareMetal -FilterByNode AZS-HOST01 -FromDate {} | ConvertTo-Json",
        (now - Days::hours(2)).to_rfc3339()
    );
    let mut ssh = pep.ssh_base(&sup);
    let child = ssh
        .args(["anyuser@127.0.0.1", "--", &cmd])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ssh");
    // Wait for staged, uncommitted blocks, then kill pep outright.
    let started = Instant::now();
    let staged = loop {
        let staged = uncommitted_blocks(&vendor);
        if staged.iter().any(|(_, n)| *n >= 2) {
            break staged;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let mut child = child;
            let _ = child.kill();
            let out = child.wait_with_output().expect("ssh");
            panic!("no blocks were staged: {out:?}\n{}", pep.log());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    pep.stop();
    let _ = child.wait_with_output();
    let (blob, before) = staged
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .expect("a blob with staged blocks");
    pep.spawn();
    let r = pep.exec(
        &sup,
        "Send-AzureStackDiagnosticLog -Resume | ConvertTo-Json",
    );
    assert!(r.ok(), "{r:?}");
    let recs = records(&r.stdout);
    let rec = recs
        .iter()
        .find(|r| r["Name"] == blob.as_str())
        .unwrap_or_else(|| panic!("{blob} resumed: {}", r.stdout));
    let skipped = rec["BlocksSkipped"].as_u64().expect("skipped");
    let sent = rec["BlocksSent"].as_u64().expect("sent");
    assert!(
        skipped >= before as u64,
        "{skipped} skipped, {before} were staged: {rec}"
    );
    let length = rec["Length"].as_u64().expect("length");
    assert_eq!(sent + skipped, length.div_ceil(1 << 20), "{rec}");
    for r in &recs {
        assert_eq!(r["Status"], "Uploaded", "{r}");
        let bytes = download(&vendor, r["Name"].as_str().expect("name"));
        assert_eq!(sha256_hex(&bytes), r["Sha256"].as_str().expect("sha"));
    }
    // Byte-identical to the bundle kept in the case's working directory.
    let local = all_files(&pep.state.join("workdirs"))
        .into_iter()
        .find(|(p, _)| p.file_name().is_some_and(|n| n == blob.as_str()))
        .expect("the local bundle");
    assert_eq!(sha256_hex(&local.1), rec["Sha256"].as_str().expect("sha"));
}

#[test]
fn revoking_the_grant_stops_an_upload() {
    let Some(az) = azurite(None) else { return };
    let keys = tempfile::tempdir().expect("tmp");
    let (vendor, vendor_file) = sas_file(&az, keys.path(), "vendor-revoke", "rcwl");
    let scenario = big_log_scenario(keys.path(), 6);
    let pep = Pep::start_with(&[
        "--scenario",
        scenario.to_str().expect("utf8"),
        "--vendor-upload-sas-file",
        vendor_file.to_str().expect("utf8"),
        "--upload-block-mb",
        "1",
        "--upload-cap-mbps",
        "4",
        "--max-log-collections",
        "1",
    ]);
    let (op, sup) = pep.granted("Diagnostics");
    let now = Utc::now();
    let cmd = format!(
        "Send-AzureStackDiagnosticLog -FilterByRole BareMetal -FilterByNode AZS-HOST01 -FromDate {}",
        (now - Days::hours(2)).to_rfc3339()
    );
    let child = pep
        .ssh_base(&sup)
        .args(["anyuser@127.0.0.1", "--", &cmd])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ssh");
    let started = Instant::now();
    while !uncommitted_blocks(&vendor).iter().any(|(_, n)| *n >= 1) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no blocks were staged"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The endpoint runs one collection at a time here: another is refused with one line, and
    // nothing is collected for it.
    let r = pep.exec(&op, "Get-AzureStackLog -FilterByRole BareMetal");
    assert!(!r.ok(), "{r:?}");
    assert!(
        r.stderr
            .contains("1 log collection is already running on this endpoint (at most 1 at once)"),
        "{r:?}"
    );
    let r = pep.exec(&op, "Disable-RemoteSupport");
    assert!(r.ok(), "{r:?}");
    let revoked = Instant::now();
    let out = child.wait_with_output().expect("ssh ends");
    let ended = revoked.elapsed();
    assert!(
        ended < Duration::from_secs(3),
        "the session ended {ended:?} after revocation"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("revoked")
            || String::from_utf8_lossy(&out.stderr).contains("no longer"),
        "{out:?}"
    );
    // Within a second nothing more is sent.
    std::thread::sleep(Duration::from_secs(1));
    let a = uncommitted_blocks(&vendor);
    std::thread::sleep(Duration::from_secs(2));
    let b = uncommitted_blocks(&vendor);
    assert_eq!(a, b, "blocks still arrive after revocation");
    let r = pep.exec(&op, "Get-LogCollectionHistory | ConvertTo-Json");
    let hist = records(&r.stdout);
    assert_eq!(hist[0]["Status"], "Cancelled", "{}", r.stdout);
    assert_eq!(
        hist.len(),
        1,
        "the refused collection left no record: {}",
        r.stdout
    );
    // The cancelled collection gave its slot back: the operator's collection now runs.
    let r = pep.exec(
        &op,
        "Get-AzureStackLog -FilterByRole BareMetal | ConvertTo-Json",
    );
    assert!(r.ok(), "{r:?}");
}

#[test]
fn obfuscated_bundles_keep_no_names_or_addresses_and_the_map_is_stable() {
    let Some(az) = azurite(None) else { return };
    let keys = tempfile::tempdir().expect("tmp");
    let (dest, _) = sas_file(&az, keys.path(), "obf", "rcwl");
    let pep = Pep::start_with(&["--obfuscate-logs", "--obfuscation-keyword", "azurestack"]);
    let op = pep.identity("operator", "olivia");
    let mut runs = Vec::new();
    for _ in 0..2 {
        let r = pep.exec(
            &op,
            &format!("Get-AzureStackLog -OutputSasUri '{dest}' -FilterByRole ECE,NC,BareMetal | ConvertTo-Json"),
        );
        assert!(r.ok(), "{r:?}");
        runs.push(records(&r.stdout));
        std::thread::sleep(Duration::from_millis(1100));
    }
    let ipv4 = regex::Regex::new(r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b").expect("re");
    let mac = regex::Regex::new(r"(?i)\b([0-9a-f]{2}[:-]){5}[0-9a-f]{2}\b").expect("re");
    let mut entry_names: Vec<Vec<String>> = Vec::new();
    for recs in &runs {
        let mut names = Vec::new();
        for r in recs {
            let name = r["Name"].as_str().expect("name");
            assert!(!name.contains("AZS"), "{name}");
            let bytes = download(&dest, name);
            let texts: Vec<(String, String)> = if name.ends_with(".zip") {
                entries(&bytes)
            } else {
                // The manifest and output log: product names, their text is what counts.
                vec![(String::new(), String::from_utf8_lossy(&bytes).into_owned())]
            };
            for (entry, text) in texts {
                names.push(entry.clone());
                for hay in [&entry, &text] {
                    assert!(!hay.contains("AZS-"), "{name}/{entry} keeps a node name");
                    assert!(
                        !hay.to_lowercase().contains("azurestack"),
                        "{name}/{entry} keeps a keyword"
                    );
                    for c in ipv4.captures_iter(hay) {
                        let ip = &c[0];
                        // Windows component versions (`amd64~~6.1.1.0`) are not addresses.
                        let start = c.get(0).map_or(0, |m| m.start());
                        if hay[..start].ends_with('~') {
                            continue;
                        }
                        assert!(
                            ip.starts_with("100.") || ip == "127.0.0.1" || ip == "0.0.0.0",
                            "{name}/{entry} keeps the address {ip}"
                        );
                    }
                    if let Some(m) = mac.find(hay) {
                        assert!(
                            m.as_str().to_lowercase().starts_with("53:4f:53"),
                            "{name}/{entry} keeps the MAC {}",
                            m.as_str()
                        );
                    }
                }
            }
        }
        names.sort();
        entry_names.push(names);
    }
    // The same host maps to the same stand-in in both runs.
    assert_eq!(entry_names[0], entry_names[1]);
    assert!(
        entry_names[0].iter().any(|n| n.starts_with("host")),
        "{:?}",
        entry_names[0]
    );
    let r = pep.exec(&op, "Get-AzureStackLogObfuscationMap | ConvertTo-Json");
    assert!(r.ok(), "{r:?}");
    let map = records(&r.stdout);
    assert!(
        map.iter().any(|e| e["Original"]
            .as_str()
            .is_some_and(|o| o.eq_ignore_ascii_case("AZS-HOST01"))
            && e["Kind"] == "Host"),
        "{}",
        r.stdout
    );
    // The map is not part of any bundle and is readable by its owner only.
    let meta = std::fs::metadata(pep.state.join("obfuscation-map.json")).expect("map");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o077, 0);
}

#[test]
fn an_interactive_upload_shows_one_progress_line_and_ctrl_c_cancels_it() {
    let Some(az) = azurite(None) else { return };
    let keys = tempfile::tempdir().expect("tmp");
    let (_vendor, vendor_file) = sas_file(&az, keys.path(), "vendor-interactive", "rcwl");
    let scenario = big_log_scenario(keys.path(), 6);
    let pep = Pep::start_with(&[
        "--scenario",
        scenario.to_str().expect("utf8"),
        "--vendor-upload-sas-file",
        vendor_file.to_str().expect("utf8"),
        "--upload-block-mb",
        "1",
        "--upload-cap-mbps",
        "4",
    ]);
    let (op, sup) = pep.granted("Diagnostics");
    let mut s = pep.pty(&sup);
    s.wait_for(crate::harness::PROMPT, crate::harness::T)
        .expect("prompt");
    s.send(b"Send-AzureStackDiagnosticLog -FilterByRole BareMetal -FilterByNode AZS-HOST01\r");
    // The line is redrawn in place (carriage return, erase line): collected, compressed,
    // uploaded with its rate.
    let seen = s
        .wait_for(" uploaded ", Duration::from_secs(30))
        .expect("a progress line");
    assert!(seen.contains("\r\x1b[2Kcollected "), "{seen:?}");
    s.wait_for("/s", crate::harness::T).expect("a rate");
    s.send(b"\x03");
    let seen = s
        .wait_for(crate::harness::PROMPT, crate::harness::T)
        .expect("the prompt after Ctrl-C");
    assert!(seen.contains("cancelled by the user"), "{seen:?}");
    // The session goes on, and the history says what happened.
    s.send(b"Get-AzsSupportStampInformation | Select-Object -ExpandProperty NumberOfNodes\r");
    s.wait_for(crate::harness::PROMPT, crate::harness::T)
        .expect("usable");
    let r = pep.exec(&op, "Get-LogCollectionHistory | ConvertTo-Json");
    let hist = records(&r.stdout);
    assert_eq!(hist[0]["Status"], "Cancelled", "{}", r.stdout);
}

#[test]
fn close_ships_transcripts_and_recordings_to_a_container_sas_and_removes_only_verified_copies() {
    let Some(az) = azurite(None) else {
        return;
    };
    let pep = Pep::start();
    let (op, sup) = pep.granted("Diagnostics");
    let r = pep.exec(&sup, "Get-AzsSupportStampVersion");
    assert!(r.ok(), "{r:?}");
    let mut ended = all_files(&pep.state.join("transcripts"));
    ended.extend(all_files(&pep.state.join("recordings")));
    assert!(ended.len() >= 4, "{} files", ended.len());

    az.create_container("pep-transcripts").expect("container");
    let expiry = Utc::now() + Days::days(1);
    // A SAS that may not write: nothing leaves, nothing is removed, the signature is not shown.
    let read_only = az.container_sas("pep-transcripts", "rl", expiry);
    let r = pep.exec(
        &op,
        &format!("Close-PrivilegedEndpoint -TranscriptsPathDestination '{read_only}'"),
    );
    assert!(!r.ok(), "{r:?}");
    assert!(r.stderr.contains("nothing was removed"), "{r:?}");
    assert!(
        !r.stderr.contains(&sig_of(&read_only)),
        "the signature was shown"
    );
    for (path, _) in &ended {
        assert!(path.exists(), "{} was removed", path.display());
    }

    let sas = az.container_sas("pep-transcripts", "rcwl", expiry);
    let r = pep.exec(
        &op,
        &format!("Close-PrivilegedEndpoint -TranscriptsPathDestination '{sas}'"),
    );
    assert!(r.ok(), "{r:?}");
    let blobs = list(&az, &sas);
    for (path, bytes) in &ended {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let (blob, len) = blobs
            .iter()
            .find(|(b, _)| b.ends_with(&name))
            .unwrap_or_else(|| panic!("{name} is not in the container: {blobs:?}"));
        assert_eq!(*len, bytes.len() as u64, "{blob}");
        assert_eq!(&download(&sas, blob), bytes, "{blob} differs");
        assert!(
            !path.exists(),
            "{} is still on the endpoint",
            path.display()
        );
    }
    let sig = sig_of(&sas);
    for (path, bytes) in all_files(&pep.state) {
        assert!(
            !contains(&bytes, &sig),
            "the signature is in {}",
            path.display()
        );
    }
    assert!(!pep.log().contains(&sig), "the signature is in pep's log");
}

#[test]
fn pep_check_tries_the_upload_destination_and_never_shows_its_signature() {
    let Some(az) = azurite(None) else {
        return;
    };
    let pep = Pep::start();
    pep.granted("Diagnostics");
    let keys = tempfile::tempdir().expect("tmp");
    let check = |sas_file: &Path| {
        let out = std::process::Command::new(crate::harness::PEP)
            .args(["check", "--state"])
            .arg(&pep.state)
            .arg("--vendor-upload-sas-file")
            .arg(sas_file)
            .output()
            .expect("pep check");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // Azurite answers: the destination is named, with the HTTP status it gave.
    let (url, file) = sas_file(&az, keys.path(), "check-ok", "cw");
    let (code, text) = check(&file);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("OK") && l.contains("devstoreaccount1/check-ok answers (HTTP")),
        "{text}"
    );
    assert!(!text.contains(&sig_of(&url)), "{text}");
    // Nothing listens on the port: a FAIL that names the destination, not the signature.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let dead = url.replace(&format!(":{}/", az.port), &format!(":{closed}/"));
    assert_ne!(dead, url);
    let dead_file = keys.path().join("dead.sas");
    std::fs::write(&dead_file, &dead).expect("write");
    set_mode(&dead_file, 0o600);
    let (code, text) = check(&dead_file);
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL") && l.contains("cannot be reached")),
        "{text}"
    );
    assert!(!text.contains(&sig_of(&dead)), "{text}");
}
