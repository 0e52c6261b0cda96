//! Logging (`tracing`) and metrics (Prometheus) set-up.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the Prometheus recorder once per process and return its renderer.
pub fn metrics() -> Option<PrometheusHandle> {
    METRICS
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe_metrics();
            Some(handle)
        })
        .clone()
}

/// Log to stderr; level from `HERALD_LOG` (default `info`), JSON lines when `HERALD_LOG_FORMAT=json`.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if std::env::var("HERALD_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Every metric herald emits, with its unit and what it counts: rendered as `# HELP` lines, so `/metrics` passes
/// `promtool check metrics`. A metric is listed only once it has been recorded.
fn describe_metrics() {
    use metrics::{describe_counter, describe_histogram, Unit};
    let counters: &[(&str, &str)] = &[
        ("herald_intake_total", "Notifications posted to the API, by integration and result (accepted, duplicate, refused)."),
        ("herald_deliveries_total", "Outcomes of delivery steps by integration: delivered, failed, expired, deferred, retry, rate_limited."),
        ("herald_outcome_unknown_total", "Attempts whose outcome was unknown (timeout or reset after the request was written, abandoned, crash); each is checked before any further attempt."),
        ("herald_confirm_total", "Checks of attempts with an unknown outcome, by integration and result: found, not_found, failed, cannot_check."),
        ("herald_attempts_abandoned_total", "Attempts abandoned at their deadline, by integration."),
        ("herald_dispatch_worker_panics_total", "Delivery attempts that panicked (caught; the record is checked again)."),
        ("herald_task_restarts_total", "Background tasks restarted by the supervisor after ending unexpectedly, by task."),
        ("herald_ingest_panics_total", "Stream events whose handling panicked (caught; ingestion went on), by integration."),
        ("herald_http_rejected_total", "API requests shed or timed out, by reason."),
        ("herald_rule_notifications_total", "Notifications created by rules, by rule."),
        ("herald_rule_suppressed_total", "Rule firings suppressed (cooldown, rate window, already fired, own message), by rule and reason."),
        ("herald_rule_waits_evicted_total", "Queue-wait timers dropped because the rule engine's bound was reached."),
        ("herald_teams_activities_refused_total", "Bot activities refused (tenant other than the configured one, bad token), by reason."),
        ("herald_plugin_late_answers_total", "Plugin calls that answered after herald had abandoned them at their deadline, by integration."),
        ("herald_plugin_events_dropped_total", "Events from plugins dropped because the host's bounded event queue was full, by integration."),
    ];
    for (name, help) in counters {
        describe_counter!(*name, Unit::Count, *help);
    }
    let histograms: &[(&str, &str)] = &[
        ("herald_intake_seconds", "Time to accept a notification durably (validation, fsync), in seconds."),
        (
            "herald_dispatch_overhead_seconds",
            "Time from a record being due to its attempt leaving (the durable attempting mark), in seconds.",
        ),
        ("herald_delivery_seconds", "Time an adapter took for one delivery attempt, by integration, in seconds."),
    ];
    for (name, help) in histograms {
        describe_histogram!(*name, Unit::Seconds, *help);
    }
}
