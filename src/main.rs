//! The `herald` command.

use std::process::ExitCode;

/// mimalloc instead of the system allocator: the service allocates many small, short-lived buffers per request and
/// per event frame (JSON values, sled nodes), and glibc's malloc spent about a third of the ingest benchmark's CPU
/// on them (see docs/benchmarks.md). mimalloc builds with the C compiler alone.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    herald::cli::main()
}
