//! Fault injection through the typed control: count-based faults for the next N requests and staged faults
//! scoped to a method and path pattern (latency before or after the request took effect, a connection dropped
//! after it took effect, 429 storms of a given length). See [`crate::faults`] for how they combine.

use std::time::Duration;

use crate::control::Control;
use crate::error::EmulatorError;
use crate::faults::{FaultScope, FaultSpec, StagedFault};

impl Control {
    /// The next `n` API requests answer 429 with `Retry-After: retry_after`.
    pub fn inject_429(&self, n: u32, retry_after: u64) {
        self.state.faults.arm_429(n, retry_after);
    }

    /// The next `n` API requests answer `status`.
    pub fn inject_errors(&self, n: u32, status: u16) {
        self.state.faults.arm_errors(n, status);
    }

    /// The next `n` API requests are delayed by `ms` before they take effect.
    pub fn inject_latency(&self, n: u32, ms: u64) {
        self.state.faults.arm_latency(n, ms);
    }

    /// Stages a scoped, counted or timed fault (see [`FaultSpec`]); returns its id.
    pub fn stage_fault(&self, spec: FaultSpec) -> Result<u64, EmulatorError> {
        if let Some(problem) = spec.problem() {
            return Err(EmulatorError::Invalid(problem));
        }
        Ok(self.state.faults.stage(spec))
    }

    /// Delays the answers of requests matching `scope` by `ms` after they took effect (`count` of them, or all).
    pub fn inject_latency_after(&self, scope: FaultScope, ms: u64, count: Option<u32>) -> Result<u64, EmulatorError> {
        self.stage_fault(FaultSpec { count, scope, ..FaultSpec::latency_after(ms) })
    }

    /// Drops the connections of requests matching `scope` after they took effect (`count` of them, or all).
    pub fn inject_drop_after(&self, scope: FaultScope, count: Option<u32>) -> Result<u64, EmulatorError> {
        self.stage_fault(FaultSpec { count, scope, ..FaultSpec::drop_after() })
    }

    /// A 429 storm: every request matching `scope` answers 429 with `Retry-After: retry_after` for `duration`.
    pub fn inject_429_storm(
        &self,
        scope: FaultScope,
        duration: Duration,
        retry_after: u64,
    ) -> Result<u64, EmulatorError> {
        self.stage_fault(FaultSpec { scope, ..FaultSpec::too_many_requests(retry_after).lasting(duration) })
    }

    /// Every staged fault (also ended ones) with its hits.
    pub fn staged_faults(&self) -> Vec<StagedFault> {
        self.state.faults.staged()
    }

    /// One staged fault.
    pub fn staged_fault(&self, id: u64) -> Option<StagedFault> {
        self.state.faults.staged().into_iter().find(|f| f.id == id)
    }

    /// Removes a staged fault.
    pub fn remove_fault(&self, id: u64) -> Result<(), EmulatorError> {
        if self.state.faults.remove(id) {
            Ok(())
        } else {
            Err(super::nf("staged fault"))
        }
    }

    /// Disarms all faults (count-based and staged).
    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }
}
