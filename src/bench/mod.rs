//! `herald bench`: reproducible benchmarks of the service, printed as markdown for `docs/benchmarks.md`.
//!
//! `herald bench intake` starts the service in-process on a durable sled store in a temporary directory, with one
//! webhook integration pointing at an in-process receiver, and drives `POST /v1/notifications` over loopback HTTP
//! with a fixed number of concurrent keep-alive connections (a lean client, [`load_client`], so that the generator's
//! own CPU cost stays small next to the service's). Every 202 means the notification was fsync'd. The load generator runs
//! in the same process and on the same two cores, so the figures are a floor for a dedicated machine.

mod backlog;
mod ingest;
mod intake;
pub mod load_client;

use clap::Subcommand;

pub use backlog::{run_backlog, BacklogArgs, BacklogReport};
pub use ingest::{run_ingest, IngestArgs, IngestReport};
pub use intake::{run_intake, IntakeArgs, IntakeReport};

/// `herald bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable intake: notifications accepted per second and intake latency percentiles.
    Intake(IntakeArgs),
    /// Event ingest: notification frames parsed, mapped to sessions and applied to the durable store, per second.
    Ingest(IngestArgs),
    /// Restart on a large backlog: time to first delivery, memory (RSS) and drain rate of `herald serve`.
    Backlog(BacklogArgs),
}

/// Run a benchmark and print its report.
pub async fn run(command: BenchCommand) -> anyhow::Result<std::process::ExitCode> {
    match command {
        BenchCommand::Intake(args) => {
            let report = run_intake(&args).await?;
            println!("{}", report.markdown(&args));
            Ok(std::process::ExitCode::SUCCESS)
        }
        BenchCommand::Backlog(args) => {
            let report = run_backlog(&args).await?;
            println!("{}", report.markdown(&args));
            Ok(std::process::ExitCode::SUCCESS)
        }
        BenchCommand::Ingest(args) => {
            let report = run_ingest(&args).await?;
            println!("{}", report.markdown(&args));
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}
