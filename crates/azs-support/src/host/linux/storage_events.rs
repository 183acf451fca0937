//! Storage events of the real machine: journal entries of priority Warning or worse whose text
//! names a storage problem ([`storage_message_kind`]).

use super::journal::{self, JournalQuery};
use super::runner::Runner;
use crate::host::EventRow;
use crate::stamp::Node;
use chrono::{DateTime, Utc};

/// The storage errors and warnings of a real machine in `[from, to]`: journal entries of priority
/// Warning or worse (the kernel's among them) whose text [`storage_message_kind`] recognises. The
/// newest [`journal::MAX_ENTRIES`] warnings of the window are read and filtered here (journalctl
/// takes one literal text filter only), so older storage lines behind a flood of other warnings
/// are not seen. Entries carry their unit (or their identifier) as the log, the identifier as
/// the provider, and event id 0 (Linux has no event ids).
pub(crate) fn storage_events(
    node: &Node,
    runner: &Runner,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<EventRow>, String> {
    let q = JournalQuery {
        unit: None,
        since: Some(from),
        until: Some(to),
        max_level: Some(4),
        grep: None,
        limit: journal::MAX_ENTRIES,
    };
    let entries = journal::read(runner, &q).map_err(|e| format!("{}: {e}", node.name))?;
    Ok(entries
        .into_iter()
        .filter(|e| e.time >= from && e.time <= to)
        .filter(|e| storage_message_kind(&e.message).is_some())
        .map(|e| EventRow {
            log: if e.unit.is_empty() {
                e.identifier.clone()
            } else {
                e.unit
            },
            time: e.time,
            level: e.level,
            id: 0,
            provider: e.identifier,
            message: e.message,
        })
        .collect())
}

/// How a word must be followed to count (see [`storage_message_kind`]).
#[derive(Clone, Copy)]
enum After {
    /// Anything.
    Any,
    /// Not a letter or digit (the word ends there).
    End,
    /// A digit (`ata1`, `sd 0:0:0:0`).
    Digit,
    /// A digit or the end of the word (`nvme0n1`, `nvme nvme0`).
    DigitOrEnd,
}

/// The marks of a storage message: its kind, the text, whether case matters, whether the text
/// must start a word (no letter or digit before it) and what must follow it.
const STORAGE_MARKS: &[(&str, &str, bool, bool, After)] = &[
    ("I/O error", "i/o error", false, false, After::Any),
    ("block layer", "blk_update_request", true, false, After::Any),
    ("ext4", "ext4-fs", false, true, After::Any),
    ("XFS", "XFS", true, true, After::End),
    ("btrfs", "btrfs", false, true, After::End),
    ("NVMe", "nvme", true, true, After::DigitOrEnd),
    ("ATA", "ata", true, true, After::Digit),
    ("SCSI disk", "sd ", true, true, After::Digit),
    ("md RAID", "md/raid", true, true, After::Any),
    (
        "read-only remount",
        "remounting filesystem read-only",
        false,
        false,
        After::Any,
    ),
    ("SMART", "SMART", true, true, After::End),
];

/// The kind of storage problem a journal message is about (`I/O error`, `ext4`, `XFS`, `btrfs`,
/// `NVMe`, `ATA`, `SCSI disk`, `md RAID`, `read-only remount`, `SMART`, `block layer`), or
/// `None` when it is not a storage message. The first mark found wins, in that table's order.
///
/// Marks are matched as words where a bare substring would catch ordinary text: `ata` only as
/// `ata<digit>` at a word's start (not `metadata`), `sd ` only before a SCSI address (`sd
/// 2:0:0:0:`), `XFS`, `SMART` and `nvme` only as whole words (`nvme0n1` counts); `I/O error`
/// (also `Buffer I/O error`), `blk_update_request`, `EXT4-fs`, `md/raid` and `Remounting
/// filesystem read-only` anywhere.
pub fn storage_message_kind(message: &str) -> Option<&'static str> {
    let lower = message.to_ascii_lowercase();
    STORAGE_MARKS
        .iter()
        .find(|(_, text, case, start, after)| {
            let hay = if *case { message } else { lower.as_str() };
            hay.match_indices(text).any(|(i, _)| {
                let before = hay[..i].chars().next_back();
                let next = hay[i + text.len()..].chars().next();
                let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
                (!*start || before.is_none_or(|c| !word(c)))
                    && match after {
                        After::Any => true,
                        After::End => next.is_none_or(|c| !word(c)),
                        After::Digit => next.is_some_and(|c| c.is_ascii_digit()),
                        After::DigitOrEnd => next.is_none_or(|c| c.is_ascii_digit() || !word(c)),
                    }
            })
        })
        .map(|(kind, ..)| *kind)
}
