//! Conversations, participants, communications and the transcript.
//!
//! One model serves messaging and legacy chat: the media decides whether communications are
//! rendered as `messages[]` or `chats[]`.

use chrono::{DateTime, Utc};

use crate::state::new_id;

/// The media of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// Messaging (web messaging, SMS, open, WhatsApp).
    Message,
    /// Legacy web chat.
    Chat,
}

/// Participant / communication state (lowercase platform spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Offered to an agent.
    Alerting,
    /// Connected.
    Connected,
    /// Disconnected.
    Disconnected,
}

impl State {
    /// Lowercase spelling (`connected`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Alerting => "alerting",
            State::Connected => "connected",
            State::Disconnected => "disconnected",
        }
    }
}

/// One communication (a leg) of a participant.
#[derive(Debug, Clone)]
pub struct Communication {
    /// Communication id.
    pub id: String,
    /// State.
    pub state: State,
    /// State at creation.
    pub initial_state: State,
    /// Created.
    pub start: DateTime<Utc>,
    /// Connected.
    pub connected: Option<DateTime<Utc>>,
    /// Disconnected.
    pub end: Option<DateTime<Utc>>,
    /// Why it ended.
    pub disconnect_type: Option<String>,
}

impl Communication {
    /// A new communication.
    pub fn new(state: State, now: DateTime<Utc>) -> Self {
        Communication {
            id: new_id(),
            state,
            initial_state: state,
            start: now,
            connected: (state == State::Connected).then_some(now),
            end: None,
            disconnect_type: None,
        }
    }
}

/// A participant.
#[derive(Debug, Clone)]
pub struct Participant {
    /// Participant id.
    pub id: String,
    /// `customer`, `agent`, `acd`, `api`, ...
    pub purpose: String,
    /// Display name.
    pub name: Option<String>,
    /// User id (agents).
    pub user_id: Option<String>,
    /// Queue id (acd, agents).
    pub queue_id: Option<String>,
    /// External contact (customers).
    pub external_contact_id: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: &'static str,
    /// Address (e.g. phone number for SMS, deployment for web messaging).
    pub address: Option<String>,
    /// State.
    pub state: State,
    /// State at creation.
    pub initial_state: State,
    /// Joined.
    pub start: DateTime<Utc>,
    /// Connected.
    pub connected: Option<DateTime<Utc>>,
    /// Left.
    pub end: Option<DateTime<Utc>>,
    /// Why it left.
    pub disconnect_type: Option<String>,
    /// Communications, latest last.
    pub comms: Vec<Communication>,
}

impl Participant {
    /// A participant with one communication in `state`.
    pub fn new(purpose: &str, state: State, now: DateTime<Utc>) -> Self {
        Participant {
            id: new_id(),
            purpose: purpose.to_string(),
            name: None,
            user_id: None,
            queue_id: None,
            external_contact_id: None,
            direction: "inbound",
            address: None,
            state,
            initial_state: state,
            start: now,
            connected: (state == State::Connected).then_some(now),
            end: None,
            disconnect_type: None,
            comms: vec![Communication::new(state, now)],
        }
    }

    /// The latest communication.
    pub fn current_comm(&self) -> Option<&Communication> {
        self.comms.last()
    }

    /// Connects the participant and its latest communication.
    pub fn connect(&mut self, now: DateTime<Utc>) {
        self.state = State::Connected;
        self.connected.get_or_insert(now);
        if let Some(c) = self.comms.last_mut() {
            c.state = State::Connected;
            c.connected.get_or_insert(now);
        }
    }

    /// Disconnects the participant and all its communications.
    pub fn disconnect(&mut self, now: DateTime<Utc>, disconnect_type: &str) {
        if self.state == State::Disconnected {
            return;
        }
        self.state = State::Disconnected;
        self.end = Some(now);
        self.disconnect_type = Some(disconnect_type.to_string());
        for c in &mut self.comms {
            if c.state != State::Disconnected {
                c.state = State::Disconnected;
                c.end = Some(now);
                c.disconnect_type = Some(disconnect_type.to_string());
            }
        }
    }

    /// Re-opens a disconnected participant with a new communication (threading window).
    pub fn reopen(&mut self, now: DateTime<Utc>) {
        self.state = State::Connected;
        self.end = None;
        self.disconnect_type = None;
        self.comms.push(Communication::new(State::Connected, now));
    }
}

/// Who sent a transcript entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// The customer / guest.
    Customer,
    /// An agent (user id).
    Agent(String),
    /// The API (agentless).
    Api,
    /// The system (events such as disconnect).
    System,
}

impl Sender {
    /// Short label for transcripts.
    pub fn label(&self) -> String {
        match self {
            Sender::Customer => "customer".into(),
            Sender::Agent(id) => format!("agent:{id}"),
            Sender::Api => "api".into(),
            Sender::System => "system".into(),
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone)]
pub struct TranscriptEntry {
    /// Message id.
    pub id: String,
    /// Inbound (from the customer) or outbound.
    pub inbound: bool,
    /// Sender.
    pub sender: Sender,
    /// `originatingEntity` shown to the guest (`Human` or `Bot`).
    pub originating: &'static str,
    /// The participant that sent it.
    pub participant_id: String,
    /// The communication it was sent on.
    pub communication_id: String,
    /// Text.
    pub text: String,
    /// Time.
    pub time: DateTime<Utc>,
    /// `normalizedMessage.type` (Text, Event).
    pub kind: &'static str,
    /// Legacy chat `bodyType` (standard, notice, member-join, ...).
    pub body_type: &'static str,
}

/// A legacy guest chat's member data.
#[derive(Debug, Clone)]
pub struct ChatGuest {
    /// Guest member id (= the customer's chat communication id).
    pub member_id: String,
    /// The event stream channel id.
    pub channel_id: String,
    /// Display name.
    pub display_name: String,
    /// Whether the event stream was attached (routing starts then).
    pub attached: bool,
}

/// A conversation.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// Conversation id.
    pub id: String,
    /// Media.
    pub media: Media,
    /// Messenger type (`webmessaging`, `sms`, `open`, `whatsapp`); `chat` for chats.
    pub messenger_type: String,
    /// Web messaging deployment (or chat deployment).
    pub deployment_id: Option<String>,
    /// Queue the conversation was routed to.
    pub queue_id: Option<String>,
    /// Started.
    pub start: DateTime<Utc>,
    /// Ended (all participants disconnected).
    pub end: Option<DateTime<Utc>>,
    /// Participants in join order.
    pub participants: Vec<Participant>,
    /// Messages in order.
    pub transcript: Vec<TranscriptEntry>,
    /// External contact of the customer.
    pub external_contact_id: Option<String>,
    /// Guest token of the web messaging session.
    pub guest_token: Option<String>,
    /// Legacy guest chat data.
    pub chat_guest: Option<ChatGuest>,
    /// Whether the conversation waits in a queue.
    pub queued: bool,
}

impl Conversation {
    /// A new, empty conversation.
    pub fn new(media: Media, messenger_type: &str, now: DateTime<Utc>) -> Self {
        Conversation {
            id: new_id(),
            media,
            messenger_type: messenger_type.to_string(),
            deployment_id: None,
            queue_id: None,
            start: now,
            end: None,
            participants: Vec::new(),
            transcript: Vec::new(),
            external_contact_id: None,
            guest_token: None,
            chat_guest: None,
            queued: false,
        }
    }

    /// Whether the conversation has ended.
    pub fn ended(&self) -> bool {
        self.end.is_some()
    }

    /// The customer participant.
    pub fn customer(&self) -> Option<&Participant> {
        self.participants.iter().find(|p| p.purpose == "customer")
    }

    /// The customer participant, mutably.
    pub fn customer_mut(&mut self) -> Option<&mut Participant> {
        self.participants.iter_mut().find(|p| p.purpose == "customer")
    }

    /// A participant by id.
    pub fn participant_mut(&mut self, id: &str) -> Option<&mut Participant> {
        self.participants.iter_mut().find(|p| p.id == id)
    }

    /// The participant owning a communication id.
    pub fn by_communication(&self, comm_id: &str) -> Option<(&Participant, &Communication)> {
        self.participants.iter().find_map(|p| p.comms.iter().find(|c| c.id == comm_id).map(|c| (p, c)))
    }

    /// The connected agent participant, if any.
    pub fn connected_agent(&self) -> Option<&Participant> {
        self.participants.iter().rev().find(|p| p.purpose == "agent" && p.state == State::Connected)
    }

    /// User ids of agents that ever joined.
    pub fn agent_ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self.participants.iter().filter_map(|p| p.user_id.clone()).collect();
        v.dedup();
        v
    }

    /// Agents currently alerting or connected.
    pub fn live_agent_ids(&self) -> Vec<String> {
        self.participants
            .iter()
            .filter(|p| p.purpose == "agent" && p.state != State::Disconnected)
            .filter_map(|p| p.user_id.clone())
            .collect()
    }

    /// Ends the conversation: every participant disconnects.
    pub fn end_now(&mut self, now: DateTime<Utc>, disconnect_type: &str) {
        for p in &mut self.participants {
            p.disconnect(now, disconnect_type);
        }
        self.queued = false;
        self.end.get_or_insert(now);
    }
}
