//! The `herald` binary's commands: `config check` exit codes and messages, `send` / `outbox` / `sessions` against a
//! running service, and a graceful SIGTERM that leaves undelivered notifications safely pending.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Receiver, API_KEY};

fn herald() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herald"));
    c.env("HERALD_LOG", "warn");
    c
}

#[test]
fn config_check_reports_every_problem_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, support::webhook_config(":memory:", "http://127.0.0.1:9/hook", "127.0.0.1:0"))
        .expect("write");
    let out = herald().args(["config", "check"]).arg(&good).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (1 integration(s), 0 rule(s))"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[service]\nlisten = 5\n[[integration]]\nname = \"x\"\nkind = \"fax\"\n").expect("write");
    let out = herald().args(["config", "check"]).arg(&bad).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("service.listen"), "{err}");

    let bad = dir.path().join("bad2.toml");
    std::fs::write(
        &bad,
        "[[integration]]\nname = \"x\"\nkind = \"fax\"\n[[integration]]\nname = \"x\"\nkind = \"webhook\"\n",
    )
    .expect("write");
    let out = herald().args(["config", "check"]).arg(&bad).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    for expected in
        ["integration[0].kind", "unknown adapter kind `fax`", "integration[1].name", "integration[1].settings"]
    {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }

    // A syntax error names the line, the column and the table and key it was in.
    let bad = dir.path().join("bad3.toml");
    std::fs::write(
        &bad,
        "[service]\nlisten = \"127.0.0.1:0\"\n[[integration]]\nname = \"a\"\n[[integration]]\nname = \"b\"\n\
         [integration.settings]\nurl = \"http://x\n",
    )
    .expect("write");
    let out = herald().args(["config", "check"]).arg(&bad).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    for expected in ["integration[1].settings.url", "line 8, column", "table `[integration.settings]`", "key `url`"] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }

    let out = herald().args(["config", "check", "/nonexistent/herald.toml"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_outbox_sessions_and_graceful_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (receiver, url) = Receiver::start().await;
    let port = support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("herald.toml");
    let store = dir.path().join("store");
    std::fs::write(&config, support::webhook_config(&store.display().to_string(), &url, &format!("127.0.0.1:{port}")))
        .expect("write");
    let mut child = herald()
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let client = support::client();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "service did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let run = |args: Vec<String>| {
        let base = base.clone();
        tokio::task::spawn_blocking(move || {
            herald().args(&args).env("HERALD_URL", &base).env("HERALD_API_KEY", API_KEY).output().expect("run")
        })
    };
    let out = run(vec![
        "send".into(),
        "--integration".into(),
        "hook".into(),
        "--conversation".into(),
        "c-77".into(),
        "--text".into(),
        "hello from the CLI".into(),
        "--idempotency-key".into(),
        "cli-1".into(),
        "--wait".into(),
    ])
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("accepted") && stdout.contains("delivered"), "{stdout}");
    assert_eq!(receiver.count("cli-1"), 1);

    let out = run(vec!["outbox".into(), "list".into()]).await.expect("join");
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(listing.contains("delivered") && listing.contains("conversation:c-77"), "{listing}");
    let id = listing.split_whitespace().next().unwrap_or_default().to_string();
    let out = run(vec!["outbox".into(), "show".into(), id]).await.expect("join");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"history\""));
    let out = run(vec!["sessions".into(), "list".into()]).await.expect("join");
    assert!(out.status.success());
    let out = run(vec![
        "send".into(),
        "--integration".into(),
        "nope".into(),
        "--conversation".into(),
        "c".into(),
        "--text".into(),
        "x".into(),
    ])
    .await
    .expect("join");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown integration `nope`"));

    // SIGTERM: the service stops gracefully (exit 0); what it accepted stays in the store.
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert!(exit.success(), "graceful shutdown should exit 0, got {exit:?}");
}
