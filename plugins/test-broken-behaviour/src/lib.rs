//! A test plugin built with the SDK whose behaviour is chosen by its settings: `mode = "ok"` (instant receipt;
//! also the benchmark's plugin), `"panic"` (panics in deliver), `"hang"` (never answers deliver), `"error"`
//! (a transient error), `"panic_create"` (panics while being created). With `event_on_start = true` it publishes
//! one `named` event when started.

use std::collections::BTreeMap;

use async_trait::async_trait;
use herald_plugin::core::{ChannelError, ConfigProblem, Delivery, EventKind, Health, Receipt};
use herald_plugin::sdk::{decode_settings, CreateContext, EventPublisher, Plugin, PluginAdapter};
use serde::Deserialize;

/// The plugin's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// What deliver does.
    pub mode: Mode,
    /// Publish an event when started.
    #[serde(default)]
    pub event_on_start: bool,
}

/// What deliver does.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Answer at once with a receipt.
    Ok,
    /// Panic.
    Panic,
    /// Never answer.
    Hang,
    /// A transient error.
    Error,
    /// Panic in create.
    PanicCreate,
}

/// The factory.
pub struct BehaviourPlugin;

/// The adapter.
pub struct Behaviour {
    settings: Settings,
}

impl Plugin for BehaviourPlugin {
    type Adapter = Behaviour;
    const KIND: &'static str = "test_behaviour";
    const DESCRIPTION: &'static str = "test plugin whose deliver succeeds, panics, hangs or fails, by settings";

    fn create(_ctx: CreateContext, settings: serde_json::Value) -> Result<Behaviour, Vec<ConfigProblem>> {
        let settings: Settings = decode_settings(settings)?;
        if settings.mode == Mode::PanicCreate {
            panic!("deliberate panic in create");
        }
        Ok(Behaviour { settings })
    }
}

#[async_trait]
impl PluginAdapter for Behaviour {
    async fn start(&self, events: EventPublisher) -> Result<(), ChannelError> {
        if self.settings.event_on_start {
            let attributes = BTreeMap::from([("source".to_string(), "test_behaviour".to_string())]);
            events.publish(EventKind::Named { name: "plugin_started".into(), attributes }).await;
        }
        Ok(())
    }

    async fn deliver(&self, delivery: Delivery) -> Result<Receipt, ChannelError> {
        match self.settings.mode {
            Mode::Ok | Mode::PanicCreate => Ok(Receipt {
                upstream_message_id: Some(format!("echo-{}", delivery.notification.delivery_key())),
                conversation_id: None,
                route: "test".into(),
                delivered_at: chrono::Utc::now(),
            }),
            Mode::Panic => panic!("deliberate panic in deliver"),
            Mode::Hang => std::future::pending().await,
            Mode::Error => Err(ChannelError::transient("deliberate transient error")),
        }
    }

    async fn health(&self) -> Health {
        Health::healthy()
    }

    async fn shutdown(&self) {
        tokio::task::yield_now().await;
    }
}

herald_plugin::export_plugin!(BehaviourPlugin);
