//! Secrets never leak from `deploy --dry-run -v` (issue 4): with secrets whose values are
//! unique markers, no marker shows in stdout, stderr, the planned command lines or anything
//! sent to the provider, and no state file is written. Needs no services: the UpCloud API is
//! the in-process fake and nothing is connected to.

use crate::common::fake_upcloud::{FakeUpcloud, FakeUpcloudConfig};
use crate::common::project::{Project, ProjectBuilder, marker_value, throwaway_key, unique};

fn with_secrets(builder: ProjectBuilder) -> Project {
    builder
        .forward_ports(&[8080])
        .secret("DRY_TOKEN", &marker_value("token"))
        .secret("DRY_URL", &marker_value("url"))
        .secret(
            "DRY_KEY",
            &format!("line one\n{}\nline three", marker_value("multi")),
        )
        .secret("UPCLOUD_TOKEN", &marker_value("credential"))
        .build()
}

/// The checks shared by both providers; returns the planned `docker run` lines.
fn check(project: &Project, output: &crate::common::project::RunOutput) -> Vec<String> {
    let output = output.clone().success("deploy --dry-run -v");
    project.assert_no_leak("stdout", &output.stdout);
    project.assert_no_leak("stderr", &output.stderr);
    assert!(
        !project.state_path().exists(),
        "a dry run wrote the state file {}",
        project.state_path().display()
    );
    let runs: Vec<String> = output
        .stdout
        .lines()
        .filter(|line| line.contains("docker run") || line.starts_with("docker 'run'"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        runs.len(),
        2,
        "one planned docker run per workspace:\n{}",
        output.stdout
    );
    for run in &runs {
        project.assert_no_leak("a planned command line", run);
        assert!(
            run.contains("--env-file"),
            "secrets go through an env file: {run}"
        );
    }
    assert!(
        output.stdout.contains("Dry run") || output.stderr.contains("Dry run"),
        "{}",
        output.text()
    );
    runs
}

#[test]
fn dry_run_on_upcloud_shows_no_secret() {
    let fake = FakeUpcloud::start(FakeUpcloudConfig::default());
    let keys = tempfile::tempdir().expect("key dir");
    let key = throwaway_key(keys.path());
    let project = with_secrets(ProjectBuilder::upcloud_with_key(
        &unique("dry"),
        fake.url(),
        &key,
    ));
    let output = project.run(&["deploy", "--dry-run", "-v", "--count", "2"]);
    check(&project, &output);
    assert!(
        fake.servers().is_empty(),
        "a dry run created servers on the provider"
    );
    for request in fake.requests() {
        assert_ne!(
            request.method, "POST",
            "a dry run changed something: {request:?}"
        );
        let sent = format!("{} {:?}", request.path, request.body);
        project.assert_no_leak("a request to the provider", &sent);
    }
}

#[test]
fn dry_run_on_local_shows_no_secret() {
    let project = with_secrets(ProjectBuilder::local(
        &unique("drylo"),
        "local/busybox:latest",
    ));
    let output = project.run(&["deploy", "--dry-run", "-v", "--count", "2"]);
    check(&project, &output);
    assert!(
        !project.root().join(".kamal/env").exists(),
        "a dry run wrote env files"
    );
}
