//! Echo suppression: herald remembers, per agent and direction, the value it last wrote, for a short time. When
//! the other side reports that same value back (the echo of herald's own write), the change is not copied again —
//! that is what stops Teams → Genesys → Teams ping-pong. A remembered write matches once and expires after `ttl`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Which way a write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// herald wrote Genesys presence (from Teams).
    ToGenesys,
    /// herald wrote Teams presence (from Genesys).
    ToTeams,
}

/// The memory of recent writes.
#[derive(Debug)]
pub struct EchoGuard {
    ttl: Duration,
    writes: Mutex<HashMap<(String, Direction), (String, Instant)>>,
}

impl EchoGuard {
    /// A guard remembering writes for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        EchoGuard { ttl, writes: Mutex::new(HashMap::new()) }
    }

    /// Remembers that herald wrote `value` for `agent` in `direction`.
    pub fn remember(&self, agent: &str, direction: Direction, value: &str) {
        let mut w = self.writes.lock();
        let now = Instant::now();
        if w.len() > 10_000 {
            w.retain(|_, (_, at)| now.duration_since(*at) < self.ttl);
        }
        w.insert((agent.to_string(), direction), (value.to_ascii_lowercase(), now));
    }

    /// Whether `value`, observed on the side written in `direction`, is the echo of herald's own write; a match is
    /// consumed.
    pub fn is_echo(&self, agent: &str, direction: Direction, value: &str) -> bool {
        let mut w = self.writes.lock();
        let key = (agent.to_string(), direction);
        match w.get(&key) {
            Some((v, at)) if at.elapsed() < self.ttl && *v == value.to_ascii_lowercase() => {
                w.remove(&key);
                true
            }
            Some((_, at)) if at.elapsed() >= self.ttl => {
                w.remove(&key);
                false
            }
            _ => false,
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
}
