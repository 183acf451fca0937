//! Log collection and upload: the stamp's logs collected per node and role ([`sources`],
//! [`collect`]), bundled into one zip per role ([`bundle`]), optionally obfuscated
//! ([`obfuscate`]), and uploaded to Azure Blob Storage through a container SAS URL ([`blob`]).
//!
//! The pieces share two things defined here: a [`Cancel`] flag that threads and async tasks both
//! watch (revocation of the grant stops a support upload within a second), and [`Progress`]
//! counters the session reads to draw its progress line.

pub mod azurite;
pub mod blob;
pub mod bundle;
pub mod cancel;
pub mod collect;
pub(crate) mod file_body;
pub mod obfuscate;
pub(crate) mod page_buf;
pub mod pipeline;
pub mod progress;
pub mod roles;
pub mod samples;
pub mod sas;
pub mod sources;
pub mod window;

pub use cancel::Cancel;
pub use progress::Progress;
