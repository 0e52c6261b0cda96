//! Guest scripts: what each headless guest says, how long it thinks, and when it waits for an answer.
//!
//! TOML (or JSON, by extension or content):
//!
//! ```toml
//! repeat = true            # run the steps again until the run ends (default: once, then stay connected)
//! [[steps]]
//! say = "Hello from guest {guest}, message {n}"
//! [[steps]]
//! wait = "answer"          # "answer" (an agent's Outbound text) or "echo" (the guest's own message echoed back)
//! timeout_ms = 30000       # how long to wait (default 30 s)
//! [[steps]]
//! think_ms = 1000
//! ```
//!
//! A bare JSON list of steps is accepted too. `{guest}` is the guest's number, `{n}` the message's number.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a `wait` step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitFor {
    /// The next Outbound text message (an agent's or bot's answer).
    Answer,
    /// The echo of the guest's last message (the platform accepted it).
    Echo,
}

/// One step, as written in the file: exactly one of `say`, `think_ms`, `wait`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Send this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    /// Pause this many milliseconds (frames keep being read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_ms: Option<u64>,
    /// Wait for the answer to (or the echo of) the last message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitFor>,
    /// Timeout of a `wait`, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// One validated step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send a text message (`{guest}` and `{n}` are replaced).
    Say(String),
    /// Pause.
    Think(Duration),
    /// Wait for an answer or the echo, at most this long.
    Wait(WaitFor, Duration),
}

/// A guest script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Whether to run the steps again until the run ends.
    pub repeat: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScript {
    #[serde(default)]
    repeat: bool,
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AnyScript {
    Full(RawScript),
    List(Vec<RawStep>),
}

/// Why a script is unusable.
#[derive(Debug, thiserror::Error)]
#[error("guest script: {0}")]
pub struct ScriptError(pub String);

const DEFAULT_WAIT: Duration = Duration::from_secs(30);

impl Default for Script {
    /// One message, then wait for its echo.
    fn default() -> Self {
        Script {
            steps: vec![Step::Say("Hello from headless guest {guest}".into()), Step::Wait(WaitFor::Echo, DEFAULT_WAIT)],
            repeat: false,
        }
    }
}

impl Script {
    /// Reads a script file (`.json` as JSON, anything else as TOML).
    pub fn from_file(path: &Path) -> Result<Script, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScriptError(format!("{}: {e}", path.display())))?;
        let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        Script::parse(&text, json)
    }

    /// Parses script text.
    pub fn parse(text: &str, json: bool) -> Result<Script, ScriptError> {
        let any: AnyScript = if json {
            serde_json::from_str(text).map_err(|e| ScriptError(e.to_string()))?
        } else {
            toml::from_str::<RawScript>(text).map(AnyScript::Full).map_err(|e| ScriptError(e.to_string()))?
        };
        let (repeat, raw) = match any {
            AnyScript::Full(s) => (s.repeat, s.steps),
            AnyScript::List(l) => (false, l),
        };
        let steps = raw
            .into_iter()
            .enumerate()
            .map(|(i, s)| match (s.say, s.think_ms, s.wait) {
                (Some(t), None, None) if !t.is_empty() => Ok(Step::Say(t)),
                (None, Some(ms), None) => Ok(Step::Think(Duration::from_millis(ms))),
                (None, None, Some(w)) => {
                    Ok(Step::Wait(w, s.timeout_ms.map(Duration::from_millis).unwrap_or(DEFAULT_WAIT)))
                }
                _ => Err(ScriptError(format!("steps[{i}] needs exactly one of say (non-empty), think_ms, wait"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if steps.is_empty() {
            return Err(ScriptError("no steps".into()));
        }
        if repeat && !steps.iter().any(|s| matches!(s, Step::Wait(..) | Step::Think(_))) {
            return Err(ScriptError("a repeating script needs a wait or think step, or it floods the session".into()));
        }
        Ok(Script { steps, repeat })
    }
}

/// Fills `{guest}` and `{n}` in a `say` text.
pub fn render(text: &str, guest: usize, n: u64) -> String {
    text.replace("{guest}", &guest.to_string()).replace("{n}", &n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_json_scripts() {
        let t = "repeat = true\n[[steps]]\nsay = \"hi\"\n[[steps]]\nwait = \"answer\"\ntimeout_ms = 500\n";
        let s = Script::parse(t, false).unwrap_or_default();
        assert!(s.repeat);
        assert_eq!(s.steps[1], Step::Wait(WaitFor::Answer, Duration::from_millis(500)));
        let j = r#"[{"say": "a"}, {"think_ms": 10}, {"wait": "echo"}]"#;
        assert_eq!(Script::parse(j, true).map(|s| s.steps.len()).unwrap_or_default(), 3);
        assert!(Script::parse(r#"[{"say": "a", "think_ms": 1}]"#, true).is_err());
        assert!(Script::parse("repeat = true\n[[steps]]\nsay = \"x\"\n", false).is_err());
        assert_eq!(render("g{guest} m{n}", 3, 7), "g3 m7");
    }
}
