//! End to end with the `ssh` provider (existing hosts: the loopback sshd) and the `hetzner`
//! provider (the fake Hetzner API whose servers answer on the loopback sshd): deploy with a
//! secret, check the containers with `docker inspect`, stop, start, remove. Needs the test
//! services (`.ci/services.sh`); skipped with a reason otherwise.

use std::process::Command;

use crate::common::TestContext;
use crate::common::fake_hetzner::{FakeHetzner, FakeHetznerConfig};

struct Services {
    key: String,
    image: String,
}

fn services() -> Option<Services> {
    if std::env::var("KAMAL_DEV_TEST_SERVICES").as_deref() != Ok("1") {
        eprintln!(
            "skipped: KAMAL_DEV_TEST_SERVICES is not 1 (run .ci/services.sh and source /tmp/kamal-dev-services/env)"
        );
        return None;
    }
    Some(Services {
        key: std::env::var("KAMAL_DEV_TEST_SSH_KEY").ok()?,
        image: std::env::var("KAMAL_DEV_TEST_IMAGE")
            .unwrap_or_else(|_| "local/busybox:latest".into()),
    })
}

/// Removes the service's containers however the test ends.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let list = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=kamal-dev={}", self.0),
            ])
            .output();
        if let Ok(list) = list {
            let ids: Vec<String> = String::from_utf8_lossy(&list.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if !ids.is_empty() {
                let _ = Command::new("docker")
                    .arg("rm")
                    .arg("-f")
                    .args(&ids)
                    .output();
            }
        }
    }
}

fn inspect(container: &str, format: &str) -> String {
    let output = Command::new("docker")
        .args([
            "inspect",
            "--type",
            "container",
            "--format",
            format,
            container,
        ])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn run(ctx: &TestContext, envs: &[(&str, String)], args: &[&str]) -> (i32, String, String) {
    let mut cmd = ctx.command();
    for (key, value) in envs {
        cmd.env(key, value);
    }
    let output = cmd.args(args).output().expect("run kamal-dev");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn write_project(ctx: &TestContext, services: &Services, provider: &str, marker: &str) {
    ctx.write(
        "config/dev.yml",
        format!(
            "service: {service}\n{provider}ssh:\n  key_path: {key}.pub\nsecrets: [E2E_TOKEN]\ndefaults:\n  cpus: 0.5\n  memory: 128m\n",
            service = ctx.path().file_name().map(|n| n.to_string_lossy().to_lowercase().replace(['.', '_'], "")).unwrap_or_default(),
            key = services.key,
        ),
    );
    ctx.write(
        ".devcontainer/devcontainer.json",
        format!(
            "{{\"image\": \"{}\", \"forwardPorts\": [8000], \"postCreateCommand\": \"touch /tmp/created\"}}",
            services.image
        ),
    );
    let secrets = ctx.write(".kamal/secrets", format!("E2E_TOKEN={marker}\n"));
    std::fs::set_permissions(
        &secrets,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
}

fn service_of(ctx: &TestContext) -> String {
    ctx.path()
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase().replace(['.', '_'], ""))
        .unwrap_or_default()
}

/// Deploy 2, check containers, stop, start, remove: the scenario both providers share.
fn scenario(ctx: &TestContext, envs: &[(&str, String)], marker: &str) {
    let service = service_of(ctx);
    let (code, stdout, stderr) = run(ctx, envs, &["deploy", "-y", "-v", "--count", "2"]);
    assert_eq!(code, 0, "deploy failed:\n{stdout}\n{stderr}");
    assert!(
        !stdout.contains(marker) && !stderr.contains(marker),
        "secret leaked in output"
    );
    let state = std::fs::read_to_string(ctx.path().join(".kamal/dev_state.yml")).unwrap();
    assert!(!state.contains(marker), "secret leaked into the state file");
    for index in 1..=2 {
        let name = format!("{service}-{index}");
        assert_eq!(inspect(&name, "{{.State.Status}}"), "running", "{name}");
        assert_eq!(inspect(&name, "{{.HostConfig.NanoCpus}}"), "500000000");
        assert_eq!(inspect(&name, "{{.HostConfig.Memory}}"), "134217728");
        assert_eq!(
            inspect(&name, "{{index .Config.Labels \"kamal-dev\"}}"),
            service
        );
        let ports = inspect(&name, "{{json .HostConfig.PortBindings}}");
        assert!(ports.contains("\"HostIp\":\"127.0.0.1\""), "{ports}");
        let env = Command::new("docker")
            .args(["exec", &name, "env"])
            .output()
            .unwrap();
        let env = String::from_utf8_lossy(&env.stdout);
        assert!(env.contains(&format!("E2E_TOKEN={marker}")), "{env}");
        assert!(env.contains("E2E_TOKEN_B64="), "{env}");
        let created = Command::new("docker")
            .args(["exec", &name, "test", "-f", "/tmp/created"])
            .status()
            .unwrap();
        assert!(created.success(), "postCreateCommand did not run in {name}");
        let cmdline = inspect(&name, "{{.Path}} {{json .Args}} {{json .Config.Cmd}}");
        assert!(
            !cmdline.contains(marker),
            "secret on the docker command line"
        );
    }
    let (code, _, stderr) = run(ctx, envs, &["deploy", "-y", "--count", "2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Nothing to do"), "{stderr}");

    let (code, _, stderr) = run(ctx, envs, &["stop", "--all"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        inspect(&format!("{service}-1"), "{{.State.Status}}"),
        "exited"
    );
    let (code, _, stderr) = run(ctx, envs, &["start", "--all"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        inspect(&format!("{service}-2"), "{{.State.Status}}"),
        "running"
    );
    let (code, stdout, _) = run(ctx, envs, &["list", "--format", "json"]);
    assert_eq!(code, 0);
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(2));

    let (code, _, stderr) = run(ctx, envs, &["remove", "--all", "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(inspect(&format!("{service}-1"), "{{.State.Status}}"), "");
    let state = std::fs::read_to_string(ctx.path().join(".kamal/dev_state.yml")).unwrap();
    assert!(state.contains("deployments: {}"), "{state}");
}

#[test]
fn ssh_provider_deploys_on_existing_hosts() {
    let Some(services) = services() else { return };
    let ctx = TestContext::new();
    let _cleanup = Cleanup(service_of(&ctx));
    let marker = format!("ssh-marker-{}", std::process::id());
    write_project(
        &ctx,
        &services,
        "provider:\n  type: ssh\n  hosts: [127.0.0.20, 127.0.0.21]\n",
        &marker,
    );
    scenario(&ctx, &[], &marker);
}

#[test]
fn hetzner_provider_deploys_and_destroys_servers() {
    let Some(services) = services() else { return };
    let fake = FakeHetzner::start(FakeHetznerConfig {
        ips: (22u8..=25)
            .map(|n| std::net::Ipv4Addr::new(127, 0, 0, n))
            .collect(),
        ..FakeHetznerConfig::default()
    });
    let ctx = TestContext::new();
    let _cleanup = Cleanup(service_of(&ctx));
    let marker = format!("hetzner-marker-{}", std::process::id());
    write_project(
        &ctx,
        &services,
        &format!(
            "provider:\n  type: hetzner\n  zone: fsn1\n  plan: cx23\n  api_url: {}\nvms:\n  spread: true\n",
            fake.url()
        ),
        &marker,
    );
    let envs = [("HCLOUD_TOKEN", fake.token())];
    scenario(&ctx, &envs, &marker);
    assert!(
        fake.servers().is_empty(),
        "servers left: {:?}",
        fake.servers().len()
    );
}
