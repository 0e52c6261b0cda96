//! [`GuestClient`]: one headless web messaging guest on one WebSocket.
//!
//! The client owns its socket; nothing runs in the background. Frames are read when the caller awaits
//! [`GuestClient::next_event`] (or a helper built on it), and protocol duties are done there:
//!
//! - a `TooManyRequestsErrorMessage` (4029) for a message the guest sent schedules a resend after `retryAfter`
//!   (up to [`GuestConfig::max_resends`] times), performed by the next `next_event` call once due;
//! - a Presence Disconnect with `readOnly`, a 409 "read-only" error or a read-only `SessionResponse` mark the session
//!   read-only: [`GuestClient::send_text`] then fails with [`GuestError::ReadOnly`] until [`GuestClient::start_new`];
//! - `SessionExpiredEvent` or a 4006 error mark the session expired ([`GuestError::SessionExpired`]).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::error::GuestError;
use super::frames::{self, GuestEvent, SessionInfo, StructuredMessage};
use super::history;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where and as whom a guest connects.
#[derive(Debug, Clone)]
pub struct GuestConfig {
    /// The guest WebSocket base: `wss://webmessaging.<domain>` (or the emulator's `ws://127.0.0.1:PORT`).
    pub ws_base: String,
    /// The Platform API base for [`GuestClient::history`]; derived from `ws_base` when `None`.
    pub api_base: Option<String>,
    /// The web messaging deployment id.
    pub deployment_id: String,
    /// The guest token (same token = same session); a random UUID when `None`.
    pub token: Option<String>,
    /// An `Origin` header (deployments may restrict origins).
    pub origin: Option<String>,
    /// How many times a rate-limited (4029) message is resent before giving up.
    pub max_resends: u32,
    /// Timeout of the handshake and of the first `SessionResponse`.
    pub connect_timeout: Duration,
}

impl GuestConfig {
    /// A guest of `deployment_id` at `ws_base`, with a random token.
    pub fn new(ws_base: impl Into<String>, deployment_id: impl Into<String>) -> Self {
        GuestConfig {
            ws_base: ws_base.into(),
            api_base: None,
            deployment_id: deployment_id.into(),
            token: None,
            origin: None,
            max_resends: 3,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// A guest of `deployment_id` in a Genesys environment (region, domain or base URL such as the emulator's).
    pub fn for_environment(env: &super::Environment, deployment_id: impl Into<String>) -> Self {
        let mut c = GuestConfig::new(env.webmessaging_ws_base(), deployment_id);
        c.api_base = Some(env.api_base());
        c
    }

    /// The same, with this guest token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    fn url(&self) -> String {
        let base = self.ws_base.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        format!("{base}/v1?deploymentId={}", self.deployment_id)
    }

    fn history_base(&self) -> String {
        if let Some(b) = &self.api_base {
            return b.trim_end_matches('/').to_string();
        }
        let base = self.ws_base.trim_end_matches('/');
        if let Some(rest) = base.strip_prefix("ws://") {
            format!("http://{rest}")
        } else if let Some(rest) = base.strip_prefix("wss://") {
            format!("https://{}", rest.strip_prefix("webmessaging.").map(|d| format!("api.{d}")).unwrap_or(rest.into()))
        } else {
            base.to_string()
        }
    }
}

struct Pending {
    text: String,
    attempts: u32,
    resend_at: Option<Instant>,
}

/// One connected guest. See the module docs for what it does on its own.
pub struct GuestClient {
    socket: Socket,
    config: GuestConfig,
    token: String,
    session: SessionInfo,
    read_only: bool,
    expired: bool,
    pending: HashMap<String, Pending>,
    backlog: VecDeque<GuestEvent>,
}

impl std::fmt::Debug for GuestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestClient")
            .field("deployment_id", &self.config.deployment_id)
            .field("session", &self.session)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

fn tracing_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl GuestClient {
    /// Opens the socket and configures the session (`configureSession`), waiting for its `SessionResponse`.
    pub async fn connect(config: GuestConfig) -> Result<GuestClient, GuestError> {
        herald_genesys::install_crypto_provider();
        let mut request = config.url().into_client_request().map_err(|e| GuestError::Connect(e.to_string()))?;
        if let Some(o) = &config.origin {
            let v = HeaderValue::from_str(o).map_err(|e| GuestError::Connect(format!("bad origin: {e}")))?;
            request.headers_mut().insert("Origin", v);
        }
        let (socket, _) = tokio::time::timeout(config.connect_timeout, tokio_tungstenite::connect_async(request))
            .await
            .map_err(|_| GuestError::Timeout(config.connect_timeout, "the WebSocket handshake"))?
            .map_err(|e| GuestError::Connect(e.to_string()))?;
        let token = config.token.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut client = GuestClient {
            socket,
            token,
            config,
            session: SessionInfo::default(),
            read_only: false,
            expired: false,
            pending: HashMap::new(),
            backlog: VecDeque::new(),
        };
        client.configure(false).await?;
        Ok(client)
    }

    async fn configure(&mut self, start_new: bool) -> Result<SessionInfo, GuestError> {
        let tr = tracing_id();
        let frame = frames::configure_session(&self.config.deployment_id, &self.token, start_new, &tr);
        self.write(frame).await?;
        let timeout = self.config.connect_timeout;
        let ev = self
            .wait_keeping(
                |e| {
                    matches!(e, GuestEvent::Session(_))
                        || matches!(e, GuestEvent::Error { tracing_id: Some(t), .. } if *t == tr)
                },
                timeout,
                "the SessionResponse",
            )
            .await?;
        match ev {
            GuestEvent::Session(s) => Ok(s),
            GuestEvent::Error { code, message, .. } => Err(GuestError::Rejected { code, message }),
            _ => Err(GuestError::Closed),
        }
    }

    /// The guest token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The last `SessionResponse`.
    pub fn session(&self) -> &SessionInfo {
        &self.session
    }

    /// Whether the session is read-only (its conversation was disconnected; see [`GuestClient::start_new`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Whether the session expired.
    pub fn is_expired(&self) -> bool {
        self.expired
    }

    /// Messages sent and not yet echoed back (including those waiting for a rate-limit resend).
    pub fn unacknowledged(&self) -> usize {
        self.pending.len()
    }

    async fn write(&mut self, frame: String) -> Result<(), GuestError> {
        self.socket.send(Message::Text(frame.into())).await.map_err(|e| GuestError::Send(e.to_string()))
    }

    /// Sends a Text message (`onMessage`); returns its tracing id, which the echo ([`GuestEvent::is_echo_of`]) carries.
    pub async fn send_text(&mut self, text: &str) -> Result<String, GuestError> {
        if self.expired {
            return Err(GuestError::SessionExpired);
        }
        if self.read_only {
            return Err(GuestError::ReadOnly);
        }
        let tr = tracing_id();
        self.write(frames::on_message(&self.token, text, &tr)).await?;
        self.pending.insert(tr.clone(), Pending { text: text.to_string(), attempts: 0, resend_at: None });
        Ok(tr)
    }

    /// Sends `echo`; the answer is a response [`StructuredMessage`] with the returned tracing id.
    pub async fn echo(&mut self) -> Result<String, GuestError> {
        let tr = tracing_id();
        self.write(frames::echo(&self.token, &tr)).await?;
        Ok(tr)
    }

    /// Asks for a guest JWT (`getJwt`); returns `(jwt, exp)`.
    pub async fn get_jwt(&mut self, timeout: Duration) -> Result<(String, i64), GuestError> {
        let tr = tracing_id();
        self.write(frames::get_jwt(&self.token, &tr)).await?;
        let ev = self
            .wait_keeping(
                |e| {
                    matches!(e, GuestEvent::Jwt { .. })
                        || matches!(e, GuestEvent::Error { tracing_id: Some(t), .. } if *t == tr)
                },
                timeout,
                "the JwtResponse",
            )
            .await?;
        match ev {
            GuestEvent::Jwt { jwt, exp } => Ok((jwt, exp)),
            GuestEvent::Error { code, message, .. } => Err(GuestError::Rejected { code, message }),
            _ => Err(GuestError::Closed),
        }
    }

    /// The guest's message history: `getJwt`, then `GET /api/v2/webmessaging/messages` with the JWT. Returns the
    /// `entities` (newest first, as the platform pages them). Plain `http://` bases only in this build (the emulator).
    pub async fn history(&mut self, timeout: Duration) -> Result<Vec<serde_json::Value>, GuestError> {
        let (jwt, _) = self.get_jwt(timeout).await?;
        let url = format!("{}/api/v2/webmessaging/messages?pageSize=100&pageNumber=1", self.config.history_base());
        history::get_entities(&url, &jwt, timeout).await
    }

    /// Starts a new conversation after a read-only disconnect: `closeSession` (all connections), then
    /// `configureSession` with `startNew: true`. Returns the new `SessionResponse` (`newSession: true`).
    pub async fn start_new(&mut self, timeout: Duration) -> Result<SessionInfo, GuestError> {
        let tr = tracing_id();
        self.write(frames::close_session(&self.token, true, &tr)).await?;
        self.wait_keeping(
            |e| {
                matches!(e, GuestEvent::Session(_))
                    || matches!(e, GuestEvent::Error { tracing_id: Some(t), .. } if *t == tr)
            },
            timeout,
            "the closeSession answer",
        )
        .await?;
        self.pending.clear();
        let s = self.configure(true).await?;
        self.read_only = s.read_only;
        Ok(s)
    }

    /// Closes the session (`closeSession`) and the socket.
    pub async fn close(mut self) -> Result<(), GuestError> {
        let tr = tracing_id();
        let sent = self.write(frames::close_session(&self.token, false, &tr)).await;
        let _ = self.socket.close(None).await;
        sent
    }

    /// The next event, waiting at most `timeout`. Events read earlier by a helper that was waiting for something
    /// else come first.
    pub async fn next_event(&mut self, timeout: Duration) -> Result<GuestEvent, GuestError> {
        if let Some(e) = self.backlog.pop_front() {
            return Ok(e);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let resend_at = self.pending.values().filter_map(|p| p.resend_at).min();
            tokio::select! {
                msg = self.socket.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        if let Some(ev) = frames::parse(t.as_str()) {
                            self.observe(&ev);
                            return Ok(ev);
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Err(GuestError::Closed),
                    Some(Ok(_)) => {}
                },
                _ = sleep_until_opt(resend_at) => self.resend_due().await?,
                _ = tokio::time::sleep_until(deadline) => return Err(GuestError::Timeout(timeout, "a guest event")),
            }
        }
    }

    /// Reads events until one matches `predicate` (events that do not match are dropped), at most `timeout`.
    pub async fn wait_for<F>(&mut self, mut predicate: F, timeout: Duration) -> Result<GuestEvent, GuestError>
    where
        F: FnMut(&GuestEvent) -> bool,
    {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = match self.next_event(left).await {
                Err(GuestError::Timeout(..)) => return Err(GuestError::Timeout(timeout, "a matching guest event")),
                other => other?,
            };
            if predicate(&ev) {
                return Ok(ev);
            }
        }
    }

    /// The next Outbound Text message (an agent's, a bot's or an agentless answer), at most `timeout`.
    pub async fn next_outbound(&mut self, timeout: Duration) -> Result<StructuredMessage, GuestError> {
        match self.wait_for(|e| e.as_outbound_text().is_some(), timeout).await? {
            GuestEvent::Message(m) => Ok(m),
            _ => Err(GuestError::Closed),
        }
    }

    /// Like `wait_for`, but keeps the events that do not match for `next_event`.
    async fn wait_keeping<F>(
        &mut self,
        mut predicate: F,
        timeout: Duration,
        what: &'static str,
    ) -> Result<GuestEvent, GuestError>
    where
        F: FnMut(&GuestEvent) -> bool,
    {
        let deadline = Instant::now() + timeout;
        let mut kept = VecDeque::new();
        let backlog = std::mem::take(&mut self.backlog);
        let mut found = None;
        for e in backlog {
            if found.is_none() && predicate(&e) {
                found = Some(e);
            } else {
                kept.push_back(e);
            }
        }
        let result = match found {
            Some(e) => Ok(e),
            None => loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.next_event(left).await {
                    Ok(e) if predicate(&e) => break Ok(e),
                    Ok(e) => kept.push_back(e),
                    Err(GuestError::Timeout(..)) => break Err(GuestError::Timeout(timeout, what)),
                    Err(e) => break Err(e),
                }
            },
        };
        kept.extend(self.backlog.drain(..));
        self.backlog = kept;
        result
    }

    /// Applies what an event says about the session.
    fn observe(&mut self, ev: &GuestEvent) {
        match ev {
            GuestEvent::Session(s) => {
                self.session = s.clone();
                self.read_only = s.read_only;
            }
            GuestEvent::Message(m) => {
                if let Some(t) = &m.tracing_id {
                    self.pending.remove(t);
                }
            }
            GuestEvent::Disconnected { read_only } => self.read_only = *read_only,
            GuestEvent::Error { code, tracing_id, .. } => {
                match code {
                    409 => self.read_only = true,
                    4006 => self.expired = true,
                    _ => {}
                }
                if let Some(t) = tracing_id {
                    self.pending.remove(t);
                }
            }
            GuestEvent::RateLimited { retry_after, tracing_id, .. } => {
                let max = self.config.max_resends;
                if let Some(t) = tracing_id {
                    let give_up = match self.pending.get_mut(t) {
                        Some(p) if p.attempts < max => {
                            p.attempts += 1;
                            p.resend_at = Some(Instant::now() + *retry_after);
                            false
                        }
                        Some(_) => true,
                        None => false,
                    };
                    if give_up {
                        self.pending.remove(t);
                    }
                }
            }
            GuestEvent::SessionExpired => self.expired = true,
            _ => {}
        }
    }

    /// Resends rate-limited messages whose `retryAfter` has passed (same tracing id).
    async fn resend_due(&mut self) -> Result<(), GuestError> {
        let now = Instant::now();
        let due: Vec<(String, String)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.resend_at.is_some_and(|at| at <= now))
            .map(|(t, p)| (t.clone(), p.text.clone()))
            .collect();
        for (tr, text) in due {
            if let Some(p) = self.pending.get_mut(&tr) {
                p.resend_at = None;
            }
            if self.read_only || self.expired {
                self.pending.remove(&tr);
                continue;
            }
            self.write(frames::on_message(&self.token, &text, &tr)).await?;
        }
        Ok(())
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending::<()>().await,
    }
}
