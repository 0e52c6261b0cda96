//! The supervised channel tasks behind [`NotificationStream`](super::NotificationStream).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use herald_core::ChannelError;
use rand::Rng;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::frame::{parse_frame, Frame, PING_FRAME};
use super::{HealthState, StreamConfig, StreamEvent};
use crate::client::GenesysClient;
use crate::models::notifications::Channel;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connected, subscribed channel.
struct Conn {
    channel: Channel,
    socket: Socket,
}

/// Shared by the channel tasks.
struct Shared {
    client: GenesysClient,
    config: StreamConfig,
    tx: mpsc::Sender<StreamEvent>,
    health: Arc<HealthState>,
    cancel: CancellationToken,
}

/// Why a connection ended.
enum Exit {
    /// Cancelled or the receiver went away: stop.
    Stop,
    /// Lost; reconnect and report a gap.
    Lost(String),
}

pub(super) fn start(
    client: GenesysClient,
    config: StreamConfig,
    chunks: Vec<Vec<String>>,
    tx: mpsc::Sender<StreamEvent>,
    health: Arc<HealthState>,
    cancel: CancellationToken,
) {
    let shared = Arc::new(Shared { client, config, tx: tx.clone(), health, cancel: cancel.clone() });
    tokio::spawn(async move {
        let mut set = JoinSet::new();
        for (slot, topics) in chunks.into_iter().enumerate() {
            set.spawn(run_slot(shared.clone(), slot, topics));
        }
        while set.join_next().await.is_some() {
            // A finished slot means stop (every slot ends only on cancellation); stop the others too.
            cancel.cancel();
        }
        let _ = tx.send(StreamEvent::Stopped).await;
    });
}

async fn emit(ctx: &Shared, ev: StreamEvent) -> bool {
    tokio::select! {
        r = ctx.tx.send(ev) => r.is_ok(),
        _ = ctx.cancel.cancelled() => false,
    }
}

fn backoff(cfg: &StreamConfig, attempt: u32) -> Duration {
    let base = cfg.reconnect_base.as_millis() as u64;
    let max = cfg.reconnect_max.as_millis() as u64;
    let ceiling = base.saturating_mul(1u64 << attempt.min(20)).min(max).max(1);
    Duration::from_millis(rand::rng().random_range(ceiling / 4..=ceiling))
}

async fn run_slot(ctx: Arc<Shared>, slot: usize, topics: Vec<String>) {
    let mut attempt: u32 = 0;
    let mut gap = Some("first connection: state from before the stream started is unknown".to_string());
    let mut connected_once = false;
    loop {
        if ctx.cancel.is_cancelled() {
            return;
        }
        let opened = tokio::select! {
            r = open(&ctx, &topics) => r,
            _ = ctx.cancel.cancelled() => return,
        };
        match opened {
            Ok(conn) => {
                attempt = 0;
                if connected_once {
                    ctx.health.update(|h| h.reconnects += 1);
                }
                connected_once = true;
                let channel_id = conn.channel.id.clone();
                ctx.health.update(|h| h.connected_channels += 1);
                tracing::info!(slot, channel_id = %channel_id, topics = topics.len(), "notification channel connected");
                if !emit(&ctx, StreamEvent::Connected { channel_id }).await {
                    return;
                }
                if let Some(reason) = gap.take() {
                    if !emit(&ctx, StreamEvent::Gap { reason }).await {
                        return;
                    }
                }
                let exit = drive(&ctx, &topics, conn).await;
                ctx.health.update(|h| h.connected_channels = h.connected_channels.saturating_sub(1));
                match exit {
                    Exit::Stop => return,
                    Exit::Lost(reason) => {
                        tracing::warn!(slot, reason = %reason, "notification socket lost; reconnecting");
                        ctx.health.update(|h| h.last_error = Some(reason.clone()));
                        gap = Some(format!("reconnected after: {reason}"));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(slot, error = %e, attempt, "could not open a notification channel");
                ctx.health.update(|h| h.last_error = Some(e.to_string()));
                if let ChannelError::Unauthorized { .. } = e {
                    ctx.client.auth().invalidate();
                }
            }
        }
        let wait = backoff(&ctx.config, attempt);
        attempt = attempt.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = ctx.cancel.cancelled() => return,
        }
    }
}

/// Creates a channel, connects its socket, then subscribes (so no event between subscription and connection is
/// lost).
async fn open(ctx: &Shared, topics: &[String]) -> Result<Conn, ChannelError> {
    let channel = ctx.client.create_channel().await?.body;
    if channel.id.is_empty() || channel.connect_uri.is_empty() {
        return Err(ChannelError::permanent("Genesys created a notification channel without id or connectUri"));
    }
    let (socket, _) = tokio_tungstenite::connect_async(channel.connect_uri.as_str()).await.map_err(|e| {
        ChannelError::transient(format!("could not connect the notification socket of channel {}: {e}", channel.id))
    })?;
    subscribe(ctx, &channel.id, topics).await?;
    Ok(Conn { channel, socket })
}

async fn subscribe(ctx: &Shared, channel_id: &str, topics: &[String]) -> Result<(), ChannelError> {
    let listing = ctx.client.subscribe(channel_id, topics, true).await?.body;
    let rejected: Vec<String> = listing
        .entities
        .iter()
        .filter(|t| t.is_rejected())
        .map(|t| {
            let why = t.rejection_reason.clone().unwrap_or_else(|| "rejected".into());
            let perms = t.missing_permissions.clone().unwrap_or_default().join(", ");
            if perms.is_empty() {
                format!("{}: {why}", t.id)
            } else {
                format!("{}: {why} (missing permissions: {perms})", t.id)
            }
        })
        .collect();
    if !rejected.is_empty() {
        tracing::warn!(channel_id, rejected = ?rejected, "Genesys rejected some topics; grant the missing permissions");
    }
    ctx.health.update(|h| {
        h.rejected_topics.retain(|r| !topics.iter().any(|t| r.starts_with(&format!("{t}:"))));
        h.rejected_topics.extend(rejected);
    });
    Ok(())
}

/// When to renew `channel`'s subscriptions: before its `expires` (from Genesys, so never trusted beyond the
/// configured lifetime), computed without overflow.
fn renewal_deadline(cfg: &StreamConfig, channel: &Channel) -> Instant {
    let lifetime = channel
        .expires
        .and_then(|e| (e - Utc::now()).to_std().ok())
        .unwrap_or(cfg.channel_lifetime)
        .min(cfg.channel_lifetime);
    let wait = lifetime.saturating_sub(cfg.renew_before).max(Duration::from_secs(1));
    Instant::from_std(herald_core::retry::instant_after(Instant::now().into_std(), wait))
}

type Pending<'a> = Pin<Box<dyn Future<Output = Result<Conn, ChannelError>> + Send + 'a>>;

/// Reads one connection until it ends; hands over to a new channel on `socket_closing`.
async fn drive(ctx: &Shared, topics: &[String], conn: Conn) -> Exit {
    let cfg = &ctx.config;
    let Conn { mut channel, mut socket } = conn;
    let mut last_seen = Instant::now();
    let mut renew_at = renewal_deadline(cfg, &channel);
    let mut next_ping = Instant::now() + cfg.ping_interval;
    let mut pending: Option<Pending<'_>> = None;
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => {
                let _ = socket.close(None).await;
                return Exit::Stop;
            }
            res = async { match pending.as_mut() { Some(p) => p.await, None => std::future::pending().await } } => {
                pending = None;
                match res {
                    Ok(new) => {
                        tracing::info!(old = %channel.id, new = %new.channel.id, "moved to a new notification channel before the old socket closed");
                        let _ = socket.close(None).await;
                        channel = new.channel;
                        socket = new.socket;
                        last_seen = Instant::now();
                        renew_at = renewal_deadline(cfg, &channel);
                        if !emit(ctx, StreamEvent::Connected { channel_id: channel.id.clone() }).await {
                            return Exit::Stop;
                        }
                    }
                    Err(e) => return Exit::Lost(format!("socket closing and no new channel could be opened: {e}")),
                }
            }
            msg = socket.next() => {
                let now = Utc::now();
                match msg {
                    None => return Exit::Lost("the server closed the socket".into()),
                    Some(Err(e)) => return Exit::Lost(format!("socket error: {e}")),
                    Some(Ok(Message::Close(frame))) => {
                        let why = frame.map(|f| format!("{} {}", f.code, f.reason)).unwrap_or_default();
                        return Exit::Lost(format!("the server closed the socket {why}").trim().to_string());
                    }
                    Some(Ok(Message::Text(text))) => {
                        last_seen = Instant::now();
                        match parse_frame(text.as_str()) {
                            Frame::Event { topic, body } => {
                                ctx.health.frame(now);
                                if !emit(ctx, StreamEvent::Frame { topic, body, received_at: now }).await {
                                    return Exit::Stop;
                                }
                            }
                            Frame::Heartbeat => ctx.health.update(|h| {
                                h.last_frame_at = Some(now);
                                h.last_heartbeat_at = Some(now);
                            }),
                            Frame::Pong => ctx.health.update(|h| h.last_frame_at = Some(now)),
                            Frame::SocketClosing { token_revoked } => {
                                if token_revoked {
                                    ctx.client.auth().invalidate();
                                }
                                if pending.is_none() {
                                    tracing::info!(channel_id = %channel.id, token_revoked, "socket closing announced; opening a new channel");
                                    pending = Some(Box::pin(open(ctx, topics)));
                                }
                            }
                            Frame::ChannelGone => return Exit::Lost("the channel is gone".into()),
                            Frame::System { topic } => tracing::info!(topic = %topic, "system notification"),
                            Frame::Unknown(what) => {
                                ctx.health.skipped();
                                tracing::warn!(channel_id = %channel.id, what = %what, "skipped an unexpected notification frame");
                            }
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        ctx.health.skipped();
                        tracing::warn!(channel_id = %channel.id, "skipped a binary notification frame");
                    }
                    Some(Ok(_)) => last_seen = Instant::now(),
                }
            }
            _ = tokio::time::sleep_until(next_ping) => {
                next_ping = Instant::now() + cfg.ping_interval;
                if let Err(e) = socket.send(Message::text(PING_FRAME)).await {
                    return Exit::Lost(format!("could not send a ping: {e}"));
                }
            }
            _ = tokio::time::sleep_until(last_seen + cfg.dead_after) => {
                return Exit::Lost(format!("no heartbeat or pong for {:?}", cfg.dead_after));
            }
            _ = tokio::time::sleep_until(renew_at) => {
                match ctx.client.subscribe(&channel.id, topics, true).await {
                    Ok(_) => {
                        tracing::info!(channel_id = %channel.id, "renewed notification subscriptions");
                        renew_at = Instant::now() + cfg.channel_lifetime.saturating_sub(cfg.renew_before).max(Duration::from_secs(1));
                    }
                    Err(ChannelError::NotFound { .. }) => return Exit::Lost("the channel expired".into()),
                    Err(e) => {
                        tracing::warn!(channel_id = %channel.id, error = %e, "could not renew subscriptions; retrying in a minute");
                        renew_at = Instant::now() + Duration::from_secs(60);
                    }
                }
            }
        }
    }
}
