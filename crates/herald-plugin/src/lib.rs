//! The C-ABI plugin SDK for herald adapters and the host-side loader.
