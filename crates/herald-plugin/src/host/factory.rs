//! [`PluginFactory`]: a loaded plugin library registered as an adapter kind.

use std::ffi::c_void;
use std::sync::Arc;

use herald_core::{AdapterFactory, ConfigProblem, IntegrationSpec, MessagingChannel};

use super::channel::{Handle, Instance, PluginChannel};
use super::context::HostContext;
use super::inbound::check_route;
use super::library::{take_buf, PluginLibrary};
use super::PluginOptions;
use crate::wire::{CreateRequest, InstanceInfo, Reply, WireError};

/// Builds integrations of one plugin kind (e.g. `plugin:open-messaging`) from a loaded library.
pub struct PluginFactory {
    library: Arc<PluginLibrary>,
    kind: String,
    description: String,
    options: PluginOptions,
}

impl PluginFactory {
    /// A factory registering `library` under the registry kind `kind`.
    pub fn new(library: Arc<PluginLibrary>, kind: String) -> Self {
        let info = library.info();
        let description = format!(
            "{} (plugin `{}` {}, ABI {}, {}, {})",
            info.description,
            info.kind,
            info.version,
            info.abi_version,
            info.capabilities(),
            info.path.display()
        );
        PluginFactory { library, kind, description, options: PluginOptions::default() }
    }

    /// Use these timeouts for the integrations it builds.
    pub fn with_options(mut self, options: PluginOptions) -> Self {
        self.options = options;
        self
    }

    /// The library.
    pub fn library(&self) -> &Arc<PluginLibrary> {
        &self.library
    }

    fn plugin_label(&self) -> String {
        format!("{} ({})", self.library.info().kind, self.library.path().display())
    }

    /// Create an instance through the plugin's `create` export.
    pub fn create(&self, spec: &IntegrationSpec) -> Result<PluginChannel, Vec<ConfigProblem>> {
        let at = |p: &str| {
            if p.is_empty() {
                format!("{}.settings", spec.path)
            } else {
                format!("{}.settings.{p}", spec.path)
            }
        };
        let label = self.plugin_label();
        let settings = serde_json::to_value(&spec.settings)
            .map_err(|e| vec![ConfigProblem::new(at(""), format!("cannot pass the settings to the plugin: {e}"))])?;
        let request = serde_json::to_vec(&CreateRequest { name: spec.name.clone(), settings })
            .map_err(|e| vec![ConfigProblem::new(at(""), format!("cannot encode the settings: {e}"))])?;
        let context = HostContext::new(label.clone(), spec.name.clone());
        let vtable = context.vtable();
        let mut handle: *mut c_void = std::ptr::null_mut();
        // SAFETY: the request bytes and the vtable are valid for the call, `handle` is writable; the plugin takes
        // ownership of the vtable's context reference and releases it. The returned buffer is freed by the plugin.
        let bytes = unsafe {
            let buf = (self.library.api.create)(request.as_ptr(), request.len(), &vtable, &mut handle);
            take_buf(buf, self.library.api.free_buf)
        };
        let reply: Reply<Option<InstanceInfo>, WireError> = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                return Err(vec![ConfigProblem::new(
                    &spec.path,
                    format!("plugin `{label}` returned malformed JSON from create ({e}); the plugin is broken"),
                )])
            }
        };
        match reply {
            Reply::Ok(info) if !handle.is_null() => {
                // Owning the handle from here on: an early return below destroys it.
                let instance = Instance::new(self.library.clone(), Handle(handle), context);
                let routes = info.unwrap_or_default().routes;
                let bad: Vec<ConfigProblem> = routes
                    .iter()
                    .filter_map(|r| check_route(r).err())
                    .map(|m| ConfigProblem::new(&spec.path, format!("plugin `{label}` declared an unusable {m}")))
                    .collect();
                if !bad.is_empty() {
                    return Err(bad);
                }
                Ok(PluginChannel::new(instance, self.kind.clone(), spec.name.clone(), self.options, routes))
            }
            Reply::Ok(_) => Err(vec![ConfigProblem::new(
                &spec.path,
                format!("plugin `{label}` reported success from create but returned no instance; the plugin is broken"),
            )]),
            Reply::Error(WireError::Config { problems }) => {
                Err(problems.into_iter().map(|p| ConfigProblem::new(at(&p.path), p.message)).collect())
            }
            Reply::Error(other) => Err(vec![ConfigProblem::new(
                &spec.path,
                format!("plugin `{label}` refused the integration: {}", other.into_channel_error()),
            )]),
        }
    }
}

impl AdapterFactory for PluginFactory {
    fn kind(&self) -> &str {
        &self.kind
    }

    fn description(&self) -> &str {
        &self.description
    }

    /// Creates a throwaway instance (plugins do no network in `create`) and destroys it.
    fn validate(&self, spec: &IntegrationSpec) -> Vec<ConfigProblem> {
        self.create(spec).err().unwrap_or_default()
    }

    fn build(&self, spec: &IntegrationSpec) -> Result<Arc<dyn MessagingChannel>, Vec<ConfigProblem>> {
        Ok(Arc::new(self.create(spec)?))
    }
}
