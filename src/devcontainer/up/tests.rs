//! `up` plan tests on small in-memory configs.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::devcontainer::workspace::WorkspaceConfig;

fn loaded(config: &Value) -> Loaded {
    let map = config.as_object().cloned().unwrap();
    Loaded {
        workspace_folder: "/workspaces/app".into(),
        config_file: "/workspaces/app/.devcontainer/devcontainer.json".into(),
        raw: map.clone(),
        config: map,
        workspace: WorkspaceConfig {
            workspace_folder: Some(json!("/workspaces/app")),
            workspace_mount: Some(json!(
                "type=bind,source=/workspaces/app,target=/workspaces/app"
            )),
        },
    }
}

fn plan_for(config: &Value, dockerfile: Option<&str>) -> UpPlan {
    let env = BTreeMap::new();
    let l = loaded(config);
    let image = ImageFacts::unlabelled_root();
    plan(&UpInputs {
        loaded: &l,
        env: &env,
        dockerfile_text: dockerfile,
        features: &[],
        image: &image,
        features_folder: "/tmp/f",
        empty_folder: "/tmp/e",
    })
    .unwrap()
}

#[test]
fn image_config_runs_with_metadata_label() {
    let p = plan_for(
        &json!({"image": "ubuntu", "appPort": [3000, "9000:9001"], "runArgs": ["--name", "x"],
               "containerEnv": {"A": "${devcontainerId}"}, "capAdd": ["SYS_PTRACE"],
               "overrideCommand": false}),
        None,
    );
    assert!(p.build.is_empty());
    let run = p.run.join(" ");
    assert!(run.starts_with("run --sig-proxy=false -a STDOUT -a STDERR -p 127.0.0.1:3000:3000 -p 9000:9001 --mount type=bind"));
    assert!(run.contains(&format!("-e A={}", p.devcontainer_id)));
    assert!(run.contains(
        "--name x --cap-add SYS_PTRACE --entrypoint /bin/sh -l devcontainer.metadata=[{"
    ));
    assert!(
        run.contains("\"containerEnv\":{\"A\":\"${devcontainerId}\"}"),
        "raw values in the label: {run}"
    );
    assert_eq!(p.run.last().map(String::as_str), Some("/bin/sh"));
}

#[test]
fn dockerfile_config_builds_through_generated_file() {
    let p = plan_for(
        &json!({"build": {"dockerfile": "Dockerfile", "args": {"V": "1"}, "options": ["--platform", "x"]}}),
        Some("FROM debian\n"),
    );
    assert_eq!(p.image, image_base_name("/workspaces/app"));
    assert_eq!(
        p.build[0],
        [
            "build",
            "-f",
            "/tmp/f/Dockerfile-with-features",
            "-t",
            &p.image,
            "--target",
            "dev_containers_target_stage",
            "--build-arg",
            "V=1",
            "--platform",
            "x",
            "--build-arg",
            "_DEV_CONTAINERS_BASE_IMAGE=dev_container_auto_added_stage_label",
            "/workspaces/app/.devcontainer"
        ]
    );
    assert_eq!(
        p.dockerfiles[0].1,
        "\n    ARG _DEV_CONTAINERS_BASE_IMAGE=scratch\nFROM debian AS dev_container_auto_added_stage_label\n\n\nFROM $_DEV_CONTAINERS_BASE_IMAGE AS dev_containers_target_stage\n\n"
    );
}

#[test]
fn image_names_are_sanitized() {
    assert_eq!(
        image_base_name("/workspaces/cli-lifecycle-advanced"),
        "vsc-cli-lifecycle-advanced-1b1419ff2a5b7457dcefb2299adf15255ce0d2b7992c580660eb53b8204a6f60"
    );
    assert!(image_base_name("/w/My App.__x").starts_with("vsc-myapp.x-"));
}

#[test]
fn compose_and_attach_configs_are_refused() {
    let env = BTreeMap::new();
    let image = ImageFacts::unlabelled_root();
    for config in [
        json!({"dockerComposeFile": "c.yml", "service": "s"}),
        json!({"name": "x"}),
    ] {
        let l = loaded(&config);
        let result = plan(&UpInputs {
            loaded: &l,
            env: &env,
            dockerfile_text: None,
            features: &[],
            image: &image,
            features_folder: "/tmp/f",
            empty_folder: "/tmp/e",
        });
        assert!(result.is_err());
    }
}
