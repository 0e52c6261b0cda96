//! The load run: N headless guests ramped at R new sessions per second, each running its script until the run's
//! end, then closing. One task per guest; no background work inside the runner.
//!
//! The runner is written once over [`LoadGuest`], the little a script needs from a guest (open, say, next event,
//! what an event means, close); `webmessaging.rs` and `webchat.rs` implement it for the two guest kinds.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::script::{render, Step, WaitFor};
use super::stats::{LoadSummary, Stats};
use super::LoadPlan;

/// What an event means to a `wait` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hit {
    /// The awaited answer or echo arrived (a latency sample).
    Done,
    /// The platform rejected the awaited message (no latency sample; the error is counted by `account`).
    Failed,
}

/// One guest of a load run, whatever its protocol. Errors are short stable labels (`connect`, `timeout`,
/// `closed`, an error code or class) counted in the summary.
pub(super) trait LoadGuest: Sized + Send + 'static {
    /// An event the guest receives.
    type Event: Send;
    /// What a sent message is recognised by (a tracing id, a message id).
    type Sent: Send + Sync;

    /// Opens guest number `idx`'s session (connected and able to send).
    fn open(idx: usize, plan: &LoadPlan) -> impl Future<Output = Result<Self, String>> + Send;

    /// Sends `text`. A guest whose conversation has ended starts a new one and sends again, counting it in
    /// `stats.restarts`.
    fn say(
        &mut self,
        text: &str,
        plan: &LoadPlan,
        stats: &Stats,
    ) -> impl Future<Output = Result<Self::Sent, String>> + Send;

    /// The next event, `Ok(None)` when none arrived within `left`, an error when the guest can receive no more.
    fn next_event(&mut self, left: Duration) -> impl Future<Output = Result<Option<Self::Event>, String>> + Send;

    /// Counts what `ev` says (answers received, echoes, errors).
    fn account(&self, stats: &Stats, ev: &Self::Event);

    /// Whether `ev` ends a wait for `what` of the message `sent`.
    fn hit(&self, ev: &Self::Event, what: WaitFor, sent: &Self::Sent) -> Option<Hit>;

    /// Ends the session (best effort).
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// Runs the plan to its end with guests of kind `G` and summarises it. Never fails: problems are counted in the
/// summary's errors.
pub(super) async fn run_load<G: LoadGuest>(plan: LoadPlan) -> LoadSummary {
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
        guests.spawn(guest::<G>(idx, plan.clone(), stats.clone(), deadline));
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

/// Reads events until `until`, counting them; with `want`, returns as soon as an event ends that wait (`None` at
/// `until`).
async fn pump<G: LoadGuest>(
    g: &mut G,
    stats: &Stats,
    until: Instant,
    want: Option<(WaitFor, &G::Sent)>,
) -> Result<Option<Hit>, String> {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let Some(ev) = g.next_event(left).await? else {
            return Ok(None);
        };
        g.account(stats, &ev);
        if let Some((what, sent)) = want {
            if let Some(hit) = g.hit(&ev, what, sent) {
                return Ok(Some(hit));
            }
        }
    }
}

async fn guest<G: LoadGuest>(idx: usize, plan: Arc<LoadPlan>, stats: Arc<Stats>, deadline: Instant) {
    let mut g = match G::open(idx, &plan).await {
        Ok(g) => g,
        Err(label) => {
            stats.error(label);
            return;
        }
    };
    stats.connected();
    if let Err(label) = script(idx, &plan, &stats, &mut g, deadline).await {
        stats.error(label);
    }
    stats.disconnected();
    let _ = tokio::time::timeout(Duration::from_secs(5), g.close()).await;
}

async fn script<G: LoadGuest>(
    idx: usize,
    plan: &LoadPlan,
    stats: &Stats,
    g: &mut G,
    deadline: Instant,
) -> Result<(), String> {
    let mut n: u64 = 0;
    let mut last: Option<(G::Sent, Instant)> = None;
    'run: loop {
        for step in &plan.script.steps {
            if Instant::now() >= deadline {
                break 'run;
            }
            match step {
                Step::Say(text) => {
                    n += 1;
                    let text = render(text, idx, n);
                    // Latency runs from the start of the send: a chat answer can arrive before the POST returns.
                    let t0 = Instant::now();
                    let sent = g.say(&text, plan, stats).await?;
                    Stats::bump(&stats.sent);
                    last = Some((sent, t0));
                }
                Step::Think(d) => {
                    pump(g, stats, (Instant::now() + *d).min(deadline), None).await?;
                }
                Step::Wait(what, timeout) => {
                    let Some((sent, t0)) = last.take() else {
                        continue;
                    };
                    let until = (Instant::now() + *timeout).min(deadline);
                    match pump(g, stats, until, Some((*what, &sent))).await? {
                        Some(Hit::Failed) => {}
                        Some(Hit::Done) => stats.latency(t0.elapsed()),
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
    pump(g, stats, deadline, None).await?;
    Ok(())
}
