//! `herald doctor --live` and `--send` through the binary, against the Genesys Cloud emulator started in-process on
//! an ephemeral loopback port: placeholders resolved from the Genesys API, from herald's session store (a `herald
//! serve` child process) and from the config; the real answer of the upstream with its `ININ-Correlation-Id`; a
//! refusal on a disconnected conversation; wrong credentials. Every wait has a deadline; nothing sleeps to synchronise.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use herald_emulator::{Control, Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// The seeded web messaging deployment (routes to the Support queue, answered by Alice).
const DEPLOYMENT: &str = "c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50";
/// The seeded Support queue.
const QUEUE: &str = "4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10";
/// The seeded OAuth client and its secret (given to the config through the environment).
const CLIENT_ID: &str = "herald-demo";
const SECRET: &str = "herald-demo-secret";
const SECRET_VAR: &str = "DOCTOR_LIVE_TEST_SECRET";
/// The wrong secret of the `wm-bad` integration.
const WRONG_SECRET: &str = "not-the-secret-4711";
/// The deadline of every wait.
const WAIT: Duration = Duration::from_secs(20);
/// The messaging send path template.
const SEND: &str = "/api/v2/conversations/messages/{conversationId}/communications/{communicationId}/messages";
/// The emulator's refusal of a send on a disconnected communication.
const DISCONNECTED: &str = "conversation.message.communication.disconnected";

/// The emulator (with its request log on) and a temporary directory with the doctor's config.
struct World {
    emulator: EmulatorHandle,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl World {
    async fn start() -> World {
        herald::tls::install_crypto_provider();
        let mut cfg = EmulatorConfig::default_org();
        cfg.diagnostics.request_log = true;
        let emulator = Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("emulator");
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("herald.toml");
        std::fs::write(&config, config_text(&emulator.base_url(), None, &dir.path().join("store"))).expect("config");
        World { emulator, dir, config }
    }

    fn control(&self) -> Control {
        self.emulator.control()
    }

    /// Writes `body` to a file in the temp dir; returns its path.
    fn body(&self, name: &str, body: &Value) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, body.to_string()).expect("write body");
        p
    }

    /// A guest who said hello and whom Alice answered.
    async fn routed_conversation(&self) -> Routed {
        let guest = Guest::connect(&self.emulator.ws_base_url()).await;
        let conversation = self.wait_connected(&guest.token).await;
        let summary = self.control().conversation(&conversation).expect("conversation summary");
        assert_eq!(summary.deployment_id.as_deref(), Some(DEPLOYMENT));
        let contact = summary.external_contact_id.clone().expect("the guest's external contact");
        // The control API's own view of the agent's communication: an agent send records the communication it
        // went out on.
        let hello = self.control().agent_send(&conversation, None, "Hi, Alice here.").expect("agent send");
        let communication = self
            .control()
            .transcript(&conversation)
            .expect("transcript")
            .into_iter()
            .find(|l| l.id == hello)
            .map(|l| l.communication_id)
            .expect("the agent's line");
        Routed { _guest: guest, conversation, contact, communication }
    }

    /// Polls the emulator until the guest's conversation has a connected agent.
    async fn wait_connected(&self, token: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(c) = self.control().guest_conversation(token) {
                if self.control().conversation(&c).is_ok_and(|s| !s.connected_agent_ids.is_empty()) {
                    return c;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "no agent answered guest {token} in time");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The emulator's lines of a conversation: (text, communication id).
    fn transcript(&self, conversation: &str) -> Vec<(String, String)> {
        let lines = self.control().transcript(conversation).expect("transcript");
        lines.into_iter().map(|l| (l.text, l.communication_id)).collect()
    }

    /// The correlation ids the emulator answered `method path` with, oldest first.
    fn correlation_ids(&self, method: &str, path: &str) -> Vec<(u16, String)> {
        let log = self.control().request_log();
        log.into_iter().filter(|e| e.method == method && e.path == path).map(|e| (e.status, e.correlation_id)).collect()
    }
}

/// A conversation a guest opened and the seeded agent answered, with the ids the emulator's control API shows.
struct Routed {
    _guest: Guest,
    conversation: String,
    contact: String,
    communication: String,
}

impl Routed {
    fn send_path(&self) -> String {
        format!("/api/v2/conversations/messages/{}/communications/{}/messages", self.conversation, self.communication)
    }
}

/// The doctor's (and `herald serve`'s) config: one web messaging integration `wm` on the emulator (secret from the
/// environment) and `wm-bad` with a wrong secret; `listen` adds a `[service]` for `herald serve`.
fn config_text(emulator: &str, listen: Option<&str>, store: &Path) -> String {
    let service = listen
        .map(|l| format!("[service]\nlisten = \"{l}\"\napi_keys = [\"{}\"]\n\n", support::API_KEY))
        .unwrap_or_default();
    let bad = if listen.is_none() {
        format!(
            r#"
[[integration]]
name = "wm-bad"
kind = "webmessaging"
closed_policy = "fail"
[integration.settings]
base_url = "{emulator}"
client_id = "{CLIENT_ID}"
client_secret = "{WRONG_SECRET}"
deployment_id = "{DEPLOYMENT}"
queue_ids = ["{QUEUE}"]
"#
        )
    } else {
        String::new()
    };
    format!(
        r#"{service}[store]
path = "{store}"

[[integration]]
name = "wm"
kind = "webmessaging"
closed_policy = "fail"
[integration.settings]
base_url = "{emulator}"
client_id = "{CLIENT_ID}"
client_secret = "${{{SECRET_VAR}}}"
deployment_id = "{DEPLOYMENT}"
queue_ids = ["{QUEUE}"]
[integration.settings.stream]
reconnect_base_ms = 50
reconnect_max_secs = 1
{bad}"#,
        store = store.display()
    )
}

/// What one `herald doctor` run printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The JSON report (`--format json`).
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }

    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Neither secret appears anywhere in the output.
    fn assert_no_secret(&self) {
        let all = self.all();
        assert!(!all.contains(SECRET) && !all.contains(WRONG_SECRET), "a secret was printed:\n{all}");
        assert!(!all.contains("access_token") && !all.contains(support::API_KEY), "a credential was printed:\n{all}");
    }
}

/// `herald doctor --live` for a POST of the JSON file `body` to `path` through `integration`, with `options` (such as
/// `--send`, `--format json`, `--set …`) and extra environment variables.
async fn post(
    config: &Path,
    integration: &str,
    path: &str,
    body: &Path,
    options: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let body = body.to_str().expect("utf-8");
    let mut args = vec!["--integration", integration];
    args.extend_from_slice(options);
    args.extend_from_slice(&["--method", "POST", "--path", path, body]);
    doctor_env(config, &args, env).await
}

/// Runs `herald doctor --live --config <config> <args>` with the secret (and `env`) in the environment.
async fn doctor_env(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.arg("doctor").arg("--live").arg("--config").arg(config).args(args);
    cmd.env(SECRET_VAR, SECRET).env("HERALD_LOG", "warn").env_remove("HERALD_API_KEY").env_remove("HERALD_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.expect("join").expect("run herald doctor");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    };
    run.assert_no_secret();
    run
}

/// The resolved entry of a placeholder in the JSON report.
fn resolved<'v>(report: &'v Value, name: &str) -> &'v Value {
    report["live"]["resolved"]
        .as_array()
        .and_then(|r| r.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("{name} was not resolved: {:#}", report["live"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_resolves_the_agent_communication_from_the_genesys_api() {
    let w = World::start().await;
    let c = w.routed_conversation().await;
    let before = w.transcript(&c.conversation).len();

    // A story-like body (invented fields) on the real path with the conversation id known.
    let story = w.body("story.json", &json!({"to": c.contact, "text": "Your case status changed."}));
    let path = format!("/api/v2/conversations/messages/{}/communications/{{communicationId}}/messages", c.conversation);
    let run = post(&w.config, "wm", &path, &story, &["--format", "json"], &[]).await;
    assert_eq!(run.code, 1, "findings without --send exit 1:\n{}", run.all());
    let v = run.json();
    assert_eq!(v["verdict"], "findings");
    assert_eq!(v["live"]["token"], true);
    assert_eq!(v["live"]["oauth_client"], CLIENT_ID);
    let comm = resolved(&v, "communicationId");
    assert_eq!(comm["value"], c.communication.as_str(), "{comm}");
    assert_eq!(comm["source"], "genesys_api");
    assert!(comm["from"]
        .as_str()
        .is_some_and(|f| f.contains(&format!("GET /api/v2/conversations/{}", c.conversation))));
    assert_eq!(v["live"]["unresolved"], json!([]));
    assert_eq!(v["live"]["request"]["path"], c.send_path());
    assert_eq!(v["live"]["request"]["body"], json!({"textBody": "Your case status changed."}));
    assert!(v["live"].get("sent").is_none(), "nothing is sent without --send");

    // The conversation id as a placeholder, given with --set; a valid body exits 0; the text says where each id came
    // from.
    let valid = w.body("valid.json", &json!({"textBody": "Your order shipped."}));
    let set = format!("conversationId={}", c.conversation);
    let run = post(&w.config, "wm", SEND, &valid, &["--set", &set], &[]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains(&format!("conversationId  = {}", c.conversation)), "{}", run.stdout);
    assert!(run.stdout.contains("from --set"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("communicationId = {}", c.communication)), "{}", run.stdout);
    assert!(run.stdout.contains("from the Genesys API"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("POST {}", c.send_path())), "{}", run.stdout);

    // Without the conversation id nothing can be looked up: it says what to pass.
    let run = post(&w.config, "wm", SEND, &valid, &[], &[]).await;
    assert_eq!(run.code, 0, "without --send an unresolved id is reported, not a failure:\n{}", run.all());
    assert!(run.stdout.contains("unresolved:") && run.stdout.contains("--set conversationId="), "{}", run.stdout);
    assert!(run.stdout.contains("--herald URL --customer ID"), "{}", run.stdout);

    assert_eq!(w.transcript(&c.conversation).len(), before, "--live without --send sent something");
    w.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_delivers_the_request_and_shows_the_correlation_id() {
    let w = World::start().await;
    let c = w.routed_conversation().await;
    let valid = w.body("valid.json", &json!({"textBody": "Your order shipped."}));
    let set = format!("conversationId={}", c.conversation);
    let run = post(&w.config, "wm", SEND, &valid, &["--send", "--set", &set], &[]).await;
    assert_eq!(run.code, 0, "a valid request sent with a 2xx exits 0:\n{}", run.all());
    assert!(
        w.transcript(&c.conversation).contains(&("Your order shipped.".to_string(), c.communication.clone())),
        "not delivered on the agent's communication: {:?}",
        w.transcript(&c.conversation)
    );
    let answers = w.correlation_ids("POST", &c.send_path());
    assert_eq!(answers.len(), 1, "{answers:?}");
    let (status, correlation) = &answers[0];
    assert!((200..300).contains(status));
    assert!(run.stdout.contains(&format!("sent: {status} ")), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("ININ-Correlation-Id: {correlation}")), "{}", run.stdout);
    assert!(run.stdout.contains("\"text\": \"Your order shipped.\""), "the upstream's body:\n{}", run.stdout);

    // The story-like body: the corrected request is what goes out; the exit code still says the original was wrong.
    let story = w.body("story.json", &json!({"to": c.contact, "text": "Your case status changed."}));
    let run = post(&w.config, "wm", SEND, &story, &["--send", "--format", "json", "--set", &set], &[]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    let v = run.json();
    let answers = w.correlation_ids("POST", &c.send_path());
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(v["live"]["sent"]["status"], answers[1].0);
    assert_eq!(v["live"]["sent"]["correlation_id"], answers[1].1.as_str());
    assert!(w
        .transcript(&c.conversation)
        .contains(&("Your case status changed.".to_string(), c.communication.clone())));
    w.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_on_a_disconnected_conversation_shows_the_upstream_refusal() {
    let w = World::start().await;
    let c = w.routed_conversation().await;
    w.control().disconnect_conversation(&c.conversation).expect("disconnect");
    let valid = w.body("valid.json", &json!({"textBody": "Are you still there?"}));

    // Every id given: the request goes out and the upstream's 4xx is shown with its code and correlation id.
    let path = c.send_path();
    let run = post(&w.config, "wm", &path, &valid, &["--send", "--format", "json"], &[]).await;
    assert_eq!(run.code, 3, "an upstream refusal exits 3:\n{}", run.all());
    let v = run.json();
    let answers = w.correlation_ids("POST", &path);
    assert_eq!(answers.len(), 1, "{answers:?}");
    let sent = &v["live"]["sent"];
    assert_eq!(sent["status"], answers[0].0);
    assert!((400..500).contains(&answers[0].0));
    assert_eq!(sent["correlation_id"], answers[0].1.as_str());
    assert_eq!(sent["error"]["code"], DISCONNECTED);
    assert_eq!(sent["error"]["context_id"], answers[0].1.as_str());
    assert!(sent["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));

    // The same in text.
    let run = post(&w.config, "wm", &path, &valid, &["--send"], &[]).await;
    assert_eq!(run.code, 3);
    let answers = w.correlation_ids("POST", &path);
    assert!(run.stdout.contains(&format!("sent, refused: {} ", answers[1].0)), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("ININ-Correlation-Id: {}", answers[1].1)), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("code:      {DISCONNECTED}")), "{}", run.stdout);

    // With the communication id left to resolve, the doctor finds the conversation ended and does not send.
    let open = format!("/api/v2/conversations/messages/{}/communications/{{communicationId}}/messages", c.conversation);
    let run = post(&w.config, "wm", &open, &valid, &["--send", "--format", "json"], &[]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    let v = run.json();
    let unresolved = &v["live"]["unresolved"][0];
    assert_eq!(unresolved["name"], "communicationId");
    let why = unresolved["why"].as_str().unwrap_or_default();
    assert!(why.contains("has ended") && why.contains("agentless"), "{why}");
    assert!(v["live"]["not_sent"].as_str().is_some_and(|n| n.contains("communicationId")));
    // ... and prints the agentless request that reaches the same customer instead (not sent).
    let instead = &v["live"]["agentless_instead"];
    assert_eq!(instead["path"], "/api/v2/conversations/messages/agentless");
    assert_eq!(
        instead["body"],
        json!({"fromAddress": DEPLOYMENT, "toAddressMessengerType": "webmessaging", "externalContactId": c.contact,
               "textBody": "Are you still there?"})
    );
    assert_eq!(w.correlation_ids("POST", &path).len(), 2, "nothing more was sent");
    w.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_give_a_clear_error_naming_the_integration() {
    let w = World::start().await;
    let c = w.routed_conversation().await;
    let valid = w.body("valid.json", &json!({"textBody": "Hello"}));
    let run = post(&w.config, "wm-bad", &c.send_path(), &valid, &["--send"], &[]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    for expected in ["integration `wm-bad`", "OAuth client `herald-demo`", "invalid_client", "settings.client_secret"] {
        assert!(run.stdout.contains(expected), "missing `{expected}` in:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("not sent: no Genesys token"), "{}", run.stdout);
    assert!(w.correlation_ids("POST", &c.send_path()).is_empty(), "nothing may be sent without a token");

    // An integration that does not exist: the error lists the ones that do.
    let run = post(&w.config, "nope", SEND, &valid, &[], &[]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stdout.contains("no [[integration]] named `nope`") && run.stdout.contains("wm, wm-bad"),
        "{}",
        run.stdout
    );

    // A missing environment variable names the key and the variable.
    let run = post(&w.config, "wm", SEND, &valid, &["--format", "json"], &[(SECRET_VAR, "")]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    let errors = run.json()["live"]["errors"].to_string();
    assert!(errors.contains("`wm`") && errors.contains(SECRET_VAR), "{errors}");
    w.emulator.shutdown().await;
}

/// A `herald serve` child process, killed (by its pid) when dropped.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `herald serve` on a free loopback port and waits until the `wm` integration is healthy.
    async fn start(w: &World) -> Serve {
        let port = support::free_port();
        let listen = format!("127.0.0.1:{port}");
        let config = w.dir.path().join("serve.toml");
        let store = w.dir.path().join("serve-store");
        std::fs::write(&config, config_text(&w.emulator.base_url(), Some(&listen), &store)).expect("config");
        let child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["serve", "--config"])
            .arg(&config)
            .env(SECRET_VAR, SECRET)
            .env("HERALD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn herald serve");
        let serve = Serve { child, base: format!("http://{listen}") };
        let http = support::client();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let health = match http.get(format!("{}/healthz", serve.base)).send().await {
                Ok(r) => r.json::<Value>().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            };
            if health["integrations"]["wm"]["status"] == "healthy" {
                return serve;
            }
            assert!(tokio::time::Instant::now() < deadline, "herald serve did not become healthy: {health}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls `GET /v1/sessions/{id}` until herald tracks the conversation with its agent's communication.
    async fn wait_session(&self, conversation: &str, communication: &str) -> Value {
        let http = support::client();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let resp = http
                .get(format!("{}/v1/sessions/{conversation}", self.base))
                .bearer_auth(support::API_KEY)
                .send()
                .await;
            let session = match resp {
                Ok(r) if r.status().is_success() => r.json::<Value>().await.unwrap_or(Value::Null),
                _ => Value::Null,
            };
            if session["state"] == "connected" && session.to_string().contains(communication) {
                return session;
            }
            assert!(tokio::time::Instant::now() < deadline, "herald does not track {conversation}: {session}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_store_of_a_running_herald_resolves_the_ids() {
    let w = World::start().await;
    let serve = Serve::start(&w).await;
    let c = w.routed_conversation().await;
    serve.wait_session(&c.conversation, &c.communication).await;
    let key = [("HERALD_API_KEY", support::API_KEY)];

    // The customer's external contact id is all the engineer knows: the session store gives the rest.
    let valid = w.body("valid.json", &json!({"textBody": "Your order shipped."}));
    let args = [
        "--integration",
        "wm",
        "--herald",
        &serve.base,
        "--customer",
        &c.contact,
        "--format",
        "json",
        "--method",
        "POST",
        "--path",
        SEND,
        valid.to_str().expect("utf-8"),
    ];
    let run = doctor_env(&w.config, &args, &key).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let v = run.json();
    assert_eq!(v["live"]["herald"], serve.base.as_str());
    for (name, value) in [("conversationId", &c.conversation), ("communicationId", &c.communication)] {
        let f = resolved(&v, name);
        assert_eq!(f["value"], value.as_str(), "{f}");
        assert_eq!(f["source"], "session_store", "{f}");
    }
    assert!(resolved(&v, "conversationId")["from"].as_str().is_some_and(|f| f.contains("GET /v1/sessions?customer=")));
    assert_eq!(v["live"]["request"]["path"], c.send_path());

    // In text, with --send: delivered, and the output says where each id came from.
    let mut args = args.to_vec();
    args.retain(|a| *a != "--format" && *a != "json");
    args.insert(0, "--send");
    let run = doctor_env(&w.config, &args, &key).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains(&format!("session store: herald at {}", serve.base)), "{}", run.stdout);
    assert!(run.stdout.matches("from the session store").count() >= 2, "{}", run.stdout);
    let (status, correlation) = w.correlation_ids("POST", &c.send_path()).pop().expect("sent");
    assert!(run.stdout.contains(&format!("sent: {status} ")) && run.stdout.contains(&correlation), "{}", run.stdout);
    assert!(w.transcript(&c.conversation).contains(&("Your order shipped.".to_string(), c.communication.clone())));

    // Agentless to the same customer: the external contact id from the session store, the deployment id from the
    // config (sent into the live conversation).
    let agentless = w.body(
        "agentless.json",
        &json!({"fromAddress": "{deploymentId}", "externalContactId": "{externalContactId}",
                "toAddressMessengerType": "webmessaging", "textBody": "A quick update.",
                "useExistingActiveConversation": true}),
    );
    let run = post(
        &w.config,
        "wm",
        "/api/v2/conversations/messages/agentless",
        &agentless,
        &["--herald", &serve.base, "--customer", &c.contact, "--send", "--format", "json"],
        &key,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.all());
    let v = run.json();
    assert_eq!(resolved(&v, "externalContactId")["value"], c.contact.as_str());
    assert_eq!(resolved(&v, "externalContactId")["source"], "session_store");
    assert_eq!(resolved(&v, "deploymentId")["value"], DEPLOYMENT);
    assert_eq!(resolved(&v, "deploymentId")["source"], "config");
    let (status, correlation) =
        w.correlation_ids("POST", "/api/v2/conversations/messages/agentless").pop().expect("agentless sent");
    assert_eq!(v["live"]["sent"]["status"], status);
    assert_eq!(v["live"]["sent"]["correlation_id"], correlation.as_str());
    assert!(w.transcript(&c.conversation).iter().any(|(t, _)| t == "A quick update."));

    // A wrong API key is an error that says what to pass.
    let run = doctor_env(&w.config, &args[1..], &[("HERALD_API_KEY", "wrong-key-0123456789abcdef")]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.stdout.contains("refused the API key") && run.stdout.contains("HERALD_API_KEY"), "{}", run.stdout);
    drop(serve);
    w.emulator.shutdown().await;
}

/// A minimal web messaging guest over the emulator's guest WebSocket: configureSession, one message; frames are
/// drained in the background so the socket stays open for the whole test.
struct Guest {
    token: String,
    _reader: tokio::task::JoinHandle<()>,
    _writer: futures::stream::SplitSink<
        tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
        Message,
    >,
}

impl Guest {
    async fn connect(ws_base: &str) -> Guest {
        let url = format!("{ws_base}/v1?deploymentId={DEPLOYMENT}");
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("guest socket");
        let (mut writer, mut reader) = socket.split();
        let token = uuid::Uuid::new_v4().to_string();
        let configure = json!({"action": "configureSession", "deploymentId": DEPLOYMENT, "token": token});
        writer.send(Message::text(configure.to_string())).await.expect("configureSession");
        let session = tokio::time::timeout(WAIT, async {
            while let Some(Ok(m)) = reader.next().await {
                if let Message::Text(t) = m {
                    let f: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    if f["class"] == "SessionResponse" {
                        return f;
                    }
                }
            }
            Value::Null
        })
        .await
        .expect("no SessionResponse in time");
        assert_eq!(session["code"], 200, "{session}");
        let hello = json!({"action": "onMessage", "token": token,
                           "message": {"type": "Text", "text": "Hello, where is my order?"}});
        writer.send(Message::text(hello.to_string())).await.expect("onMessage");
        let reader = tokio::spawn(async move { while let Some(Ok(_)) = reader.next().await {} });
        Guest { token, _reader: reader, _writer: writer }
    }
}
