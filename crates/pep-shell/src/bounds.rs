//! What one line and one session may grow to: the bounds that keep one user's line from taking
//! the endpoint down (memory) or filling its disk (transcripts).
//!
//! Design: every quantity a line controls is bounded where it is produced, not after the fact.
//! - the pipeline's length (`--max-pipeline`, default 32 commands);
//! - every value passed between pipeline stages, and what a formatting stage builds while it runs
//!   (`ConvertTo-Json` and `ConvertTo-Csv` stop writing at the bound instead of building text
//!   that doubles per stage) (`--max-value-mb`, default 16 MiB);
//! - the text a line renders (`--max-output-mb`, default 16 MiB; a table is measured before it
//!   is built, since padding can make it far larger than the values);
//! - a session's transcript (`--max-transcript-mb`, default 64 MiB): a line runs only while the
//!   transcript can still take a whole line's output; past that the session refuses everything
//!   but `exit`, and its refusals are still recorded (truncated) in the space kept for them.
//!
//! Exceeding a bound is a one-line error naming it; nothing else about the session changes.
//! With the defaults one line holds at most a few times 16 MiB at once (the value, the stage
//! being built, the rendered text), whatever the line.

/// Bytes in a MiB.
pub const MIB: u64 = 1 << 20;

/// The bounds of a line and a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineLimits {
    /// Commands in one pipeline.
    pub max_pipeline: usize,
    /// Bytes of the values between two stages, and of what one stage builds.
    pub max_value_bytes: usize,
    /// Bytes of text one line renders.
    pub max_output_bytes: usize,
    /// Bytes of one session's transcript.
    pub max_transcript_bytes: u64,
}

impl Default for LineLimits {
    fn default() -> Self {
        LineLimits {
            max_pipeline: 32,
            max_value_bytes: 16 << 20,
            max_output_bytes: 16 << 20,
            max_transcript_bytes: 64 << 20,
        }
    }
}

impl LineLimits {
    /// The one-line error for a pipeline that is too long.
    pub fn pipeline_error(&self, n: usize) -> String {
        format!(
            "the pipeline has {n} commands; at most {} are allowed (pep serve --max-pipeline)",
            self.max_pipeline
        )
    }

    /// The one-line error for values or output past their bound.
    pub fn size_error(what: &str, limit: usize) -> String {
        format!(
            "{what} would be larger than {}; nothing more was produced. Narrow it with Select-Object or Where-Object",
            azs_support::disk_budget::human(limit as u64)
        )
    }
}
