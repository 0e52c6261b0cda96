//! `HH:MM-HH:MM` time-of-day windows (UTC) for rule conditions.

use chrono::{DateTime, Timelike, Utc};

/// A daily window; `end < start` wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    start: u32,
    end: u32,
}

impl TimeWindow {
    /// Parse `08:00-18:30`.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b) = s.split_once('-')?;
        Some(TimeWindow { start: minutes(a.trim())?, end: minutes(b.trim())? })
    }

    /// Whether `at` falls inside the window.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let m = at.hour() * 60 + at.minute();
        if self.start <= self.end {
            (self.start..self.end).contains(&m)
        } else {
            m >= self.start || m < self.end
        }
    }
}

fn minutes(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn windows_including_wrap() {
        let day = TimeWindow::parse("08:00-18:30").unwrap();
        let night = TimeWindow::parse("22:00-06:00").unwrap();
        let at = |h, m| Utc.with_ymd_and_hms(2026, 1, 1, h, m, 0).unwrap();
        assert!(day.contains(at(8, 0)) && day.contains(at(18, 29)) && !day.contains(at(18, 30)));
        assert!(night.contains(at(23, 0)) && night.contains(at(5, 59)) && !night.contains(at(12, 0)));
        assert!(TimeWindow::parse("25:00-01:00").is_none() && TimeWindow::parse("0800").is_none());
    }
}
