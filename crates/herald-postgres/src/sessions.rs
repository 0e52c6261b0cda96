//! [`SessionStore`] for [`PostgresStore`]: one row per conversation, the session's JSON plus indexed columns.
//!
//! An upsert is one `INSERT … ON CONFLICT DO UPDATE`: the row and every column its indexes read change together,
//! so a query never sees a stale customer, agent or activity entry. Customer and agent ids are arrays with GIN
//! indexes ("any of the customer's ids"); activity order is a b-tree walked backwards from the cursor.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_core::session::{Session, SessionState};
use herald_core::store::{page_size, SessionQuery, SessionStore};
use herald_core::StoreError;
use tokio_postgres::types::ToSql;

use crate::db::{failed, from_json, limit_param, storable, to_json};
use crate::instant::{split, Split};
use crate::PostgresStore;

/// Closed sessions removed per statement.
const PURGE_CHUNK: i64 = 500;

/// The `state` column's value.
fn state_name(state: SessionState) -> &'static str {
    match state {
        SessionState::Queued => "queued",
        SessionState::Connected => "connected",
        SessionState::Closed => "closed",
    }
}

/// For a closed session, the instant retention counts from: when it closed, or its last activity if unknown.
fn retain_from(session: &Session) -> Option<DateTime<Utc>> {
    (session.state == SessionState::Closed).then(|| session.closed_at.unwrap_or(session.updated_at))
}

/// Add a parameter; returns its placeholder (`$n`).
fn arg<'a>(params: &mut Vec<&'a (dyn ToSql + Sync)>, value: &'a (dyn ToSql + Sync)) -> String {
    params.push(value);
    format!("${}", params.len())
}

/// Whether a query value can match anything stored (PostgreSQL text never holds a NUL character).
fn searchable(value: Option<&String>) -> bool {
    value.is_none_or(|v| !v.contains('\0'))
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn upsert(&self, session: Session) -> Result<(), StoreError> {
        let conv = session.conversation_id.as_str();
        storable("the conversation id", conv)?;
        storable("the integration name", &session.integration)?;
        let customers: Vec<&str> = session.customer.keys();
        let agents: Vec<&str> = session.agent_ids.iter().map(String::as_str).collect();
        for id in customers.iter().chain(agents.iter()) {
            storable("a customer or agent id", id)?;
        }
        let updated = split(session.updated_at);
        let retain = retain_from(&session).map(split);
        let retain_at = retain.map(|s| s.micros);
        let retain_ns = retain.map(|s| s.nanos);
        let json = to_json(&session, || format!("sessions/{conv}"))?;
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO herald_sessions (conversation_id, integration, state, updated_at, updated_ns, retain_from,
                    retain_from_ns, customer_ids, agent_ids, session)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::json)
                 ON CONFLICT (conversation_id) DO UPDATE SET integration = EXCLUDED.integration,
                    state = EXCLUDED.state, updated_at = EXCLUDED.updated_at, updated_ns = EXCLUDED.updated_ns,
                    retain_from = EXCLUDED.retain_from, retain_from_ns = EXCLUDED.retain_from_ns,
                    customer_ids = EXCLUDED.customer_ids, agent_ids = EXCLUDED.agent_ids, session = EXCLUDED.session",
            )
            .await
            .map_err(failed("prepare a session upsert"))?;
        client
            .execute(
                &statement,
                &[
                    &conv,
                    &session.integration,
                    &state_name(session.state),
                    &updated.micros,
                    &updated.nanos,
                    &retain_at,
                    &retain_ns,
                    &customers,
                    &agents,
                    &json,
                ],
            )
            .await
            .map_err(failed("upsert a session"))?;
        Ok(())
    }

    async fn get(&self, conversation_id: &str) -> Result<Option<Session>, StoreError> {
        if conversation_id.contains('\0') {
            return Ok(None);
        }
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT session::text FROM herald_sessions WHERE conversation_id = $1")
            .await
            .map_err(failed("prepare a session get"))?;
        let row = client.query_opt(&statement, &[&conversation_id]).await.map_err(failed("get a session"))?;
        row.map(|r| from_json(r.get(0), || format!("herald_sessions/{conversation_id}"))).transpose()
    }

    async fn query(&self, query: &SessionQuery) -> Result<Vec<Session>, StoreError> {
        let cursor_conv = query.after.as_ref().map(|(_, c)| c);
        let texts = [query.integration.as_ref(), query.customer.as_ref(), query.agent.as_ref(), cursor_conv];
        if !texts.into_iter().all(searchable) {
            return Ok(Vec::new());
        }
        let limit = limit_param(page_size(query.limit));
        let customer = query.customer.as_ref().map(|c| vec![c.as_str()]);
        let agent = query.agent.as_ref().map(|a| vec![a.as_str()]);
        let since: Option<Split> = query.since.map(split);
        let after: Option<(Split, &str)> = query.after.as_ref().map(|(at, conv)| (split(*at), conv.as_str()));
        let state = query.state.map(state_name);
        // One statement text per combination of filters, so each is planned for its own index.
        let mut sql = String::from("SELECT session::text FROM herald_sessions WHERE true");
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&limit];
        if let Some(integration) = &query.integration {
            sql += &format!(" AND integration = {}", arg(&mut params, integration));
        }
        if let Some(customer) = &customer {
            sql += &format!(" AND customer_ids @> {}::text[]", arg(&mut params, customer));
        }
        if let Some(agent) = &agent {
            sql += &format!(" AND agent_ids @> {}::text[]", arg(&mut params, agent));
        }
        if let Some(since) = &since {
            let (at, ns) = (arg(&mut params, &since.micros), arg(&mut params, &since.nanos));
            sql += &format!(" AND (updated_at, updated_ns) >= ({at}, {ns})");
        }
        if let Some(state) = &state {
            sql += &format!(" AND state = {}", arg(&mut params, state));
        }
        if let Some((at, conv)) = &after {
            let (t, ns, c) = (arg(&mut params, &at.micros), arg(&mut params, &at.nanos), arg(&mut params, conv));
            sql += &format!(" AND (updated_at, updated_ns, conversation_id) < ({t}, {ns}, {c})");
        }
        sql += " ORDER BY updated_at DESC, updated_ns DESC, conversation_id DESC LIMIT $1";
        let client = self.client().await?;
        let statement = client.prepare_cached(&sql).await.map_err(failed("prepare a session query"))?;
        let rows = client.query(&statement, &params).await.map_err(failed("query sessions"))?;
        rows.iter().map(|r| from_json(r.get(0), || "herald_sessions (query)".to_string())).collect()
    }

    async fn purge_closed(&self, closed_before: DateTime<Utc>) -> Result<usize, StoreError> {
        let cutoff = split(closed_before);
        let client = self.client().await?;
        // `FOR UPDATE` re-checks the condition on a session reopened meanwhile, which then stays.
        let statement = client
            .prepare_cached(
                "WITH doomed AS (
                    SELECT conversation_id FROM herald_sessions
                    WHERE state = 'closed' AND (retain_from, retain_from_ns) < ($1, $2)
                    ORDER BY retain_from, retain_from_ns LIMIT $3
                    FOR UPDATE SKIP LOCKED)
                 DELETE FROM herald_sessions s USING doomed WHERE s.conversation_id = doomed.conversation_id",
            )
            .await
            .map_err(failed("prepare a session purge"))?;
        let mut removed = 0usize;
        loop {
            let n = client
                .execute(&statement, &[&cutoff.micros, &cutoff.nanos, &PURGE_CHUNK])
                .await
                .map_err(failed("purge closed sessions"))?;
            removed += usize::try_from(n).unwrap_or(usize::MAX);
            if n < PURGE_CHUNK as u64 {
                return Ok(removed);
            }
        }
    }

    async fn len(&self) -> Result<usize, StoreError> {
        // An index-only count: linear in the number of sessions (tens of milliseconds per million), bounded by the
        // statement timeout; retention keeps the table to the sessions of the last days.
        let client = self.client().await?;
        let row =
            client.query_one("SELECT count(*) FROM herald_sessions", &[]).await.map_err(failed("count sessions"))?;
        Ok(usize::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }
}
