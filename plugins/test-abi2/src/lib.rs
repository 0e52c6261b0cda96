//! A test plugin for every ABI 2 call, with an in-memory upstream that behaves like one with a stable message key:
//!
//! - `deliver` writes the message upstream first (as a request that reached its server), then waits
//!   `answer_delay_ms` before answering (a slow or lost answer). Stopped at the deadline or by herald's cancel, it
//!   counts the attempt as `stopped`; the message is upstream all the same.
//! - `confirm_delivery` looks the notification's delivery key up upstream: what an interrupted attempt left there.
//! - Inbound HTTP: `POST /test-abi2/<integration>/hook` publishes a `named` event `inbound` carrying the body (also
//!   as `customer_id`) and answers 202 with the event's position; a body `burst:N` publishes N `burst` events
//!   numbered by `seq`, one after the other.
//!
//! `health` reports `upstream` (messages stored), `finished` and `stopped` (attempts), so tests see what happened;
//! the presence capability reports `inbound_requests` through `presence_stats`.
//!
//! With `upstream_dir` set, the upstream is a directory instead of memory (one file per delivery key, one line per
//! message it accepted, synced before the slow answer), so it outlives herald: a test can kill herald mid-attempt and
//! check, after the restart, that the attempt is confirmed rather than sent again.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use herald_plugin::core::{ChannelError, ConfigProblem, Delivery, DeliveryGuarantee, EventKind, Health, Receipt};
use herald_plugin::sdk::receipt::receipt;
use herald_plugin::sdk::{
    async_trait, decode_settings, CreateContext, EventPublisher, HttpRequest, HttpResponse, Plugin, PluginAdapter,
    WireRoute,
};
use parking_lot::Mutex;
use serde::Deserialize;

/// The settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// How long `deliver` waits, after the message is upstream, before answering.
    #[serde(default)]
    pub answer_delay_ms: u64,
    /// Keep the upstream in this directory (it survives herald) instead of in memory.
    #[serde(default)]
    pub upstream_dir: Option<std::path::PathBuf>,
}

/// The file holding the messages of one delivery key (the key hex-encoded: any key is a safe file name).
fn key_file(dir: &std::path::Path, key: &str) -> std::path::PathBuf {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{hex}.messages"))
}

/// The receipts stored for `key` in `dir`.
fn read_upstream(dir: &std::path::Path, key: &str) -> Result<Vec<Receipt>, ChannelError> {
    match std::fs::read_to_string(key_file(dir, key)) {
        Ok(text) => Ok(text.lines().map(|id| receipt(id.to_string(), None, "test_abi2")).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ChannelError::transient(format!("cannot read the upstream: {e}"))),
    }
}

/// Store one more message for `key` in `dir`, durably; its receipt.
fn append_upstream(dir: &std::path::Path, key: &str) -> Result<Receipt, ChannelError> {
    use std::io::Write;
    let n = read_upstream(dir, key)?.len() + 1;
    let id = format!("up-{key}-{n}");
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(key_file(dir, key))?;
        writeln!(f, "{id}")?;
        f.sync_all()
    };
    write().map_err(|e| ChannelError::transient(format!("cannot write the upstream: {e}")))?;
    Ok(receipt(id, None, "test_abi2"))
}

/// The factory.
pub struct Abi2Plugin;

/// Attempt counters.
#[derive(Default)]
struct Counters {
    finished: AtomicU64,
    stopped: AtomicU64,
    inbound: AtomicU64,
}

/// The adapter.
pub struct Abi2 {
    name: String,
    settings: Settings,
    /// delivery key → the receipts the upstream gave (one per message it accepted).
    upstream: Mutex<HashMap<String, Vec<Receipt>>>,
    counters: Arc<Counters>,
    events: Mutex<Option<EventPublisher>>,
}

impl Plugin for Abi2Plugin {
    type Adapter = Abi2;
    const KIND: &'static str = "test_abi2";
    const DESCRIPTION: &'static str = "test plugin exercising deadlines, confirm_delivery and inbound HTTP";
    const DELIVERY_GUARANTEE: DeliveryGuarantee = DeliveryGuarantee::ExactlyOnce;
    const INBOUND_HTTP: bool = true;
    const PRESENCE: bool = true;

    fn create(ctx: CreateContext, settings: herald_plugin::sdk::serde_json::Value) -> Result<Abi2, Vec<ConfigProblem>> {
        Ok(Abi2 {
            name: ctx.name,
            settings: decode_settings(settings)?,
            upstream: Mutex::default(),
            counters: Arc::default(),
            events: Mutex::default(),
        })
    }
}

/// Counts an attempt as stopped unless it finished.
struct Attempt {
    counters: Arc<Counters>,
    finished: bool,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let counter = if self.finished { &self.counters.finished } else { &self.counters.stopped };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl PluginAdapter for Abi2 {
    async fn start(&self, events: EventPublisher) -> Result<(), ChannelError> {
        *self.events.lock() = Some(events);
        Ok(())
    }

    async fn deliver(&self, delivery: Delivery) -> Result<Receipt, ChannelError> {
        let mut attempt = Attempt { counters: self.counters.clone(), finished: false };
        let key = delivery.notification.delivery_key();
        let accepted = if let Some(dir) = &self.settings.upstream_dir {
            append_upstream(dir, &key)?
        } else {
            let mut upstream = self.upstream.lock();
            let receipts = upstream.entry(key.clone()).or_default();
            let r = receipt(format!("up-{key}-{}", receipts.len() + 1), None, "test_abi2");
            receipts.push(r.clone());
            r
        };
        tokio::time::sleep(Duration::from_millis(self.settings.answer_delay_ms)).await;
        attempt.finished = true;
        Ok(accepted)
    }

    async fn confirm_delivery(&self, delivery: Delivery) -> Result<Vec<Receipt>, ChannelError> {
        let key = delivery.notification.delivery_key();
        if let Some(dir) = &self.settings.upstream_dir {
            return read_upstream(dir, &key);
        }
        Ok(self.upstream.lock().get(&key).cloned().unwrap_or_default())
    }

    fn routes(&self) -> Vec<WireRoute> {
        vec![WireRoute::post(format!("/test-abi2/{}/hook", self.name))]
    }

    async fn http(&self, request: HttpRequest) -> HttpResponse {
        let Some(events) = self.events.lock().clone() else {
            return HttpResponse::text(503, "not started");
        };
        let body = String::from_utf8_lossy(&request.body).into_owned();
        if let Some(n) = body.strip_prefix("burst:").and_then(|n| n.trim().parse::<u64>().ok()) {
            for seq in 0..n {
                let attributes = BTreeMap::from([("seq".to_string(), seq.to_string())]);
                if !events.publish(EventKind::Named { name: "burst".into(), attributes }).await {
                    return HttpResponse::text(503, "herald stopped listening");
                }
            }
            return HttpResponse::json(202, &herald_plugin::sdk::serde_json::json!({ "published": n }));
        }
        let attributes = BTreeMap::from([
            ("body".to_string(), body.clone()),
            ("customer_id".to_string(), body),
            ("path".to_string(), request.path.clone()),
        ]);
        if !events.publish(EventKind::Named { name: "inbound".into(), attributes }).await {
            return HttpResponse::text(503, "herald stopped listening");
        }
        let n = self.counters.inbound.fetch_add(1, Ordering::SeqCst) + 1;
        HttpResponse::json(202, &herald_plugin::sdk::serde_json::json!({ "event": n }))
    }

    async fn presence_stats(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([("inbound_requests".to_string(), self.counters.inbound.load(Ordering::SeqCst))])
    }

    async fn health(&self) -> Health {
        let mut health = Health::healthy();
        let messages: usize = self.upstream.lock().values().map(Vec::len).sum();
        health.checks.insert("upstream".into(), messages.to_string());
        health.checks.insert("finished".into(), self.counters.finished.load(Ordering::SeqCst).to_string());
        health.checks.insert("stopped".into(), self.counters.stopped.load(Ordering::SeqCst).to_string());
        health
    }

    async fn shutdown(&self) {
        self.events.lock().take();
    }
}

herald_plugin::export_plugin!(Abi2Plugin);
