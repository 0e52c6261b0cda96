//! Core contracts of herald.
//!
//! - [`channel`]: the [`MessagingChannel`](channel::MessagingChannel) trait every adapter implements, and its
//!   optional capabilities;
//! - [`error`]: typed, classified errors ([`ChannelError`](error::ChannelError), [`StoreError`](error::StoreError));
//! - [`session`], [`target`], [`notification`], [`event`]: the data that flows through the bridge;
//! - [`store`]: the session store and the outbox (sled and in-memory backends, one conformance suite);
//! - [`registry`]: adapter kinds by name;
//! - [`retry`]: the one `Retry-After` parser and backoff, with clamped time arithmetic;
//! - [`template`]: `{{placeholder}}` rendering shared by rules and canned responses.

pub mod channel;
pub mod error;
pub mod event;
pub mod notification;
pub mod registry;
pub mod retry;
pub mod session;
pub mod store;
pub mod target;
pub mod tasks;
pub mod template;

pub use channel::{
    ChannelContext, Delivery, DeliveryGuarantee, DeliveryMode, Health, HealthStatus, HttpInbound, MessagingChannel,
    PresenceSync,
};
pub use error::{ChannelError, ConfigProblem, ErrorClass, StoreError};
pub use event::{Event, EventKind, EventSink, PresenceSource, Sender};
pub use notification::{
    ClosedPolicy, Content, Notification, NotificationStatus, OutboxRecord, Receipt, StatusChange, Transition,
};
pub use registry::{AdapterFactory, IntegrationSpec, Registry};
pub use session::{Communication, CustomerIds, MediaKind, Participant, Session, SessionState};
pub use store::{CasOutcome, Enqueued, Outbox, OutboxFilter, SessionQuery, SessionStore, StateEntry, StateStore};
pub use target::Target;
