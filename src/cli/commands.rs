//! What each subcommand does.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use super::client::call;
use super::{Command, ConfigCommand, OutboxCommand, PluginsCommand, SendArgs, SessionsCommand};
use crate::adapters::builtin_registry;
use crate::config;

/// Run one command.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { config: path } => serve(&path).await,
        Command::Config(ConfigCommand::Check { file }) => Ok(check(&file)),
        Command::Send(args) => send(args).await,
        Command::Bench(b) => crate::bench::run(b).await,
        Command::Doctor(args) => crate::doctor::run(args).await,
        Command::Plugins(PluginsCommand::List { dir, config }) => super::plugins::list(dir, config),
        Command::Plugins(PluginsCommand::New(args)) => super::plugins::new(&args),
        Command::Guests(args) => crate::guests::run(args).await,
        #[cfg(feature = "webmessaging")]
        Command::Demo(args) => crate::demo::run(args).await,
        Command::Emulator { config, listen } => {
            let cfg = match config {
                Some(path) => herald_emulator::EmulatorConfig::from_file(&path)?,
                None => herald_emulator::EmulatorConfig::default_org(),
            };
            eprintln!(
                "herald emulator listening on http://{listen} (API, login, guest WebSocket /v1, control /emulator/v1)"
            );
            herald_emulator::serve(cfg, listen).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox(OutboxCommand::List { remote, status, limit }) => {
            let mut path = format!("/v1/notifications?limit={limit}");
            if let Some(s) = status {
                path.push_str(&format!("&status={s}"));
            }
            let (_, v) = call(&remote, reqwest::Method::GET, &path, None, &[]).await?;
            for n in v.as_array().into_iter().flatten() {
                println!(
                    "{}  {:<10} {:<12} {:<40} attempts={}",
                    s(n, "id"),
                    s(n, "status"),
                    s(n, "integration"),
                    format!("{}:{}", s(&n["target"], "type"), s(&n["target"], "id")),
                    n["attempts"]
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox(OutboxCommand::Show { remote, id }) => {
            let (_, v) = call(&remote, reqwest::Method::GET, &format!("/v1/notifications/{id}"), None, &[]).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sessions(SessionsCommand::List { remote, customer, agent, since, limit }) => {
            let mut path = format!("/v1/sessions?limit={limit}");
            for (k, v) in [("customer", customer), ("agent", agent), ("since", since)] {
                if let Some(v) = v {
                    let enc: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
                    path.push_str(&format!("&{k}={enc}"));
                }
            }
            let (_, v) = call(&remote, reqwest::Method::GET, &path, None, &[]).await?;
            for s_ in v.as_array().into_iter().flatten() {
                println!(
                    "{}  {:<9} {:<12} customer={} agents={} updated={}",
                    s(s_, "conversation_id"),
                    s(s_, "state"),
                    s(s_, "integration"),
                    s_["customer"].get("external_contact_id").and_then(Value::as_str).unwrap_or("-"),
                    s_["agent_ids"],
                    s(s_, "updated_at")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sessions(SessionsCommand::Show { remote, id }) => {
            let (_, v) = call(&remote, reqwest::Method::GET, &format!("/v1/sessions/{id}"), None, &[]).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("-")
}

fn check(file: &std::path::Path) -> ExitCode {
    match config::load_file(file, &builtin_registry()) {
        Ok(loaded) => {
            println!(
                "{}: ok ({} integration(s), {} rule(s))",
                file.display(),
                loaded.integrations.len(),
                loaded.config.rules.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {} problem(s)", file.display(), e.problems.len());
            for p in &e.problems {
                eprintln!("  {}: {}", p.path, p.message);
            }
            ExitCode::from(2)
        }
    }
}

async fn serve(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let registry = builtin_registry();
    let loaded = config::load_file(path, &registry)?;
    let running = crate::service::start(loaded).await?;
    wait_for_signal().await;
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Wait for Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn send(args: SendArgs) -> anyhow::Result<ExitCode> {
    let target = match (&args.conversation, &args.customer, &args.guest, &args.agent) {
        (Some(id), ..) => json!({"type": "conversation", "id": id}),
        (_, Some(id), ..) => json!({"type": "customer", "id": id}),
        (_, _, Some(id), _) => json!({"type": "guest", "id": id}),
        (_, _, _, Some(id)) => json!({"type": "agent", "id": id}),
        _ => bail!("name a target: --conversation, --customer, --guest or --agent"),
    };
    let mut body = Map::new();
    body.insert("integration".into(), json!(args.integration));
    body.insert("target".into(), target);
    match (&args.text, &args.canned_response) {
        (Some(t), None) => {
            body.insert("text".into(), json!(t));
        }
        (None, Some(r)) => {
            body.insert("canned_response_id".into(), json!(r));
        }
        _ => bail!("give --text or --canned-response"),
    }
    if !args.vars.is_empty() {
        body.insert("variables".into(), json!(args.vars.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()));
    }
    if let Some(p) = &args.closed_policy {
        body.insert("closed_policy".into(), json!(p));
    }
    let headers: Vec<(&str, &str)> =
        args.idempotency_key.as_deref().map(|k| vec![("Idempotency-Key", k)]).unwrap_or_default();
    let (status, v) =
        call(&args.remote, reqwest::Method::POST, "/v1/notifications", Some(&Value::Object(body)), &headers).await?;
    let id = v.get("id").and_then(Value::as_str).context("herald's answer has no id")?.to_string();
    println!("{} {id} ({})", if status == 202 { "accepted" } else { "already accepted" }, s(&v, "status"));
    if !args.wait {
        return Ok(ExitCode::SUCCESS);
    }
    for _ in 0..600 {
        let (_, n) = call(&args.remote, reqwest::Method::GET, &format!("/v1/notifications/{id}"), None, &[]).await?;
        let status = s(&n, "status").to_string();
        if matches!(status.as_str(), "delivered" | "deferred" | "failed" | "expired") {
            for h in n["history"].as_array().into_iter().flatten() {
                println!("  {} {:<10} {}", s(h, "at"), s(h, "status"), s(h, "reason"));
            }
            return Ok(if status == "failed" || status == "expired" { ExitCode::FAILURE } else { ExitCode::SUCCESS });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("notification {id} did not settle within 60 s; see `herald outbox show {id}`")
}
