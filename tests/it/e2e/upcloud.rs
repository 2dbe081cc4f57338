//! The UpCloud scenario end to end: the fake API creates machines whose addresses are the
//! test sshd's loopback addresses; kamal-dev connects over SSH and runs the workspaces in the
//! real Docker engine. deploy 5 (everything checked, secrets included), re-deploy (nothing
//! to do), deploy 7 (2 added), a deploy killed with SIGKILL and resumed, then stop, start
//! and remove --all.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use super::{
    Expected, WORKSPACES, check_cmdlines, check_container, check_secrets_inside, entries,
    require_built, workspace_statuses,
};
use crate::common::fake_upcloud::{FakeUpcloud, FakeUpcloudConfig};
use crate::common::project::{
    self, Cleanup, CmdlineSampler, Project, ProjectBuilder, RunOutput, Services, marker_value,
    unique, wait_until,
};

const FORWARDED: u16 = 8080;
const NANO_CPUS: u64 = 500_000_000;
const MEMORY: u64 = 256 * 1024 * 1024;

/// Every printed output of the scenario, checked for secrets at the end.
#[derive(Default)]
struct Printed(Vec<(String, RunOutput)>);

impl Printed {
    fn keep(&mut self, what: &str, output: RunOutput) -> RunOutput {
        self.0.push((what.to_string(), output.clone()));
        output
    }
}

fn posts(fake: &FakeUpcloud) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

/// Exactly `count` servers of this service, no two for the same machine.
fn check_servers(fake: &FakeUpcloud, service: &str, count: usize) {
    let servers: Vec<_> = fake
        .servers()
        .into_iter()
        .filter(|s| s.label("kamal-dev") == Some(service))
        .collect();
    let titles: BTreeSet<&str> = servers.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        servers.len(),
        count,
        "servers in the fake: {:?}",
        servers.iter().map(|s| &s.title).collect::<Vec<_>>()
    );
    assert_eq!(titles.len(), count, "duplicate servers: {titles:?}");
}

/// Every workspace 1..=count is running in the state and in Docker, with its limits, labels,
/// port and secrets.
fn check_workspaces(project: &Project, count: u32, services: &Services) {
    let state = project.state();
    let statuses = workspace_statuses(&state);
    assert_eq!(statuses.len(), count as usize, "state: {statuses:?}");
    assert!(
        statuses.iter().all(|(_, s)| s == "running"),
        "state: {statuses:?}"
    );
    assert_eq!(
        entries(&state, "machines"),
        count as usize,
        "one machine each"
    );
    let mut host_ports = BTreeSet::new();
    for index in 1..=count {
        let name = format!("{}-{index}", project.service);
        let bound = check_container(&Expected {
            name: &name,
            service: &project.service,
            // vms.spread: each workspace has a machine of its own, named like it.
            machine: &name,
            nano_cpus: NANO_CPUS,
            memory: MEMORY,
            ports: &[FORWARDED],
        });
        let recorded = &state[WORKSPACES][&name]["ports"][0];
        assert_eq!(
            recorded["host"].as_u64(),
            Some(u64::from(bound[0].1)),
            "{name}: host port in the state"
        );
        host_ports.insert(bound[0].1);
        check_secrets_inside(project, &name, &["UPCLOUD_TOKEN"]);
        let machine = &state["machines"][&name];
        if let Some(fingerprint) = &services.host_key_fingerprint {
            assert_eq!(
                machine["host_key_fingerprint"].as_str(),
                Some(fingerprint.as_str()),
                "{name}: host key pinned in the state"
            );
        }
    }
    assert_eq!(host_ports.len(), count as usize, "host ports are distinct");
}

#[test]
fn upcloud_deploy_resume_and_remove() {
    let Some(services) = Services::from_env("the UpCloud end-to-end scenario") else {
        return;
    };
    let fake = FakeUpcloud::start(FakeUpcloudConfig {
        boot_delay: Duration::from_millis(500),
        ips: (10..=25)
            .map(|last| Ipv4Addr::new(127, 0, 0, last))
            .collect(),
        ..FakeUpcloudConfig::default()
    });
    let service = unique("e2eup");
    let _cleanup = Cleanup {
        service: service.clone(),
    };
    let project = ProjectBuilder::upcloud(&service, fake.url(), &services)
        .machines(true, "1xCPU-1GB")
        .limits("0.5", "256m")
        .forward_ports(&[FORWARDED])
        .secret("E2E_TOKEN", &marker_value("token"))
        .secret("E2E_DATABASE_URL", &marker_value("db"))
        .secret(
            "E2E_CERT",
            &format!("-----BEGIN-----\n{}\n-----END-----", marker_value("cert")),
        )
        .secret("UPCLOUD_TOKEN", &marker_value("credential"))
        .build();
    let mut printed = Printed::default();
    let sshd_log_start = services
        .sshd_log
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len());

    // 1. Deploy 5 while sampling every command line on the machine.
    let sampler = CmdlineSampler::start();
    let first = project.run(&["deploy", "-y", "--count", "5", "-v"]);
    let seen = sampler.finish();
    let first = printed
        .keep("deploy --count 5", first)
        .success("deploy --count 5");
    assert!(
        first.stderr.contains("E2E_CERT"),
        "multi-line secret warning names its key:\n{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("UPCLOUD_TOKEN"),
        "skipped provider credential is named:\n{}",
        first.stderr
    );
    check_servers(&fake, &service, 5);
    check_workspaces(&project, 5, &services);
    check_cmdlines(&project, &seen);
    // Each machine records the hourly price the plan quoted ("€X/h each").
    let quoted = first
        .stderr
        .split('€')
        .nth(1)
        .and_then(|rest| rest.split("/h each").next())
        .unwrap_or_else(|| panic!("no price in the plan:\n{}", first.stderr))
        .to_string();
    let state = project.state();
    for index in 1..=5 {
        let price = &state["machines"][format!("{service}-{index}")]["price"];
        assert_eq!(price["currency"], "EUR", "{state}");
        let micros = price["hourly_micros"].as_u64().unwrap_or_default();
        assert!(micros > 0, "no price recorded: {state}");
        let ten_thousandths = (micros + 50) / 100;
        assert_eq!(
            format!(
                "{}.{:04}",
                ten_thousandths / 10_000,
                ten_thousandths % 10_000
            ),
            quoted,
            "recorded price vs the plan's"
        );
    }
    for index in 1..=5 {
        let name = format!("{service}-{index}");
        if let Some(home) = project::root_home() {
            let env_file = home.join(format!(".kamal-dev/env/{name}.env"));
            let mode = std::fs::metadata(&env_file)
                .unwrap_or_else(|e| panic!("env file {}: {e}", env_file.display()))
                .permissions();
            assert_eq!(mode.mode() & 0o777, 0o600, "{}", env_file.display());
        }
    }

    // 2. The same count again changes nothing and asks the provider for nothing new.
    let posts_before = posts(&fake);
    let again = project.run(&["deploy", "-y", "--count", "5", "-v"]);
    let again = printed.keep("re-deploy", again).success("re-deploy");
    assert!(
        again.text().contains("Nothing to do"),
        "re-deploy output:\n{}",
        again.text()
    );
    assert_eq!(posts(&fake), posts_before, "re-deploy sent a POST");
    check_servers(&fake, &service, 5);

    // 3. Two more.
    let more = project.run(&["deploy", "-y", "--count", "7", "-v"]);
    printed
        .keep("deploy --count 7", more)
        .success("deploy --count 7");
    check_servers(&fake, &service, 7);
    check_workspaces(&project, 7, &services);

    // 4. SIGKILL a deploy while it creates machines, then run it again.
    let mut child = project.spawn(&["deploy", "-y", "--count", "10", "-v"]);
    let creating = wait_until(Duration::from_secs(60), || {
        let state = project.state();
        fake.servers().len() > 7
            || workspace_statuses(&state)
                .iter()
                .any(|(_, s)| s == "provisioning")
    });
    child.kill().expect("SIGKILL the deploy");
    let killed = child
        .wait_with_output()
        .expect("wait for the killed deploy");
    assert!(creating, "the deploy never started creating machines");
    assert!(
        !killed.status.success(),
        "the deploy finished before it could be killed; the resume step proves nothing"
    );
    printed.0.push((
        "killed deploy".into(),
        RunOutput {
            code: killed.status.code(),
            stdout: String::from_utf8_lossy(&killed.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&killed.stderr).into_owned(),
        },
    ));
    let resumed = project.run(&["deploy", "-y", "--count", "10", "-v"]);
    printed
        .keep("resumed deploy", resumed)
        .success("resumed deploy");
    check_servers(&fake, &service, 10);
    check_workspaces(&project, 10, &services);

    // No secret anywhere a person or another process could read it.
    for (what, output) in &printed.0 {
        project.assert_no_leak(&format!("the output of {what}"), &output.text());
    }
    project.assert_no_leak("the state file", &project.state_text());
    if let Some(log) = &services.sshd_log {
        let text = std::fs::read(log).unwrap_or_default();
        let ours = text
            .get(usize::try_from(sshd_log_start).unwrap_or(0)..)
            .unwrap_or(&[]);
        project.assert_no_leak("sshd's log", &String::from_utf8_lossy(ours));
    }

    // 5. stop, start, remove --all (gated while those commands are being built).
    let stop = project.run(&["stop", "--all"]);
    require_built("stop", &stop);
    printed.keep("stop", stop).success("stop --all");
    for index in 1..=10 {
        let name = format!("{service}-{index}");
        let inspect = project::inspect(&name).expect("stopped container still exists");
        assert_ne!(
            inspect["State"]["Status"], "running",
            "{name} still running"
        );
    }
    assert!(
        workspace_statuses(&project.state())
            .iter()
            .all(|(_, s)| s == "stopped"),
        "state after stop: {:?}",
        workspace_statuses(&project.state())
    );
    check_servers(&fake, &service, 10);

    let start = project.run(&["start", "--all"]);
    require_built("start", &start);
    printed.keep("start", start).success("start --all");
    check_workspaces(&project, 10, &services);

    let remove = project.run(&["remove", "--all", "--force"]);
    require_built("remove", &remove);
    printed
        .keep("remove", remove)
        .success("remove --all --force");
    check_servers(&fake, &service, 0);
    assert_eq!(
        fake.leaked_disks(),
        0,
        "servers deleted without their disks"
    );
    let state = project.state();
    assert_eq!(entries(&state, WORKSPACES), 0, "workspaces left: {state}");
    assert_eq!(entries(&state, "machines"), 0, "machines left: {state}");
    assert!(
        project::containers(&service).is_empty(),
        "containers left after remove --all"
    );
    for (what, output) in &printed.0 {
        project.assert_no_leak(&format!("the output of {what}"), &output.text());
    }
}
