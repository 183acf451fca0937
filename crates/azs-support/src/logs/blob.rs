//! Azure Blob Storage upload (being written).
