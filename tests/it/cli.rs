//! The command surface: help lists every command and option, unbuilt commands refuse with
//! exit code 2, completions and the man page render.

use crate::common::TestContext;

fn stdout_of(args: &[&str]) -> String {
    let ctx = TestContext::new();
    let output = ctx.command().args(args).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn help_lists_every_command() {
    let help = stdout_of(&["--help"]);
    for command in [
        "init",
        "deploy",
        "list",
        "status",
        "stop",
        "start",
        "remove",
        "ssh",
        "exec",
        "logs",
        "cost",
        "devcontainer",
        "completions",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "{command} missing from --help:\n{help}"
        );
    }
    for flag in ["--config", "--destination", "--verbose", "--quiet", "--yes"] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    assert!(
        !help.contains("__internal"),
        "hidden commands must stay hidden"
    );
}

#[test]
fn deploy_help_shows_seed_options() {
    let help = stdout_of(&["deploy", "--help"]);
    for option in ["--count", "--from", "--config", "--dry-run"] {
        assert!(help.contains(option), "{option} missing:\n{help}");
    }
    let devcontainer = stdout_of(&["devcontainer", "--help"]);
    assert!(devcontainer.contains("read-configuration"));
    assert!(devcontainer.contains("run-args"));
    let list = stdout_of(&["list", "--help"]);
    assert!(list.contains("table") && list.contains("json") && list.contains("yaml"));
    let remove = stdout_of(&["remove", "--help"]);
    assert!(remove.contains("--all") && remove.contains("--force") && remove.contains("--dry-run"));
}

#[test]
fn usage_errors_exit_2() {
    let ctx = TestContext::new();
    ctx.write("config/dev.yml", "service: a\n");
    let output = ctx
        .command()
        .args(["deploy", "--count", "-1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = ctx.command().args(["stop"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs a workspace NAME or --all"));
    let output = ctx.command().args(["frobnicate"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn completions_and_man_page_render() {
    let bash = stdout_of(&["completions", "bash"]);
    assert!(bash.contains("kamal-dev") && bash.contains("deploy"));
    let man = stdout_of(&["man"]);
    assert!(man.contains(".TH") && man.contains("deploy"));
}

#[test]
fn init_ignores_local_files_once_and_keeps_existing_lines() {
    let ctx = TestContext::new();
    ctx.write(".gitignore", "target/\n.kamal/ssh_config");
    ctx.command().arg("init").assert().success();
    ctx.command().arg("init").assert().success();
    let text = std::fs::read_to_string(ctx.path().join(".gitignore")).unwrap();
    assert!(text.starts_with("target/\n.kamal/ssh_config\n"), "{text}");
    for entry in [
        ".kamal/dev_state.yml*",
        ".kamal/ssh_config",
        ".kamal/known_hosts",
        ".kamal/ssh_proxy_key",
        ".kamal/env/",
    ] {
        assert_eq!(
            text.lines().filter(|l| *l == entry).count(),
            1,
            "{entry} once in:\n{text}"
        );
    }
    assert!(ctx.path().join("config/dev.yml").is_file());
}

#[test]
fn status_without_a_name_inspects_every_workspace() {
    let ctx = TestContext::new();
    ctx.command().arg("init").assert().success();
    let output = ctx.command().arg("status").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("No workspaces recorded."), "{stderr}");
    // Changing commands still need an explicit target.
    let output = ctx.command().arg("stop").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs a workspace NAME or --all"));
}
