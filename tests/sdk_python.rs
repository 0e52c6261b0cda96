//! The emulator driven by the official Genesys Cloud Python SDK: starts `herald emulator` on a loopback port and
//! runs `tests/sdk/python/fidelity.py` against it with the SDK venv (`tests/sdk/python/setup.sh` creates it).
//!
//! Ignored by default: CI machines may not reach the package registry. Run it with
//! `cargo test --test sdk_python -- --ignored --nocapture`.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Kills the emulator (by its pid) however the test ends.
struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The venv's interpreter: `$HERALD_SDK_PYTHON`, else `<target dir>/sdk-venv/bin/python`.
fn sdk_python() -> PathBuf {
    if let Some(p) = std::env::var_os("HERALD_SDK_PYTHON") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("sdk-venv").join("bin").join("python")
}

/// Polls the control API until the emulator answers, up to a deadline.
async fn wait_ready(base: &str, child: &mut Child) {
    let http = support::client();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base}/emulator/v1/clock")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("herald emulator exited before answering: {status}");
        }
        assert!(tokio::time::Instant::now() < deadline, "herald emulator did not answer at {base} within 30 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
#[ignore = "needs the official Python SDK: run tests/sdk/python/setup.sh first"]
async fn official_python_sdk_works_against_the_emulator() {
    let python = sdk_python();
    assert!(python.exists(), "{} is missing: run tests/sdk/python/setup.sh first", python.display());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/python/fidelity.py");

    let port = support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["emulator", "--listen", &format!("127.0.0.1:{port}")])
        .env("HERALD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn herald emulator");
    let mut emulator = Emulator(child);
    wait_ready(&base, &mut emulator.0).await;

    let out = tokio::task::spawn_blocking(move || Command::new(&python).arg(&script).arg(&base).output())
        .await
        .expect("join")
        .expect("run fidelity.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        eprintln!("{stderr}");
    }
    drop(emulator);
    assert!(out.status.success(), "fidelity.py failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains(" passed, 0 failed"), "no summary line:\n{stdout}");
}
