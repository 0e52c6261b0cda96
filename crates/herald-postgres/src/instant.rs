//! Instants as two columns, so ordering and comparisons are exact to the nanosecond.
//!
//! PostgreSQL's `timestamptz` keeps microseconds; herald's instants (chrono) carry nanoseconds, and the
//! reference semantics compare them exactly (activity order, `since`, cursors, retention). Each instant is stored
//! as the `timestamptz` floored to the microsecond (readable by operators) plus the remaining nanoseconds
//! (`0..=999`, a `smallint`); comparisons use the pair, in that order.

use chrono::{DateTime, TimeDelta, Utc};

/// An instant split into the microsecond floor and the nanoseconds below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split {
    /// The instant floored to a whole microsecond (transmitted to PostgreSQL without rounding).
    pub(crate) micros: DateTime<Utc>,
    /// Nanoseconds below the microsecond, 0 to 999.
    pub(crate) nanos: i16,
}

/// Split `at` into its microsecond floor and the nanoseconds below it.
pub(crate) fn split(at: DateTime<Utc>) -> Split {
    // `timestamp_subsec_nanos` is never negative (it counts from the floor second), so this floors, also before 1970.
    let nanos = at.timestamp_subsec_nanos() % 1000;
    Split { micros: at - TimeDelta::nanoseconds(i64::from(nanos)), nanos: nanos as i16 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_floor_and_keep_order() {
        let base = DateTime::<Utc>::from_timestamp(-1, 999_999_999).unwrap_or_default();
        let s = split(base);
        assert_eq!(s.nanos, 999);
        assert_eq!(s.micros + TimeDelta::nanoseconds(999), base);
        assert_eq!(s.micros.timestamp_subsec_nanos() % 1000, 0);
        let times = [-2_000_000_001i64, -1, 0, 1, 999, 1000, 1_767_225_600_000_000_123];
        let pairs: Vec<(DateTime<Utc>, i16)> = times
            .iter()
            .map(|n| split(DateTime::<Utc>::from_timestamp_nanos(*n)))
            .map(|s| (s.micros, s.nanos))
            .collect();
        assert!(pairs.windows(2).all(|w| w[0] < w[1]), "{pairs:?}");
    }
}
