//! Bounded listings: the `limit` parameter, cursors, and the headers that hand out the next cursor.
//!
//! A listing answers at most `limit` items (1 to [`MAX_PAGE`], default [`DEFAULT_LIMIT`]). When a page is full there
//! may be more: the answer carries the cursor of the next page in `X-Next-Cursor` and as a `Link: <…>; rel="next"`
//! header (RFC 8288) with the same query and that cursor. The body stays a plain JSON array.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use herald_core::store::MAX_PAGE;
use serde::Serialize;

use super::problem::Problem;

/// Items per page when the query names no `limit`.
pub const DEFAULT_LIMIT: usize = 100;

/// The header carrying the next page's cursor.
pub const NEXT_CURSOR: &str = "x-next-cursor";

/// The page size a `limit` parameter asks for: a 400 naming `limit` unless it is 1 to [`MAX_PAGE`].
pub fn limit(requested: Option<usize>) -> Result<usize, Problem> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(Problem::field(
            StatusCode::BAD_REQUEST,
            "limit",
            format!("{n} is out of range; ask for 1 to {MAX_PAGE} items and follow the next-page cursor for more"),
        )),
    }
}

/// The opaque session cursor of `(updated_at, conversation_id)`: URL-safe base64 of `<rfc3339>|<id>`.
pub fn encode_session_cursor(updated_at: DateTime<Utc>, conversation_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{conversation_id}", updated_at.to_rfc3339()))
}

/// Decode a cursor made by [`encode_session_cursor`]; a 400 naming `field` if it is not one.
pub fn decode_session_cursor(cursor: &str, field: &str) -> Result<(DateTime<Utc>, String), Problem> {
    let bad =
        || Problem::field(StatusCode::BAD_REQUEST, field, "not a cursor this API handed out; start again without it");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    let at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?.with_timezone(&Utc);
    Ok((at, id.to_string()))
}

/// A JSON array answer with, when `next` is set, the next-page headers: `X-Next-Cursor` and a `Link` to `path`
/// with the request's query (`raw_query`) where `param` is replaced by the cursor.
pub fn page<T: Serialize>(
    items: Vec<T>,
    path: &str,
    raw_query: Option<&str>,
    param: &str,
    next: Option<String>,
) -> Response {
    let mut response = Json(items).into_response();
    if let Some(cursor) = next {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(raw_query.unwrap_or("").as_bytes()) {
            if k != param {
                query.append_pair(&k, &v);
            }
        }
        query.append_pair(param, &cursor);
        let link = format!("<{path}?{}>; rel=\"next\"", query.finish());
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&cursor) {
            headers.insert(NEXT_CURSOR, v);
        }
        if let Ok(v) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_one_to_max_page_are_refused() {
        assert_eq!(limit(None).ok(), Some(DEFAULT_LIMIT));
        assert_eq!(limit(Some(MAX_PAGE)).ok(), Some(MAX_PAGE));
        for bad in [0, MAX_PAGE + 1, usize::MAX] {
            let p = limit(Some(bad)).expect_err("refused");
            assert_eq!(p.status, 400);
            assert_eq!(p.field.as_deref(), Some("limit"));
        }
    }

    #[test]
    fn session_cursor_round_trips_and_rejects_garbage() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z").map(|d| d.with_timezone(&Utc));
        let at = at.expect("date");
        let c = encode_session_cursor(at, "conv|with|bars");
        assert_eq!(decode_session_cursor(&c, "after").ok(), Some((at, "conv|with|bars".to_string())));
        for garbage in ["", "!!!", "bm90LWEtY3Vyc29y"] {
            let p = decode_session_cursor(garbage, "after").expect_err("refused");
            assert_eq!(p.field.as_deref(), Some("after"));
        }
    }
}
