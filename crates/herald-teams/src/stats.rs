//! Named counters of an integration (writes, suppressed echoes, refused activities…), exposed through
//! `PresenceSync::sync_stats` and the health checks.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// Counter names, so callers and tests spell them the same way.
pub mod names {
    /// Activities accepted on the bot endpoint.
    pub const ACTIVITIES: &str = "bot.activities_accepted";
    /// Activities refused for authentication (suffix: the reason label).
    pub const REFUSED: &str = "bot.activities_refused";
    /// Malformed activities (400).
    pub const MALFORMED: &str = "bot.activities_malformed";
    /// Proactive messages delivered.
    pub const PROACTIVE: &str = "bot.proactive_sent";
    /// Presence writes to Genesys.
    pub const GENESYS_WRITES: &str = "presence.genesys_writes";
    /// Presence writes to Teams.
    pub const TEAMS_WRITES: &str = "presence.teams_writes";
    /// Echoes of herald's Genesys writes that were suppressed.
    pub const ECHO_GENESYS: &str = "presence.echo_suppressed_genesys";
    /// Echoes of herald's Teams writes that were suppressed.
    pub const ECHO_TEAMS: &str = "presence.echo_suppressed_teams";
    /// Changes skipped because the agent was On Queue.
    pub const GUARD_ON_QUEUE: &str = "presence.skipped_on_queue";
    /// Changes with no mapping.
    pub const UNMAPPED: &str = "presence.unmapped";
    /// Completed poll rounds.
    pub const POLL_ROUNDS: &str = "presence.poll_rounds";
    /// getPresencesByUserId requests.
    pub const POLL_REQUESTS: &str = "presence.poll_requests";
    /// Graph notifications accepted.
    pub const NOTIFICATIONS: &str = "presence.notifications_accepted";
    /// Graph notifications ignored for a wrong clientState.
    pub const BAD_CLIENT_STATE: &str = "presence.notifications_bad_client_state";
    /// Failed upstream writes.
    pub const WRITE_ERRORS: &str = "presence.write_errors";
}

/// A set of counters.
#[derive(Debug, Default)]
pub struct Stats {
    map: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    /// Adds one to `name`.
    pub fn incr(&self, name: &str) {
        self.add(name, 1);
    }

    /// Adds `n` to `name`.
    pub fn add(&self, name: &str, n: u64) {
        *self.map.lock().entry(name.to_string()).or_insert(0) += n;
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> u64 {
        self.map.lock().get(name).copied().unwrap_or(0)
    }

    /// Every counter.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.map.lock().clone()
    }
}
