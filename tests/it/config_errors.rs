//! Malformed configs through the real binary: exit code 2 and the exact message on stderr,
//! never a panic or a backtrace.

use crate::common::TestContext;

/// Run `kamal-dev list` on a config and return (exit code, stderr).
fn run_with_config(contents: &[u8]) -> (Option<i32>, String) {
    let ctx = TestContext::new();
    ctx.write("config/dev.yml", contents);
    let output = ctx.command().arg("list").output().expect("run kamal-dev");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn malformed_configs_exit_2_with_exact_message() {
    let mut garbage = vec![0u8, 159, 146, 150, 0xff, b'\n'];
    garbage.extend((0u8..=255).cycle().take(4096));
    let huge = format!("service: a\n# {}\n", "x".repeat(10 * 1024 * 1024));
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "empty file",
            b"".to_vec(),
            "error: config/dev.yml: file is empty\n  hint: a config needs at least `service:`; run `kamal-dev init` for a commented example\n",
        ),
        (
            "wrong type",
            b"service: [a, b]\n".to_vec(),
            "error: config/dev.yml:1:10: service: expected a string\n",
        ),
        (
            "wrong type for a list",
            b"service: a\nsecrets: GITHUB_TOKEN\n".to_vec(),
            "error: config/dev.yml:2:10: secrets: expected a list\n",
        ),
        (
            "YAML syntax error",
            b"service: a\nprovider: {type: upcloud\n".to_vec(),
            "error: config/dev.yml:2:11: provider: unclosed bracket '{'\n",
        ),
        (
            "unknown key",
            b"service: a\nprovder:\n  type: local\n".to_vec(),
            "error: config/dev.yml:2:1: provder: unknown key \"provder\"\n  hint: did you mean \"provider\"?\n",
        ),
        (
            "unknown nested key",
            b"service: a\nprovider:\n  zonee: de-fra1\n".to_vec(),
            "error: config/dev.yml:3:3: provider.zonee: unknown key \"zonee\"\n  hint: did you mean \"zone\"?\n",
        ),
        (
            "unknown provider",
            b"service: a\nprovider:\n  type: upclod\n".to_vec(),
            "error: config/dev.yml:3:9: provider.type: unknown provider \"upclod\"; expected one of upcloud, hetzner, local, ssh\n  hint: did you mean \"upcloud\"?\n",
        ),
        (
            "negative count",
            b"service: a\nvms:\n  count: -3\n".to_vec(),
            "error: config/dev.yml:3:10: vms.count: -3 is not a positive whole number\n  hint: use a count from 1 to 1000\n",
        ),
        (
            "bad memory size",
            b"service: a\ndefaults:\n  memory: 4 gigs\n".to_vec(),
            "error: config/dev.yml:3:11: defaults.memory: \"4 gigs\" is not a size\n  hint: use a number with a unit, like 4g, 4096m or 1.5g\n",
        ),
        (
            "binary garbage",
            garbage,
            "error: config/dev.yml: not a text file (invalid UTF-8 at byte 1)\n  hint: check that -c points at config/dev.yml\n",
        ),
        (
            "10 MB file",
            huge.into_bytes(),
            "error: config/dev.yml: file is 10485774 bytes; a config file is at most 1048576 bytes\n  hint: check that -c points at config/dev.yml\n",
        ),
        (
            "cloud provider without zone",
            b"service: a\nprovider:\n  type: upcloud\n  plan: 1xCPU-2GB\n".to_vec(),
            "error: config/dev.yml: provider.zone: is required for provider upcloud\n  hint: add the data-center zone, for example `zone: de-fra1`\n",
        ),
        (
            "duplicate key",
            b"service: a\nservice: b\n".to_vec(),
            "error: config/dev.yml:2:1: service: duplicate key \"service\"\n  hint: each key may appear once; delete one of them\n",
        ),
        (
            "top-level list",
            b"- a\n- b\n".to_vec(),
            "error: config/dev.yml:1:1: expected a mapping of keys\n",
        ),
    ];
    for (name, contents, expected) in table {
        let (code, stderr) = run_with_config(&contents);
        assert_eq!(code, Some(2), "{name}: exit code; stderr:\n{stderr}");
        assert_eq!(stderr, expected, "{name}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn missing_config_points_at_init() {
    let ctx = TestContext::new();
    let output = ctx.command().arg("list").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: config/dev.yml not found\n  hint: run `kamal-dev init` to create one, or pass another file with -c PATH\n"
    );
}

#[test]
fn destination_overlay_is_read() {
    let ctx = TestContext::new();
    ctx.write("config/dev.yml", "service: a\n");
    ctx.write("config/dev.staging.yml", "provider:\n  type: upclod\n");
    let output = ctx
        .command()
        .args(["-d", "staging", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: config/dev.staging.yml:2:9: provider.type: unknown provider"),
        "{stderr}"
    );
}
