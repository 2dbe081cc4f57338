//! Reporters that turn deploy events into what the user sees: a multi-line progress display
//! on a terminal (one line per workspace with its step and elapsed time), plain timestamped
//! lines otherwise, or one JSON object per line with `--format json`.

use std::collections::HashMap;
use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::deploy::events::{Event, Reporter};

use super::Verbosity;

/// Pick the reporter for this run.
pub fn reporter(json: bool, verbosity: Verbosity, subjects: &[String]) -> Box<dyn Reporter> {
    if json {
        Box::new(JsonLines)
    } else if std::io::stderr().is_terminal() && verbosity != Verbosity::Quiet {
        Box::new(TerminalProgress::new(subjects))
    } else {
        Box::new(PlainLines { verbosity })
    }
}

/// One spinner line per subject, redrawn in place.
pub struct TerminalProgress {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    width: usize,
}

impl TerminalProgress {
    fn new(subjects: &[String]) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let width = subjects.iter().map(String::len).max().unwrap_or(8).max(8);
        let progress = TerminalProgress {
            multi,
            bars: Mutex::new(HashMap::new()),
            width,
        };
        for subject in subjects {
            progress.bar(subject);
        }
        progress
    }

    fn bar(&self, subject: &str) -> ProgressBar {
        let Ok(mut bars) = self.bars.lock() else {
            return ProgressBar::hidden();
        };
        bars.entry(subject.to_string())
            .or_insert_with(|| {
                let template = format!(
                    "  {{prefix:{}}} {{spinner}} {{wide_msg}} {{elapsed:>4}}",
                    self.width
                );
                let style = ProgressStyle::with_template(&template)
                    .unwrap_or_else(|_| ProgressStyle::default_spinner())
                    .tick_chars("◐◓◑◒●");
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(style);
                bar.set_prefix(subject.to_string());
                bar.set_message("waiting");
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone()
    }
}

impl Reporter for TerminalProgress {
    fn event(&self, event: Event) {
        match event {
            Event::Step {
                subject,
                step,
                detail,
            } => {
                let message = match detail {
                    Some(detail) => format!("{} ({detail})", step.describe()),
                    None => step.describe().to_string(),
                };
                self.bar(&subject).set_message(message);
            }
            Event::Done {
                subject,
                outcome,
                address,
                elapsed,
            } => {
                let bar = self.bar(&subject);
                bar.set_style(finished_style(self.width));
                let address = address.map(|a| format!("  {a}")).unwrap_or_default();
                bar.finish_with_message(format!(
                    "✔ {outcome}{address}  {:.1}s",
                    elapsed.as_secs_f64()
                ));
            }
            Event::Failed { subject, error, .. } => {
                let bar = self.bar(&subject);
                bar.set_style(finished_style(self.width));
                bar.finish_with_message(format!("✖ failed: {error}"));
            }
            Event::Warning { message } => {
                let _ = self.multi.println(format!("warning: {message}"));
            }
        }
    }
}

fn finished_style(width: usize) -> ProgressStyle {
    ProgressStyle::with_template(&format!("  {{prefix:{width}}} {{wide_msg}}"))
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// Plain timestamped lines on stderr, for logs, CI and agents.
pub struct PlainLines {
    verbosity: Verbosity,
}

impl Reporter for PlainLines {
    fn event(&self, event: Event) {
        let now = jiff::Timestamp::now().strftime("%H:%M:%S");
        let line = match event {
            Event::Step {
                subject,
                step,
                detail,
            } => {
                if self.verbosity == Verbosity::Quiet {
                    return;
                }
                match detail {
                    Some(detail) => format!("{now} {subject}: {} ({detail})", step.describe()),
                    None => format!("{now} {subject}: {}", step.describe()),
                }
            }
            Event::Done {
                subject,
                outcome,
                address,
                elapsed,
            } => {
                if self.verbosity == Verbosity::Quiet {
                    return;
                }
                let address = address.map(|a| format!(" at {a}")).unwrap_or_default();
                format!(
                    "{now} {subject}: {outcome}{address} ({:.1}s)",
                    elapsed.as_secs_f64()
                )
            }
            Event::Failed {
                subject,
                step,
                error,
                ..
            } => format!("{now} {subject}: failed while {}: {error}", step.describe()),
            Event::Warning { message } => format!("{now} warning: {message}"),
        };
        let _ = writeln!(anstream::stderr(), "{line}");
    }
}

/// One JSON object per line on stdout.
pub struct JsonLines;

impl Reporter for JsonLines {
    fn event(&self, event: Event) {
        if let Ok(line) = serde_json::to_string(&event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}
