//! The local provider end to end: the machine is this host, no SSH. deploy 2 (containers,
//! limits, port, secrets checked), re-deploy (nothing to do), list, remove --all.

use super::{
    Expected, WORKSPACES, check_cmdlines, check_container, check_secrets_inside, entries,
    require_built, workspace_statuses,
};
use crate::common::project::{
    self, Cleanup, CmdlineSampler, ProjectBuilder, Services, marker_value, unique,
};

#[test]
fn local_deploy_list_remove() {
    let Some(services) = Services::from_env("the local-provider end-to-end scenario") else {
        return;
    };
    let service = unique("e2elo");
    let _cleanup = Cleanup {
        service: service.clone(),
    };
    let project = ProjectBuilder::local(&service, &services.image)
        .limits("0.25", "128m")
        .forward_ports(&[3000])
        .secret("E2E_LOCAL_TOKEN", &marker_value("local"))
        .post_create("echo created > /tmp/post-create-ran")
        .build();

    let sampler = CmdlineSampler::start();
    let deploy = project.run(&["deploy", "-y", "--count", "2", "-v"]);
    let seen = sampler.finish();
    let deploy = deploy.success("local deploy --count 2");
    project.assert_no_leak("the output of a local deploy", &deploy.text());
    check_cmdlines(&project, &seen);

    let state = project.state();
    let statuses = workspace_statuses(&state);
    assert_eq!(statuses.len(), 2, "state: {statuses:?}");
    assert!(statuses.iter().all(|(_, s)| s == "running"), "{statuses:?}");
    for index in 1..=2 {
        let name = format!("{service}-{index}");
        check_container(&Expected {
            name: &name,
            service: &service,
            machine: "local",
            nano_cpus: 250_000_000,
            memory: 128 * 1024 * 1024,
            ports: &[3000],
        });
        check_secrets_inside(&project, &name, &[]);
        let ran = std::process::Command::new("docker")
            .args(["exec", &name, "cat", "/tmp/post-create-ran"])
            .output()
            .expect("docker exec cat");
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout).trim(),
            "created",
            "{name}: postCreateCommand did not run"
        );
        // The local env file is written by kamal-dev itself, readable by the owner only.
        let env_file = project.root().join(format!(".kamal/env/{name}.env"));
        if let Ok(meta) = std::fs::metadata(&env_file) {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name} env file");
        }
    }
    project.assert_no_leak("the state file", &project.state_text());

    let again = project
        .run(&["deploy", "-y", "--count", "2"])
        .success("local re-deploy");
    assert!(again.text().contains("Nothing to do"), "{}", again.text());

    // A lost state file: the next deploy sees new workspaces whose containers exist
    // already; Docker refuses the names and deploy replaces those containers.
    let state_path = project.root().join(".kamal/dev_state.yml");
    std::fs::remove_file(&state_path).expect("remove the state file");
    let _ = std::fs::remove_file(project.root().join(".kamal/dev_state.yml.bak"));
    project
        .run(&["deploy", "-y", "--count", "2"])
        .success("deploy after the state file was lost");
    let statuses = workspace_statuses(&project.state());
    assert!(
        statuses.len() == 2 && statuses.iter().all(|(_, s)| s == "running"),
        "{statuses:?}"
    );
    assert_eq!(project::containers(&service).len(), 2, "one container each");

    let list = project.run(&["list"]);
    require_built("list", &list);
    {
        let list = list.success("list");
        for index in 1..=2 {
            let name = format!("{service}-{index}");
            let row = list
                .stdout
                .lines()
                .find(|line| line.contains(&name))
                .unwrap_or_else(|| panic!("{name} missing from list:\n{}", list.stdout));
            assert!(row.contains("running"), "list row for {name}: {row}");
        }
        project.assert_no_leak("the output of list", &list.text());
    }

    let remove = project.run(&["remove", "--all", "--force"]);
    require_built("remove", &remove);
    remove.success("local remove --all --force");
    assert!(
        project::containers(&service).is_empty(),
        "containers left after remove --all"
    );
    let state = project.state();
    assert_eq!(entries(&state, WORKSPACES), 0, "workspaces left: {state}");
}
