//! Events the deploy core emits while it applies a plan. The core never prints: a reporter
//! owned by the command (terminal progress, plain lines, JSON lines, or a test recorder)
//! decides what the user sees.

use std::time::Duration;

use serde::Serialize;

/// One step of deploying a workspace or preparing its machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    CreateMachine,
    WaitForMachine,
    Connect,
    WaitForCloudInit,
    EnsureDocker,
    UploadSecrets,
    DeliverSource,
    BuildImage,
    PullImage,
    RunContainer,
    Lifecycle,
    Stop,
    Start,
    Remove,
    DestroyMachine,
}

impl Step {
    /// The words shown on a progress line.
    pub fn describe(self) -> &'static str {
        match self {
            Step::CreateMachine => "creating machine",
            Step::WaitForMachine => "waiting for machine",
            Step::Connect => "connecting over SSH",
            Step::WaitForCloudInit => "waiting for cloud-init",
            Step::EnsureDocker => "checking Docker",
            Step::UploadSecrets => "uploading secrets",
            Step::DeliverSource => "delivering source",
            Step::BuildImage => "building image",
            Step::PullImage => "pulling image",
            Step::RunContainer => "starting container",
            Step::Lifecycle => "running lifecycle commands",
            Step::Stop => "stopping",
            Step::Start => "starting",
            Step::Remove => "removing",
            Step::DestroyMachine => "destroying machine",
        }
    }
}

/// What happened. `subject` is a workspace name (or a machine name for machine steps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Step {
        subject: String,
        step: Step,
        /// Extra words, e.g. the provider state seen while waiting.
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    Done {
        subject: String,
        /// What the workspace ended as (`running`, `stopped`, `removed`, `unchanged`).
        outcome: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        #[serde(serialize_with = "seconds")]
        elapsed: Duration,
    },
    Failed {
        subject: String,
        step: Step,
        /// Already redacted: no secret value can be in it.
        error: String,
        #[serde(serialize_with = "seconds")]
        elapsed: Duration,
    },
    Warning {
        message: String,
    },
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((duration.as_secs_f64() * 10.0).round() / 10.0)
}

/// Receives events; implementations live in `output/` (and in tests).
pub trait Reporter: Send + Sync {
    fn event(&self, event: Event);
}

/// A reporter that keeps every event, for tests and summaries.
#[derive(Debug, Default)]
pub struct Recorder {
    events: std::sync::Mutex<Vec<Event>>,
}

impl Recorder {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Reporter for Recorder {
    fn event(&self, event: Event) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_as_json_lines() {
        let event = Event::Done {
            subject: "app-1".into(),
            outcome: "running".into(),
            address: Some("127.0.0.10".into()),
            elapsed: Duration::from_millis(1234),
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"event":"done","subject":"app-1","outcome":"running","address":"127.0.0.10","elapsed":1.2}"#
        );
        let recorder = Recorder::default();
        recorder.event(event.clone());
        assert_eq!(recorder.events(), vec![event]);
    }
}
