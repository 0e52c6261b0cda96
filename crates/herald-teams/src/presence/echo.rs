//! Echo suppression: herald remembers, per agent and direction, the values it recently wrote, for a short time.
//! When the other side reports one of those values back (the echo of herald's own write), the change is not copied
//! again — that is what stops Teams → Genesys → Teams ping-pong.
//!
//! Several writes are remembered (not only the last), because under rapid changes an echo may be read after herald
//! already wrote the next value: a stale echo of an earlier write must still be recognised, or it would be copied
//! back and overwrite the newer state. A match consumes that write and every older one; entries expire after `ttl`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Writes remembered per agent and direction.
const DEPTH: usize = 8;

/// Which way a write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// herald wrote Genesys presence (from Teams).
    ToGenesys,
    /// herald wrote Teams presence (from Genesys).
    ToTeams,
}

type Key = (String, Direction);

/// The memory of recent writes.
#[derive(Debug)]
pub struct EchoGuard {
    ttl: Duration,
    writes: Mutex<HashMap<Key, VecDeque<(String, Instant)>>>,
}

impl EchoGuard {
    /// A guard remembering writes for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        EchoGuard { ttl, writes: Mutex::new(HashMap::new()) }
    }

    fn prune(&self, q: &mut VecDeque<(String, Instant)>) {
        while q.front().is_some_and(|(_, at)| at.elapsed() >= self.ttl) {
            q.pop_front();
        }
    }

    /// Remembers that herald wrote `value` for `agent` in `direction`.
    pub fn remember(&self, agent: &str, direction: Direction, value: &str) {
        let mut w = self.writes.lock();
        if w.len() > 10_000 {
            w.retain(|_, q| q.back().is_some_and(|(_, at)| at.elapsed() < self.ttl));
        }
        let q = w.entry((agent.to_string(), direction)).or_default();
        self.prune(q);
        if q.len() >= DEPTH {
            q.pop_front();
        }
        q.push_back((value.to_ascii_lowercase(), Instant::now()));
    }

    /// The newest value herald wrote for `agent` in `direction` whose echo has not been seen yet (within the ttl).
    pub fn pending(&self, agent: &str, direction: Direction) -> Option<String> {
        let mut w = self.writes.lock();
        let q = w.get_mut(&(agent.to_string(), direction))?;
        self.prune(q);
        q.back().map(|(v, _)| v.clone())
    }

    /// Whether a write of `value` would be a no-op: the newest unacknowledged write was that value, or there is
    /// none and the side last reported `observed` = `value`.
    pub fn is_noop(&self, agent: &str, direction: Direction, value: &str, observed: Option<&str>) -> bool {
        match self.pending(agent, direction) {
            Some(p) => p == value.to_ascii_lowercase(),
            None => observed.is_some_and(|o| o.eq_ignore_ascii_case(value)),
        }
    }

    /// Whether `value`, observed on the side written in `direction`, is the echo of one of herald's recent writes;
    /// a match consumes that write and the older ones.
    pub fn is_echo(&self, agent: &str, direction: Direction, value: &str) -> bool {
        let mut w = self.writes.lock();
        let Some(q) = w.get_mut(&(agent.to_string(), direction)) else { return false };
        self.prune(q);
        let value = value.to_ascii_lowercase();
        match q.iter().rposition(|(v, _)| *v == value) {
            Some(i) => {
                q.drain(..=i);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_once_per_direction_and_expires() {
        let g = EchoGuard::new(Duration::from_secs(60));
        g.remember("a", Direction::ToTeams, "Busy");
        assert!(!g.is_echo("a", Direction::ToGenesys, "busy"));
        assert!(!g.is_echo("a", Direction::ToTeams, "Away"));
        assert!(g.is_echo("a", Direction::ToTeams, "busy"));
        assert!(!g.is_echo("a", Direction::ToTeams, "busy"));
        let short = EchoGuard::new(Duration::ZERO);
        short.remember("a", Direction::ToGenesys, "x");
        assert!(!short.is_echo("a", Direction::ToGenesys, "x"));
    }

    #[test]
    fn a_stale_echo_of_an_older_write_is_recognised() {
        let g = EchoGuard::new(Duration::from_secs(60));
        g.remember("a", Direction::ToTeams, "Away");
        g.remember("a", Direction::ToTeams, "Available");
        assert_eq!(g.pending("a", Direction::ToTeams).as_deref(), Some("available"));
        assert!(g.is_noop("a", Direction::ToTeams, "Available", Some("Away")));
        assert!(!g.is_noop("a", Direction::ToTeams, "Away", Some("Away")));
        assert!(g.is_echo("a", Direction::ToTeams, "Away"), "the older write's echo");
        assert!(g.is_echo("a", Direction::ToTeams, "Available"));
        assert_eq!(g.pending("a", Direction::ToTeams), None);
    }
}
