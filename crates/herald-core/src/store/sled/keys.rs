//! Byte encodings of the keys of the sled trees.
//!
//! Every index key is built so that sled's byte-wise key order is the order the queries need:
//!
//! - strings are length-prefixed (`u32` big-endian length, then the bytes), so one string is never a prefix of
//!   another's key range and no separator byte is reserved;
//! - instants are 12 bytes, seconds since the epoch with the sign bit flipped (big-endian) followed by the
//!   nanoseconds (big-endian), so byte order equals time order, also before 1970;
//! - sequence numbers are `u64` big-endian.

use chrono::{DateTime, Utc};

use crate::error::StoreError;

/// Length of an encoded instant.
pub(crate) const TS_LEN: usize = 12;

/// Encode an instant so that byte order is time order.
pub(crate) fn ts(at: DateTime<Utc>) -> [u8; TS_LEN] {
    let secs = (at.timestamp() as u64) ^ (1u64 << 63);
    let mut out = [0u8; TS_LEN];
    out[..8].copy_from_slice(&secs.to_be_bytes());
    out[8..].copy_from_slice(&at.timestamp_subsec_nanos().to_be_bytes());
    out
}

/// Append a length-prefixed string.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    // Ids longer than 4 GiB cannot reach the store (HTTP bodies are limited far below that); saturate anyway.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A length-prefixed string as a key prefix.
pub(crate) fn str_prefix(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + s.len());
    push_str(&mut out, s);
    out
}

/// `prefix ++ ts(at) ++ suffix`: the shape of every time-ordered index key.
pub(crate) fn timed(prefix: &[u8], at: DateTime<Utc>, suffix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + TS_LEN + suffix.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&ts(at));
    out.extend_from_slice(suffix);
    out
}

/// The conversation id after a `prefix_len`-byte owner prefix (the keys of `sessions_of_customer` and
/// `sessions_of_agent`; `tree` names the tree in the error).
pub(crate) fn owned_conversation(key: &[u8], prefix_len: usize, tree: &str) -> Result<String, StoreError> {
    key.get(prefix_len..)
        .and_then(|rest| std::str::from_utf8(rest).ok())
        .map(str::to_string)
        .ok_or_else(|| StoreError::Corrupt { key: format!("{tree}/{key:?}"), reason: "no conversation id".into() })
}

/// Encode a sequence number.
pub(crate) fn seq(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Decode a sequence number stored under `what`.
pub(crate) fn decode_seq(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        key: what.to_string(),
        reason: format!("expected 8 bytes, found {}", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(arr))
}

/// The conversation id at the end of a session index key whose prefix is `prefix_len` bytes long.
pub(crate) fn trailing_conversation(
    key: &[u8],
    prefix_len: usize,
    tree: &str,
) -> Result<(String, [u8; TS_LEN]), StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt { key: format!("{tree}/{key:?}"), reason: reason.to_string() };
    if key.len() < prefix_len + TS_LEN {
        return Err(corrupt("index key shorter than its prefix and instant"));
    }
    let mut stamp = [0u8; TS_LEN];
    stamp.copy_from_slice(&key[prefix_len..prefix_len + TS_LEN]);
    let id = std::str::from_utf8(&key[prefix_len + TS_LEN..]).map_err(|_| corrupt("conversation id is not UTF-8"))?;
    Ok((id.to_string(), stamp))
}

/// Decode a notification id stored as 16 bytes.
pub(crate) fn decode_uuid(bytes: &[u8], what: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt { key: what.to_string(), reason: format!("not a notification id: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn instants_sort_bytewise_in_time_order() {
        let times = [
            Utc.timestamp_opt(-5, 10).single(),
            Utc.timestamp_opt(-5, 20).single(),
            Utc.timestamp_opt(0, 0).single(),
            Utc.timestamp_opt(1, 5).single(),
            Utc.timestamp_opt(1_700_000_000, 999_999_999).single(),
        ];
        let encoded: Vec<_> = times.iter().map(|t| ts(t.unwrap_or_default())).collect();
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(encoded, sorted);
    }

    #[test]
    fn length_prefix_separates_strings_that_share_a_start() {
        let a = str_prefix("ab");
        let b = str_prefix("abc");
        assert!(!b.starts_with(&a));
    }
}
