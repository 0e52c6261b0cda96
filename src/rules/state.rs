//! The rule engine's durable state: cooldowns, per-rule rate windows and "already fired for this waiting
//! episode", in the [`StateStore`] (namespace [`NAMESPACE`]), so a restart never repeats a rule's message inside
//! its cooldown and never greets a waiting customer twice.
//!
//! | key | value | expires |
//! |---|---|---|
//! | `cooldown/<rule>/<target>` | `{"at": …}` | at the end of the cooldown |
//! | `rate/<rule>` | `[millis, …]`, the firings of the last minute | a minute after the newest |
//! | `fired/<rule>/<conversation>/<episode start millis>` | `{"at": …}` | [`EPISODE_TTL_HOURS`] later |
//!
//! Claims are compare-and-set writes, so two engines sharing one store (later: several instances on PostgreSQL)
//! cannot both admit the same cooldown or the last slot of a rate window. A store failure suppresses the firing
//! (logged and counted): a missed rule message is recoverable, a repeated one is not.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use herald_core::{CasOutcome, StateStore, StoreError};
use serde_json::json;

/// The namespace of rule state.
pub const NAMESPACE: &str = "rules";
/// How long "fired for this waiting episode" is kept: longer than any conversation waits in a queue.
pub const EPISODE_TTL_HOURS: i64 = 48;
/// Longest key part kept verbatim; longer rule names or targets are shortened with a hash (keys are bounded).
const MAX_PART: usize = 160;
/// Compare-and-set retries before a contended rate window counts as a store failure.
const MAX_CAS_RETRIES: usize = 64;

/// Why a firing was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppressed {
    /// The target had this rule's message inside the cooldown.
    Cooldown,
    /// The rule reached `max_per_minute`.
    Rate,
    /// The state could not be read or written.
    Store,
}

impl Suppressed {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Suppressed::Cooldown => "cooldown",
            Suppressed::Rate => "rate",
            Suppressed::Store => "store",
        }
    }
}

/// Rule state over a state store; cheap to clone.
#[derive(Clone)]
pub struct RuleState {
    store: Arc<dyn StateStore>,
}

/// `part` as a key segment: verbatim when short, else its prefix plus a hash of the whole.
fn part(part: &str) -> String {
    if part.len() <= MAX_PART {
        return part.to_string();
    }
    let mut cut = MAX_PART - 20;
    while !part.is_char_boundary(cut) {
        cut -= 1;
    }
    // FNV-1a: stable across builds and platforms (the key must be the same after a restart).
    let hash = part.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{}~{hash:016x}", &part[..cut])
}

impl RuleState {
    /// Rule state kept in `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        RuleState { store }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// Admit one firing of `rule` for `target` at `now`: claims the cooldown (when `cooldown_secs > 0`), then a
    /// slot of the rate window (when `max_per_minute > 0`); a refused slot gives the cooldown back.
    pub async fn admit(
        &self,
        rule: &str,
        target: &str,
        cooldown_secs: u64,
        max_per_minute: u32,
        now: DateTime<Utc>,
    ) -> Result<(), Suppressed> {
        let cooldown_key = format!("cooldown/{}/{}", part(rule), part(target));
        if cooldown_secs > 0 {
            let until = herald_core::retry::add_to(now, std::time::Duration::from_secs(cooldown_secs));
            match self.store.put_if_absent(NAMESPACE, &cooldown_key, json!({"at": now}), Some(until), now).await {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return Err(Suppressed::Cooldown),
                Err(e) => return Err(store_failed(rule, &e)),
            }
        }
        if max_per_minute > 0 {
            let outcome = self.take_rate_slot(rule, max_per_minute, now).await;
            if outcome.is_err() && cooldown_secs > 0 {
                if let Err(e) = self.store.delete(NAMESPACE, &cooldown_key).await {
                    tracing::warn!(rule, error = %e, "could not give back a cooldown claim after a refused rate slot");
                }
            }
            outcome?;
        }
        Ok(())
    }

    /// Give back a cooldown claimed by [`admit`](Self::admit) when the notification could not be enqueued.
    pub async fn release_cooldown(&self, rule: &str, target: &str) {
        let key = format!("cooldown/{}/{}", part(rule), part(target));
        if let Err(e) = self.store.delete(NAMESPACE, &key).await {
            tracing::warn!(rule, error = %e, "could not give back a cooldown claim");
        }
    }

    /// One slot of the rule's sliding one-minute window, by compare-and-set on the list of recent firings.
    async fn take_rate_slot(&self, rule: &str, max_per_minute: u32, now: DateTime<Utc>) -> Result<(), Suppressed> {
        let key = format!("rate/{}", part(rule));
        let now_ms = now.timestamp_millis();
        let window_start = now_ms - 60_000;
        for _ in 0..MAX_CAS_RETRIES {
            let current = self.store.get(NAMESPACE, &key, now).await.map_err(|e| store_failed(rule, &e))?;
            let (expected, mut recent) = match current {
                Some(entry) => {
                    let list: Vec<i64> = serde_json::from_value(entry.value).unwrap_or_default();
                    (Some(entry.version), list)
                }
                None => (None, Vec::new()),
            };
            recent.retain(|t| *t > window_start);
            if recent.len() >= max_per_minute as usize {
                return Err(Suppressed::Rate);
            }
            recent.push(now_ms);
            let expires = now + Duration::seconds(61);
            match self.store.compare_and_set(NAMESPACE, &key, expected, json!(recent), Some(expires), now).await {
                Ok(CasOutcome::Written(_)) => return Ok(()),
                Ok(CasOutcome::Conflict(_)) => continue,
                Err(e) => return Err(store_failed(rule, &e)),
            }
        }
        Err(store_failed(rule, &StoreError::Backend(format!("rate window `{key}` stayed contended"))))
    }

    /// Whether `rule` already fired for the waiting episode of `conversation` that began at `since`.
    pub async fn fired(
        &self,
        rule: &str,
        conversation: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self.store.get(NAMESPACE, &fired_key(rule, conversation, since), now).await?.is_some())
    }

    /// Record that `rule` fired for the waiting episode of `conversation` that began at `since`.
    pub async fn mark_fired(
        &self,
        rule: &str,
        conversation: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let expires = now + Duration::hours(EPISODE_TTL_HOURS);
        self.store
            .put(NAMESPACE, &fired_key(rule, conversation, since), json!({"at": now}), Some(expires), now)
            .await?;
        Ok(())
    }
}

fn fired_key(rule: &str, conversation: &str, since: DateTime<Utc>) -> String {
    format!("fired/{}/{}/{}", part(rule), part(conversation), since.timestamp_millis())
}

fn store_failed(rule: &str, e: &StoreError) -> Suppressed {
    tracing::warn!(rule, error = %e, "rule state unavailable; the rule's message is held back rather than risk a repeat");
    Suppressed::Store
}

#[cfg(test)]
mod tests {
    use super::part;

    #[test]
    fn long_key_parts_are_shortened_stably() {
        assert_eq!(part("short"), "short");
        let long = "é".repeat(300);
        let a = part(&long);
        assert!(a.len() <= 160, "{}", a.len());
        assert_eq!(a, part(&long), "the same input gives the same key");
        assert_ne!(a, part(&format!("{long}x")), "different inputs give different keys");
    }
}
