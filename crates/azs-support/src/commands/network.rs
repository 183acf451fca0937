//! (family: see the module header once implemented)

use super::Table;

/// The commands of this family.
pub const COMMANDS: Table = &[];
