//! The command line: `herald serve`, `herald config check`, `herald send`, `herald outbox`, `herald sessions`, ...

mod client;
mod commands;
mod plugins;
mod scaffold;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// herald: push proactive messages into Genesys Cloud conversations, keep presence in sync, and test it all offline.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bridge service (HTTP API, dispatcher, rules, adapters) until SIGTERM or Ctrl-C.
    Serve {
        /// The configuration file.
        #[arg(long, short, env = "HERALD_CONFIG", default_value = "config/herald.toml")]
        config: PathBuf,
    },
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Post a notification to a running service.
    Send(SendArgs),
    /// Inspect the outbox of a running service.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Inspect the sessions of a running service.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Explain why a Genesys Cloud request will be rejected and print the right one; with --live fill in its ids, with
    /// --send send it and show the real answer (exit 0 = valid).
    Doctor(crate::doctor::DoctorArgs),
    /// Run headless web messaging (or web chat) guests against a deployment: a load test with a latency summary.
    Guests(crate::guests::GuestsArgs),
    /// Adapter kinds: the built-ins and the dynamic plugins found.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Run the Genesys Cloud emulator (API, login, guest WebSocket, notifications) until SIGTERM or Ctrl-C.
    Emulator {
        /// The org to seed (default: the built-in org, as in `config/emulator.toml`).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
    },
    /// Start the emulator and herald in-process and play every story end to end (exit 0 only if all pass).
    #[cfg(feature = "webmessaging")]
    Demo(crate::demo::DemoArgs),
    /// Run a benchmark and print its results as markdown.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
}

/// `herald config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file; print every problem with its key path; exit non-zero if there is any.
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

/// Where the running service is.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// Base URL of the running service.
    #[arg(long, env = "HERALD_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key (one of `[service] api_keys`).
    #[arg(long, env = "HERALD_API_KEY", hide_env_values = true)]
    pub api_key: String,
}

/// `herald send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub remote: Remote,
    /// The integration that delivers it.
    #[arg(long)]
    pub integration: String,
    /// Target a conversation id.
    #[arg(long, group = "target")]
    pub conversation: Option<String>,
    /// Target a customer (external contact id or customer key).
    #[arg(long, group = "target")]
    pub customer: Option<String>,
    /// Target a guest token.
    #[arg(long, group = "target")]
    pub guest: Option<String>,
    /// Target an agent (Genesys user id; delivered through Teams).
    #[arg(long, group = "target")]
    pub agent: Option<String>,
    /// The text to send.
    #[arg(long, group = "content")]
    pub text: Option<String>,
    /// A canned response id instead of text.
    #[arg(long, group = "content")]
    pub canned_response: Option<String>,
    /// A variable for the canned response or template, as NAME=VALUE (repeatable).
    #[arg(long = "var", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Closed-session policy override: defer, agentless or fail.
    #[arg(long)]
    pub closed_policy: Option<String>,
    /// Idempotency key: sending again with the same key returns the original notification.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Wait until the notification is delivered, deferred, failed or expired, and print its history.
    #[arg(long)]
    pub wait: bool,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

/// `herald plugins ...`.
#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List the built-in adapter kinds and the plugin libraries in a directory, with their ABI versions.
    List {
        /// Directory to look in (default: `[plugins] dir` of --config, else `plugins`).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A config whose `[plugins] dir` and `plugin = …` integrations to use.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Write a new plugin crate (ABI 2, built with the SDK) that compiles without warnings and has a test.
    New(NewPluginArgs),
}

/// `herald plugins new`.
#[derive(Debug, Args)]
pub struct NewPluginArgs {
    /// The plugin's name: lower-case letters, digits and dashes (`my-platform`); its kind is the name with
    /// underscores (`my_platform`), its crate `herald-<name>`.
    pub name: String,
    /// Where to create the crate directory `<name>`.
    #[arg(long, default_value = "plugins")]
    pub dir: PathBuf,
    /// The `herald-plugin` crate to depend on (a path; relative paths are taken from the new crate's directory).
    /// Default: found from the current directory when it is inside a herald checkout.
    #[arg(long)]
    pub sdk_path: Option<PathBuf>,
}

/// `herald outbox ...`.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List recent notifications, newest first.
    List {
        #[command(flatten)]
        remote: Remote,
        /// Only this status (pending, attempting, delivered, deferred, failed, expired).
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one notification with its full history.
    Show {
        #[command(flatten)]
        remote: Remote,
        /// The notification id.
        id: String,
    },
}

/// `herald sessions ...`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List sessions, most recent activity first.
    List {
        #[command(flatten)]
        remote: Remote,
        /// Only this customer.
        #[arg(long)]
        customer: Option<String>,
        /// Only sessions this agent handled.
        #[arg(long)]
        agent: Option<String>,
        /// Only sessions active since this instant (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one session with every id.
    Show {
        #[command(flatten)]
        remote: Remote,
        /// The conversation id.
        id: String,
    },
}

/// Parse arguments and run; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init_logging();
    crate::tls::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
