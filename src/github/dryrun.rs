//! Dry-run wrapper.
