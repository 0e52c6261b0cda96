//! Presence mapping between Teams (Graph availability/activity) and Genesys (presence definitions / system
//! presences). Defaults follow Genesys' own blueprints (reference §7); both tables are configurable.

use std::collections::BTreeMap;

use herald_genesys::models::presence::normalize_system_presence;

/// Genesys "Available" definition id used by the blueprints.
pub const GENESYS_AVAILABLE: &str = "6a3af858-942f-489d-9700-5f9bcdcdae9b";
/// Genesys "Away".
pub const GENESYS_AWAY: &str = "5e5c5c66-ea97-4e7f-ac41-6424784829f2";
/// Genesys "Busy".
pub const GENESYS_BUSY: &str = "31fe3bac-dea6-44b7-bed7-47f91660a1a0";
/// Genesys "Offline".
pub const GENESYS_OFFLINE: &str = "ccf3c10a-aa2c-4845-8e8d-f59fa48c58e5";

/// Teams token (availability or activity) → Genesys presence definition id.
pub fn default_teams_to_genesys() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("Available".into(), GENESYS_AVAILABLE.into());
    for k in ["Away", "BeRightBack"] {
        m.insert(k.into(), GENESYS_AWAY.into());
    }
    for k in ["Busy", "DoNotDisturb", "Focusing", "InACall", "InAMeeting", "Presenting"] {
        m.insert(k.into(), GENESYS_BUSY.into());
    }
    for k in ["Offline", "OffWork"] {
        m.insert(k.into(), GENESYS_OFFLINE.into());
    }
    m
}

/// Genesys system presence → Teams `Availability/Activity`.
pub fn default_genesys_to_teams() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("AVAILABLE".into(), "Available/Available".into());
    for k in ["ON_QUEUE", "BUSY", "MEETING"] {
        m.insert(k.into(), "Busy/Busy".into());
    }
    for k in ["AWAY", "BREAK", "MEAL"] {
        m.insert(k.into(), "Away/Away".into());
    }
    m
}

/// Parses `Availability/Activity`.
pub fn parse_pair(s: &str) -> Option<(String, String)> {
    let (a, b) = s.split_once('/')?;
    let (a, b) = (a.trim(), b.trim());
    (!a.is_empty() && !b.is_empty()).then(|| (a.to_string(), b.to_string()))
}

/// Both tables, normalised for look-ups.
#[derive(Debug, Clone)]
pub struct Mapping {
    to_genesys: BTreeMap<String, String>,
    to_teams: BTreeMap<String, (String, String)>,
}

impl Mapping {
    /// From the configured tables (Teams keys compared case-insensitively, Genesys keys by normalised system
    /// presence, so `ON_QUEUE`, `On Queue` and `OnQueue` are the same key).
    pub fn new(to_genesys: &BTreeMap<String, String>, to_teams: &BTreeMap<String, String>) -> Self {
        Mapping {
            to_genesys: to_genesys.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect(),
            to_teams: to_teams
                .iter()
                .filter_map(|(k, v)| parse_pair(v).map(|p| (normalize_system_presence(k), p)))
                .collect(),
        }
    }

    /// The Genesys definition for a Teams presence: the activity's entry wins over the availability's.
    pub fn genesys_for(&self, availability: &str, activity: &str) -> Option<&str> {
        self.to_genesys
            .get(&activity.to_ascii_lowercase())
            .or_else(|| self.to_genesys.get(&availability.to_ascii_lowercase()))
            .map(String::as_str)
    }

    /// The Teams pair for a Genesys system presence.
    pub fn teams_for(&self, system_presence: &str) -> Option<(&str, &str)> {
        self.to_teams.get(&normalize_system_presence(system_presence)).map(|(a, b)| (a.as_str(), b.as_str()))
    }
}

/// `setPresence` accepts fewer pairs than preferred presence: map a preferred pair onto a session pair.
pub fn session_pair(availability: &str, activity: &str) -> (String, String) {
    match availability {
        "Busy" => ("Busy".into(), "InACall".into()),
        "DoNotDisturb" => ("DoNotDisturb".into(), "Presenting".into()),
        "Away" | "BeRightBack" => ("Away".into(), "Away".into()),
        "Available" => ("Available".into(), "Available".into()),
        _ => (availability.into(), activity.into()),
    }
}

/// Whether a system presence counts as available for routing (`Available` or `On Queue`).
pub fn is_available(system_presence: &str) -> bool {
    matches!(normalize_system_presence(system_presence).as_str(), "available" | "onqueue")
}

/// Whether a system presence is On Queue.
pub fn is_on_queue(system_presence: &str) -> bool {
    normalize_system_presence(system_presence) == "onqueue"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_blueprint() {
        let m = Mapping::new(&default_teams_to_genesys(), &default_genesys_to_teams());
        assert_eq!(m.genesys_for("Busy", "InACall"), Some(GENESYS_BUSY));
        assert_eq!(m.genesys_for("DoNotDisturb", "Presenting"), Some(GENESYS_BUSY));
        assert_eq!(m.genesys_for("BeRightBack", "BeRightBack"), Some(GENESYS_AWAY));
        assert_eq!(m.genesys_for("Offline", "OffWork"), Some(GENESYS_OFFLINE));
        assert_eq!(m.genesys_for("PresenceUnknown", "PresenceUnknown"), None);
        assert_eq!(m.teams_for("On Queue"), Some(("Busy", "Busy")));
        assert_eq!(m.teams_for("MEAL"), Some(("Away", "Away")));
        assert_eq!(m.teams_for("Training"), None);
        assert!(is_on_queue("ON_QUEUE") && is_available("Available") && !is_available("Busy"));
        assert_eq!(session_pair("Busy", "Busy"), ("Busy".to_string(), "InACall".to_string()));
    }
}
