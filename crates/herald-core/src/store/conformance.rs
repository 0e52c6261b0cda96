//! Placeholder: filled in by the store implementation.
