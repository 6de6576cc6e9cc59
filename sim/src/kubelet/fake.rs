//! [`ScriptedRuntime`]: the default container runtime, which runs no processes and reads a
//! container's behaviour from its command line.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use super::{
    ContainerId, ContainerRuntime, ExitSender, Outcome, PullError, StartError, StartRequest,
};

/// Commands that finish at once with exit code 0.
const FINITE: &[&str] = &[
    "true", "echo", "cp", "mkdir", "ls", "cat", "touch", "rm", "mv", "chmod", "chown", "tar",
    "date", "env", "printenv", "ln", "test", "[", "printf", "id", "whoami", "hostname", "sync",
];

/// A runtime that behaves as each container's command says:
/// - `exit N` / `sh -c "...; exit N"`: exits with N (after the script's `sleep`s);
/// - `sleep N`: exits 0 after N virtual seconds (`sleep infinity` never does);
/// - `true`, `false`, `echo`, `cp`, ...: exit at once (0, or 1 for `false`);
/// - no command (the image's entrypoint) or anything else: runs until stopped.
///
/// Pulls take one virtual second; images in the missing set fail to pull. Shell and `sleep`
/// processes ignore SIGTERM as PID 1 does, so they stop only at the end of the grace period;
/// other processes exit at once.
#[derive(Debug, Default)]
pub struct ScriptedRuntime {
    missing: Mutex<BTreeSet<String>>,
}

impl ScriptedRuntime {
    /// A runtime in which every image exists.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes pulls of `image` fail as if it did not exist in the registry.
    pub fn with_missing_image(self, image: &str) -> Self {
        self.missing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(image.to_string());
        self
    }
}

fn words(container: &Value) -> Vec<String> {
    ["command", "args"]
        .iter()
        .filter_map(|f| container.get(*f).and_then(Value::as_array))
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn base(cmd: &str) -> &str {
    cmd.rsplit('/').next().unwrap_or(cmd)
}

fn parse_secs(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1.0),
        'm' => (&s[..s.len() - 1], 60.0),
        'h' => (&s[..s.len() - 1], 3600.0),
        _ => (s, 1.0),
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v * mult))
}

/// What a shell script does: `Some((run time, code))` or `None` when it never ends.
fn script(src: &str) -> Option<(Duration, i32)> {
    let mut total = Duration::ZERO;
    let mut code = 0;
    let normalized = src.replace("&&", ";").replace("||", ";").replace('\n', ";");
    for part in normalized.split(';') {
        let w: Vec<&str> = part.split_whitespace().collect();
        let Some(first) = w.first() else { continue };
        match base(first) {
            "exit" => {
                let c = w.get(1).and_then(|c| c.parse().ok()).unwrap_or(code);
                return Some((total, c));
            }
            "sleep" => match w.get(1) {
                Some(&"infinity") | None => return None,
                Some(n) => {
                    total += parse_secs(n)?;
                    code = 0;
                }
            },
            "while" | "until" | "tail" if part.contains("true") || part.contains("-f") => {
                return None;
            }
            "false" => code = 1,
            _ => code = 0,
        }
    }
    Some((total, code))
}

/// The outcome a command line implies.
pub(crate) fn outcome_of(container: &Value) -> Outcome {
    let w = words(container);
    let Some(first) = w.first() else {
        return Outcome::RunsUntilStopped;
    };
    let ends = match base(first) {
        "sh" | "bash" | "ash" => match w.iter().position(|a| a == "-c") {
            Some(i) => w
                .get(i + 1)
                .map_or(Some((Duration::ZERO, 0)), |s| script(s)),
            None => None,
        },
        "sleep" => match w.get(1).map(String::as_str) {
            Some("infinity") | None => None,
            Some(n) => parse_secs(n).map(|d| (d, 0)),
        },
        "exit" => Some((
            Duration::ZERO,
            w.get(1).and_then(|c| c.parse().ok()).unwrap_or(0),
        )),
        "false" => Some((Duration::ZERO, 1)),
        b if FINITE.contains(&b) => Some((Duration::ZERO, 0)),
        _ => None,
    };
    match ends {
        Some((after, code)) => Outcome::ExitsAfter { after, code },
        None => Outcome::RunsUntilStopped,
    }
}

impl ContainerRuntime for ScriptedRuntime {
    fn pull(&self, image: &str, _node: &str) -> Result<Duration, PullError> {
        let missing = self
            .missing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if missing.contains(image) {
            return Err(PullError {
                message: format!(
                    "failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": not found"
                ),
            });
        }
        Ok(Duration::from_secs(1))
    }

    fn start(&self, req: StartRequest<'_>, _exits: ExitSender) -> Result<Outcome, StartError> {
        Ok(outcome_of(req.container))
    }

    fn stop(&self, _id: &ContainerId, container: &Value, grace: Duration) -> Duration {
        match words(container).first().map(|f| base(f)) {
            Some("sh" | "bash" | "ash" | "sleep") => grace,
            _ => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn o(c: Value) -> Outcome {
        outcome_of(&c)
    }

    #[test]
    fn commands_map_to_outcomes() {
        let secs = Duration::from_secs;
        assert_eq!(o(json!({})), Outcome::RunsUntilStopped);
        assert_eq!(
            o(json!({"command": ["sh", "-c", "echo hi; exit 3"]})),
            Outcome::ExitsAfter {
                after: secs(0),
                code: 3
            }
        );
        assert_eq!(
            o(json!({"command": ["/bin/sh", "-c"], "args": ["sleep 5; exit 1"]})),
            Outcome::ExitsAfter {
                after: secs(5),
                code: 1
            }
        );
        assert_eq!(
            o(json!({"command": ["sleep", "30"]})),
            Outcome::ExitsAfter {
                after: secs(30),
                code: 0
            }
        );
        assert_eq!(
            o(json!({"command": ["sleep", "infinity"]})),
            Outcome::RunsUntilStopped
        );
        assert_eq!(
            o(json!({"command": ["sh", "-c", "while true; do sleep 1; done"]})),
            Outcome::RunsUntilStopped
        );
        assert_eq!(
            o(json!({"command": ["/usr/bin/cp", "-r", "/a", "/b"]})),
            Outcome::ExitsAfter {
                after: secs(0),
                code: 0
            }
        );
        assert_eq!(
            o(json!({"command": ["false"]})),
            Outcome::ExitsAfter {
                after: secs(0),
                code: 1
            }
        );
        assert_eq!(o(json!({"command": ["nginx"]})), Outcome::RunsUntilStopped);
    }
}
