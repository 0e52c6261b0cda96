//! `herald doctor` through the binary: exit codes and the JSON report.

use std::path::Path;
use std::process::Command;

fn doctor(args: &[&str]) -> (i32, String) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/doctor");
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("doctor")
        .args(args)
        .current_dir(&data)
        .output()
        .unwrap_or_else(|e| panic!("cannot run herald: {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn exit_codes_and_json() {
    let (code, out) = doctor(&["--format", "json", "story1-send.http"]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["suggestion"]["endpoint"]["id"], "messaging.send");
    assert_eq!(doctor(&["valid-send.http"]).0, 0);
    assert_eq!(doctor(&["unusable-body.http"]).0, 2);
    let (code, out) = doctor(&["--ws", "ws-valid-onmessage.json"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = doctor(&[
        "--method",
        "POST",
        "--path",
        "/api/v2/conversations/messages/agentless",
        "unusable-no-endpoint.json",
    ]);
    assert_eq!(code, 1, "{out}");
}
