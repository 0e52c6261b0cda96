//! The plugin's handle on the host's callbacks for one instance.

use crate::abi::HostVtable;

/// The host's callbacks and context for one instance. Calls `release` when dropped, so the host context lives
/// exactly as long as the plugin can still call back (including background tasks that outlive `destroy`).
pub(crate) struct HostLink {
    vt: HostVtable,
}

// SAFETY: the ABI contract (`HostVtable` docs) lets the plugin call the callbacks from any thread, concurrently;
// the host's context is thread-safe. The raw pointer is never dereferenced on this side.
unsafe impl Send for HostLink {}
// SAFETY: as above; `&HostLink` only gives access to the same thread-safe callbacks.
unsafe impl Sync for HostLink {}

impl HostLink {
    /// Take ownership of the host's reference to its context.
    pub(crate) fn new(vt: HostVtable) -> Self {
        HostLink { vt }
    }

    /// Send an event (JSON `EventKind`); false when the host has stopped listening. May block.
    pub(crate) fn event(&self, json: &[u8]) -> bool {
        (self.vt.on_event)(self.vt.ctx, json.as_ptr(), json.len()) == 1
    }

    /// Complete request `id` with a JSON reply.
    pub(crate) fn complete(&self, id: u64, json: &[u8]) {
        (self.vt.on_delivery_result)(self.vt.ctx, id, json.as_ptr(), json.len());
    }

    /// Send a JSON log record.
    pub(crate) fn log(&self, level: u32, json: &[u8]) {
        (self.vt.log)(self.vt.ctx, level, json.as_ptr(), json.len());
    }
}

impl Drop for HostLink {
    fn drop(&mut self) {
        (self.vt.release)(self.vt.ctx);
    }
}
