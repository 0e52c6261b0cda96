//! A readable, timestamped log of what the demo does and sees.

use std::time::Instant;

/// Prints one line per step: time since the demo started, the scenario, what happened.
#[derive(Debug, Clone)]
pub struct Timeline {
    started: Instant,
}

impl Timeline {
    /// A timeline starting now.
    pub fn new() -> Self {
        Timeline { started: Instant::now() }
    }

    /// One step.
    pub fn step(&self, scenario: &str, what: impl AsRef<str>) {
        println!("[{:>7.2}s] {scenario:<8} │ {}", self.started.elapsed().as_secs_f64(), what.as_ref());
    }

    /// A detail line under a step (an endpoint, a payload).
    pub fn detail(&self, what: impl AsRef<str>) {
        for line in what.as_ref().lines() {
            println!("{:>10} {:<8} │   {line}", "", "");
        }
    }
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::new()
    }
}
