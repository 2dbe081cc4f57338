//! Lifecycle commands in their three forms: a string (run through `/bin/sh -c`), an array
//! (exec'd directly), an object of named commands (run in parallel). Blank strings, empty
//! arrays and empty objects are "no command". Pure.

use serde_json::Value;

/// The lifecycle hooks that run inside the container, in the order they run.
pub const CONTAINER_HOOKS: [&str; 5] = [
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
];

/// One lifecycle command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleCommand {
    /// Run with `/bin/sh -c`.
    Shell(String),
    /// Exec'd with no shell.
    Exec(Vec<String>),
    /// Named commands run in parallel; the step succeeds only if all do.
    Parallel(Vec<(String, LifecycleCommand)>),
}

impl LifecycleCommand {
    /// Parse a hook value; `None` for an absent, blank or empty command or a value of another
    /// type.
    pub fn parse(value: &Value) -> Option<LifecycleCommand> {
        match value {
            Value::String(s) if !s.trim().is_empty() => Some(LifecycleCommand::Shell(s.clone())),
            Value::Array(items) if !items.is_empty() => Some(LifecycleCommand::Exec(
                items
                    .iter()
                    .map(crate::devcontainer::model::js_string)
                    .collect(),
            )),
            Value::Object(map) => {
                let entries: Vec<_> = map
                    .iter()
                    .filter_map(|(name, v)| match v {
                        Value::String(_) | Value::Array(_) => {
                            Some((name.clone(), LifecycleCommand::parse(v)?))
                        }
                        _ => None,
                    })
                    .collect();
                (!entries.is_empty()).then_some(LifecycleCommand::Parallel(entries))
            }
            _ => None,
        }
    }

    /// The argv to run inside the container (`Shell` through `/bin/sh -c`); `Parallel` gives
    /// one argv per entry.
    pub fn argvs(&self) -> Vec<Vec<String>> {
        match self {
            LifecycleCommand::Shell(s) => {
                vec![vec!["/bin/sh".to_string(), "-c".to_string(), s.clone()]]
            }
            LifecycleCommand::Exec(argv) => vec![argv.clone()],
            LifecycleCommand::Parallel(entries) => {
                entries.iter().flat_map(|(_, c)| c.argvs()).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn three_forms() {
        assert_eq!(
            LifecycleCommand::parse(&json!("echo hi")),
            Some(LifecycleCommand::Shell("echo hi".into()))
        );
        assert_eq!(
            LifecycleCommand::parse(&json!(["yarn", "install"]))
                .unwrap()
                .argvs(),
            vec![vec!["yarn".to_string(), "install".to_string()]]
        );
        let parallel = LifecycleCommand::parse(&json!({"a": "x", "b": ["y", "z"]})).unwrap();
        assert_eq!(parallel.argvs().len(), 2);
        assert_eq!(LifecycleCommand::parse(&json!("  ")), None);
        assert_eq!(LifecycleCommand::parse(&json!([])), None);
        assert_eq!(LifecycleCommand::parse(&json!({})), None);
    }
}
