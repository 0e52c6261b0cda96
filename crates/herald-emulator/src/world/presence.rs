//! System presences and how their names are spelled in each API generation.
//!
//! The platform spells the same value three ways: `OnQueue` (new definitions API), `On Queue`
//! (old definitions API and user presence) and `ON_QUEUE` (notification events).

use crate::config::PresenceDefinitionConfig;

/// A system presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemPresence {
    /// Available.
    Available,
    /// Away.
    Away,
    /// Busy.
    Busy,
    /// Offline.
    Offline,
    /// Idle.
    Idle,
    /// On Queue.
    OnQueue,
    /// Meal.
    Meal,
    /// Training.
    Training,
    /// Meeting.
    Meeting,
    /// Break.
    Break,
}

const ALL: [(SystemPresence, &str, &str, &str); 10] = [
    (SystemPresence::Available, "Available", "Available", "AVAILABLE"),
    (SystemPresence::Away, "Away", "Away", "AWAY"),
    (SystemPresence::Busy, "Busy", "Busy", "BUSY"),
    (SystemPresence::Offline, "Offline", "Offline", "OFFLINE"),
    (SystemPresence::Idle, "Idle", "Idle", "IDLE"),
    (SystemPresence::OnQueue, "OnQueue", "On Queue", "ON_QUEUE"),
    (SystemPresence::Meal, "Meal", "Meal", "MEAL"),
    (SystemPresence::Training, "Training", "Training", "TRAINING"),
    (SystemPresence::Meeting, "Meeting", "Meeting", "MEETING"),
    (SystemPresence::Break, "Break", "Break", "BREAK"),
];

fn squash(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase()
}

impl SystemPresence {
    /// Parses any spelling (case, spaces and underscores ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let k = squash(s);
        ALL.iter().find(|(_, a, _, _)| squash(a) == k).map(|(p, ..)| *p)
    }

    fn row(self) -> &'static (SystemPresence, &'static str, &'static str, &'static str) {
        ALL.iter().find(|(p, ..)| *p == self).unwrap_or(&ALL[0])
    }

    /// New definitions API spelling (`OnQueue`).
    pub fn definition_name(self) -> &'static str {
        self.row().1
    }

    /// Old API / user presence spelling (`On Queue`).
    pub fn legacy_name(self) -> &'static str {
        self.row().2
    }

    /// Event spelling (`ON_QUEUE`).
    pub fn event_name(self) -> &'static str {
        self.row().3
    }

    /// Every system presence.
    pub fn all() -> impl Iterator<Item = SystemPresence> {
        ALL.iter().map(|(p, ..)| *p)
    }
}

/// Finds a definition by id, label or system presence (case-insensitive), preferring primaries.
pub fn resolve_definition<'a>(defs: &'a [PresenceDefinitionConfig], key: &str) -> Option<&'a PresenceDefinitionConfig> {
    if let Some(d) = defs.iter().find(|d| d.id.eq_ignore_ascii_case(key)) {
        return Some(d);
    }
    if let Some(d) = defs.iter().find(|d| squash(&d.label) == squash(key)) {
        return Some(d);
    }
    let sp = SystemPresence::parse(key)?;
    let mut matching = defs.iter().filter(|d| SystemPresence::parse(&d.system_presence) == Some(sp));
    let first = matching.clone().next();
    matching.find(|d| d.primary).or(first)
}
