//! Discovery: the open conversations Genesys knows, found through analytics a page at a time.
//!
//! At start-up (the stream's first connection is a gap) and after every later gap, an adapter asks
//! `POST /api/v2/analytics/conversations/details/query` for the open conversations of each watched queue and
//! **pages through all of them** (100 per page, newest first), not just the first page. Each conversation that
//! neither the store nor the cache knows as open is fetched and published, so the store learns it; each page is
//! handled before the next is asked for, so memory stays bounded by one page. Every request spends the OAuth
//! client's rate budget like any other.
//!
//! Bounds and residual gaps:
//!
//! - at most [`MAX_PAGES`] pages per queue (50,000 conversations); a queue with more is logged and the rest is
//!   left to the stream and to on-demand look-ups (a delivery to an unknown conversation id fetches it);
//! - the query is ordered by start and filtered on "not ended": a conversation that ends while the pass runs
//!   shifts the later ones up by one, so one conversation per such end can be skipped in this pass. It is still
//!   known as soon as it changes (the stream is connected before discovery runs) or is addressed, and the next
//!   pass finds it.

use std::collections::HashSet;

use herald_core::ChannelError;

use super::ChannelState;
use crate::models::analytics::OpenConversationsQuery;

/// Conversations asked for per page (the analytics maximum).
pub const PAGE_SIZE: u32 = 100;

/// Pages asked for per queue and pass at most.
pub const MAX_PAGES: u32 = 500;

/// What one discovery pass over a queue found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Discovered {
    /// Pages asked for.
    pub pages: u32,
    /// Open conversations listed.
    pub open: usize,
    /// Of those, conversations herald did not know as open and fetched.
    pub fetched: usize,
}

impl ChannelState {
    /// Pages through the open conversations `query` (a queue's, of this adapter's media) lists, fetching and
    /// publishing every one not known as open (see the module docs).
    pub async fn discover(&self, query: OpenConversationsQuery) -> Result<Discovered, ChannelError> {
        let mut found = Discovered::default();
        // Ids seen in earlier pages of this pass (a page can repeat a few when new conversations shift the
        // listing); bounded by the pages asked for.
        let mut seen: HashSet<String> = HashSet::new();
        for page in 1..=MAX_PAGES {
            if self.cancel.is_cancelled() {
                break;
            }
            let body = query.clone().page_size(PAGE_SIZE).page(page).build();
            let answer = self.client.query_conversations(&body).await?.body;
            found.pages = page;
            let listed = answer.conversations.len();
            let mut unknown = Vec::new();
            for c in answer.conversations.into_iter().filter(|c| c.conversation_end.is_none()) {
                if !seen.insert(c.conversation_id.clone()) {
                    continue;
                }
                found.open += 1;
                let known_open = match self.known_session(&c.conversation_id).await {
                    Ok(s) => s.is_some_and(|s| s.is_open()),
                    Err(_) => false,
                };
                if !known_open {
                    unknown.push(c.conversation_id);
                }
            }
            found.fetched += unknown.len();
            self.refetch(unknown).await;
            let total = answer.total_hits.unwrap_or(0);
            if listed < PAGE_SIZE as usize || u64::from(page) * u64::from(PAGE_SIZE) >= total {
                return Ok(found);
            }
        }
        tracing::warn!(
            pages = MAX_PAGES,
            "discovery stopped after the page limit; the remaining open conversations are learned from the stream \
             and on demand"
        );
        Ok(found)
    }
}
