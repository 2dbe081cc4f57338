//! Error paths of `kamal-dev devcontainer`: syntax errors name file, line and column; a
//! missing config, a remote Feature and a badly named `--config` are usage errors (exit 2).

use serde_json::Value;

use crate::common::TestContext;

/// Run `kamal-dev devcontainer <subcommand>` on a temporary workspace.
fn run_in(ctx: &TestContext, subcommand: &str) -> std::process::Output {
    ctx.command()
        .args(["devcontainer", subcommand, "--workspace-folder"])
        .arg(ctx.path())
        .output()
        .expect("run kamal-dev")
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let ctx = TestContext::new();
    ctx.write(
        ".devcontainer/devcontainer.json",
        "{\n  // comment\n  \"image\": \"debian\"\n  \"runArgs\": []\n}\n",
    );
    let output = run_in(&ctx, "read-configuration");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(".devcontainer/devcontainer.json:4:3: expected `,` or `}`"),
        "{stderr}"
    );
}

#[test]
fn missing_config_and_remote_features_are_usage_errors() {
    let ctx = TestContext::new();
    let output = run_in(&ctx, "read-configuration");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not found"));

    ctx.write(
        ".devcontainer/devcontainer.json",
        r#"{"image": "debian", "features": {"ghcr.io/devcontainers/features/node:1": {}}}"#,
    );
    // read-configuration does not resolve Features; run-args must, and works offline: a
    // registry Feature not downloaded yet (deploy downloads it) is a clear usage error.
    assert_eq!(run_in(&ctx, "read-configuration").status.code(), Some(0));
    let output = run_in(&ctx, "run-args");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "error: Feature 'ghcr.io/devcontainers/features/node:1' is not downloaded yet"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("`kamal-dev deploy` downloads registry Features"),
        "{stderr}"
    );
}

#[test]
fn explicit_config_in_a_sub_folder() {
    let ctx = TestContext::new();
    ctx.write(
        ".devcontainer/py/devcontainer.json",
        r#"{"image": "python:3"}"#,
    );
    let output = ctx
        .command()
        .args(["devcontainer", "read-configuration", "--workspace-folder"])
        .arg(ctx.path())
        .arg("--config")
        .arg(ctx.path().join(".devcontainer/py/devcontainer.json"))
        .output()
        .expect("run kamal-dev");
    assert_eq!(output.status.code(), Some(0));
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["configuration"]["image"], "python:3");

    let output = ctx
        .command()
        .args(["devcontainer", "read-configuration", "--workspace-folder"])
        .arg(ctx.path())
        .args(["--config", "other.json"])
        .output()
        .expect("run kamal-dev");
    assert_eq!(output.status.code(), Some(2));
}
