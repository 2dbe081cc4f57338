//! Ctrl-C during a deploy (journey 4): the deploy stops where it is, says so with exit code
//! 130 and how to go on, and every machine the provider created is in the state file, so
//! nothing is left billing unseen. Needs no sshd or Docker: the machines never finish booting.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestContext;
use crate::common::fake_upcloud::{FakeUpcloud, FakeUpcloudConfig};

#[test]
fn ctrl_c_stops_a_deploy_with_every_created_machine_recorded() {
    let fake = FakeUpcloud::start(FakeUpcloudConfig {
        boot_delay: Duration::from_secs(600),
        ..FakeUpcloudConfig::default()
    });
    let ctx = TestContext::new();
    ctx.write(
        "id_test.pub",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBzTk+test kamal-dev-test\n",
    );
    ctx.write(
        "config/dev.yml",
        format!(
            "service: intr\nimage: local/busybox:latest\nprovider:\n  type: upcloud\n  zone: fi-hel1\n  plan: 1xCPU-1GB\n  api_url: {}\nssh:\n  key_path: {}\nvms:\n  spread: true\n",
            fake.url(),
            ctx.path().join("id_test.pub").display()
        ),
    );
    let child = Command::new(assert_cmd::cargo::cargo_bin("kamal-dev"))
        .args(["deploy", "-y", "--count", "3"])
        .current_dir(ctx.path())
        .env("HOME", ctx.path())
        .env("UPCLOUD_TOKEN", "anything")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start deploy");
    let started = Instant::now();
    while fake.servers().len() < 3 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        fake.servers().len(),
        3,
        "the deploy never created its machines"
    );
    // Let the create answers be recorded, then press Ctrl-C.
    std::thread::sleep(Duration::from_millis(500));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let output = child.wait_with_output().expect("wait for deploy");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("error: deploy interrupted (Ctrl-C)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("run `kamal-dev deploy` to resume, or `kamal-dev remove --all`"),
        "{stderr}"
    );
    let state = std::fs::read_to_string(ctx.path().join(".kamal/dev_state.yml"))
        .expect("the state file is written");
    for server in fake.servers() {
        assert!(
            state.contains(&server.uuid),
            "server {} ({}) is not in the state:\n{state}",
            server.title,
            server.uuid
        );
    }
}
