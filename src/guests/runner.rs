//! The load run: N headless web messaging guests ramped at R new sessions per second, each running its script until
//! the run's end, then closing. One task per guest; no background work inside the guest client.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use herald_webmessaging::guest::{GuestClient, GuestConfig, GuestError, GuestEvent};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::script::{render, Step, WaitFor};
use super::stats::{LoadSummary, Stats};
use super::LoadPlan;

/// Runs the plan to its end and summarises it. Never fails: problems are counted in the summary's errors.
pub async fn run_load(plan: LoadPlan) -> LoadSummary {
    let plan = Arc::new(plan);
    let stats = Arc::new(Stats::default());
    let start = Instant::now();
    let deadline = start + plan.duration;
    let progress = plan.progress.then(|| tokio::spawn(progress_lines(stats.clone(), start, deadline)));
    let mut guests = JoinSet::new();
    let gap = if plan.rate > 0.0 { Duration::from_secs_f64(1.0 / plan.rate) } else { Duration::ZERO };
    for idx in 0..plan.count {
        let at = start + gap.mul_f64(idx as f64);
        if at >= deadline {
            break;
        }
        tokio::time::sleep_until(at).await;
        guests.spawn(guest(idx, plan.clone(), stats.clone(), deadline));
    }
    // Guests end at the deadline; the grace covers their closing handshakes.
    let grace = deadline + Duration::from_secs(15);
    while let Ok(Some(_)) = tokio::time::timeout_at(grace, guests.join_next()).await {}
    guests.abort_all();
    if let Some(p) = progress {
        p.abort();
    }
    stats.summary(start.elapsed(), plan.count)
}

/// One line per second to stderr while the run lasts.
async fn progress_lines(stats: Arc<Stats>, start: Instant, deadline: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let s = stats.summary(start.elapsed(), 0);
        eprintln!(
            "[{:>5.1}s] active {:>5}  opened {:>5}  sent {:>7}  received {:>7}  errors {:>5}  p50 {:>7.1} ms  rss {:>6.1} MiB",
            s.elapsed_seconds,
            stats.active.load(Ordering::Relaxed),
            s.sessions_opened,
            s.messages_sent,
            s.messages_received,
            stats.error_count(),
            s.latency_p50_ms,
            s.rss_bytes as f64 / 1048576.0
        );
        if Instant::now() >= deadline {
            break;
        }
    }
}

/// Counts what an event says.
fn account(stats: &Stats, ev: &GuestEvent) {
    match ev {
        GuestEvent::Message(m)
            if m.direction == herald_webmessaging::guest::Direction::Outbound && m.text.is_some() =>
        {
            Stats::bump(&stats.received)
        }
        GuestEvent::Message(m) if m.tracing_id.is_some() && !m.is_response => Stats::bump(&stats.echoed),
        GuestEvent::Error { code, .. } => stats.error(code.to_string()),
        GuestEvent::RateLimited { .. } => stats.error("4029"),
        GuestEvent::SessionExpired => stats.error("4006"),
        _ => {}
    }
}

/// Reads events until `until`, counting them, and returns the first one `stop` accepts (`None` at `until`).
async fn pump<F>(
    g: &mut GuestClient,
    stats: &Stats,
    until: Instant,
    mut stop: F,
) -> Result<Option<GuestEvent>, GuestError>
where
    F: FnMut(&GuestEvent) -> bool,
{
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match g.next_event(left).await {
            Ok(ev) => {
                account(stats, &ev);
                if stop(&ev) {
                    return Ok(Some(ev));
                }
            }
            Err(GuestError::Timeout(..)) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

async fn guest(idx: usize, plan: Arc<LoadPlan>, stats: Arc<Stats>, deadline: Instant) {
    let mut config = GuestConfig::new(plan.ws_base.clone(), plan.deployment_id.clone());
    config.api_base = plan.api_base.clone();
    config.connect_timeout = plan.connect_timeout;
    let mut g = match GuestClient::connect(config).await {
        Ok(g) => g,
        Err(e) => {
            stats.error(e.label());
            return;
        }
    };
    stats.connected();
    if let Err(e) = script(idx, &plan, &stats, &mut g, deadline).await {
        stats.error(e.label());
    }
    stats.disconnected();
    let _ = tokio::time::timeout(Duration::from_secs(5), g.close()).await;
}

async fn script(
    idx: usize,
    plan: &LoadPlan,
    stats: &Stats,
    g: &mut GuestClient,
    deadline: Instant,
) -> Result<(), GuestError> {
    let mut n: u64 = 0;
    let mut last: Option<(String, Instant)> = None;
    'run: loop {
        for step in &plan.script.steps {
            if Instant::now() >= deadline {
                break 'run;
            }
            match step {
                Step::Say(text) => {
                    n += 1;
                    let text = render(text, idx, n);
                    let sent = match g.send_text(&text).await {
                        Err(GuestError::ReadOnly) => {
                            g.start_new(plan.connect_timeout).await?;
                            Stats::bump(&stats.restarts);
                            g.send_text(&text).await
                        }
                        other => other,
                    };
                    let tr = sent?;
                    Stats::bump(&stats.sent);
                    last = Some((tr, Instant::now()));
                }
                Step::Think(d) => {
                    pump(g, stats, (Instant::now() + *d).min(deadline), |_| false).await?;
                }
                Step::Wait(what, timeout) => {
                    let Some((tr, t0)) = last.take() else {
                        continue;
                    };
                    let until = (Instant::now() + *timeout).min(deadline);
                    let hit = pump(g, stats, until, |e| {
                        let done = match what {
                            WaitFor::Answer => e.as_outbound_text().is_some(),
                            WaitFor::Echo => e.is_echo_of(&tr),
                        };
                        done || matches!(e, GuestEvent::Error { tracing_id: Some(t), .. } if *t == tr)
                    })
                    .await?;
                    match hit {
                        Some(GuestEvent::Error { .. }) => {}
                        Some(_) => stats.latency(t0.elapsed()),
                        None if Instant::now() < deadline => stats.error("timeout"),
                        None => {}
                    }
                }
            }
        }
        if !plan.script.repeat {
            break;
        }
    }
    // Stay connected (and keep counting answers) until the run ends.
    pump(g, stats, deadline, |_| false).await?;
    Ok(())
}
