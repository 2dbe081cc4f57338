//! Table and snapshot tests for the docker argv builders.

use serde_json::json;

use super::*;
use crate::config::{Bytes, Millicores};
use crate::devcontainer::hostreq::GpuRequirement;
use crate::devcontainer::metadata;

fn spec(container: ContainerConfig) -> RunSpec {
    RunSpec {
        container_name: "app-01".into(),
        image: "vsc-app-abc".into(),
        limits: Limits {
            cpus: Some(Millicores(1500)),
            memory: Some(Bytes(4 << 30)),
            memory_swap: Some(Bytes(6 << 30)),
        },
        env_file: Some("/var/lib/kamal-dev/app-01.env".into()),
        labels: vec![("kamal-dev.workspace".into(), "app-01".into())],
        ports: vec![
            PublishedPort {
                host_port: 3000,
                container_port: 3000,
                public: false,
            },
            PublishedPort {
                host_port: 8080,
                container_port: 80,
                public: true,
            },
        ],
        workspace: Some(("/home/deploy/app".into(), "/workspaces/app".into())),
        machine_has_gpu: true,
        container,
    }
}

#[test]
fn run_argv_snapshot() {
    let argv = run(&spec(ContainerConfig {
        mounts: vec!["type=volume,dst=/cache".into()],
        env: vec![("A".into(), "1".into())],
        user: Some("vscode".into()),
        run_args: vec!["--cap-add=SYS_PTRACE".into()],
        init: true,
        privileged: false,
        cap_add: vec!["NET_ADMIN".into()],
        security_opt: vec!["seccomp=unconfined".into()],
        entrypoints: vec!["/usr/local/share/docker-init.sh".into()],
        gpu: Some(GpuRequirement::Optional),
        image_command: vec!["/bin/sh".into()],
        override_command: true,
    }));
    assert_eq!(
        argv,
        [
            "docker",
            "run",
            "-d",
            "--name",
            "app-01",
            "--label",
            "kamal-dev.workspace=app-01",
            "--cpus",
            "1.5",
            "--memory",
            "4g",
            "--memory-swap",
            "6g",
            "--env-file",
            "/var/lib/kamal-dev/app-01.env",
            "-p",
            "127.0.0.1:3000:3000",
            "-p",
            "8080:80",
            "--mount",
            "type=bind,source=/home/deploy/app,target=/workspaces/app",
            "--mount",
            "type=volume,dst=/cache",
            "-e",
            "A=1",
            "-u",
            "vscode",
            "--cap-add=SYS_PTRACE",
            "--gpus",
            "all",
            "--init",
            "--cap-add",
            "NET_ADMIN",
            "--security-opt",
            "seccomp=unconfined",
            "--entrypoint",
            "/bin/sh",
            "vsc-app-abc",
            "-c",
            "echo Container started\ntrap \"exit 0\" 15\n/usr/local/share/docker-init.sh\nexec \"$@\"\nwhile sleep 1 & wait $!; do :; done",
            "-",
        ]
    );
}

#[test]
fn override_command_false_appends_the_image_command() {
    let argv = run(&spec(ContainerConfig {
        image_command: vec!["/entry".into(), "serve".into()],
        override_command: false,
        ..ContainerConfig::default()
    }));
    assert_eq!(&argv[argv.len() - 3..], ["-", "/entry", "serve"]);
    assert!(!argv.contains(&"--gpus".to_string()));
}

#[test]
fn container_config_from_devcontainer() {
    let config = json!({"image": "x", "runArgs": ["--shm-size", "1g"], "privileged": true,
                        "hostRequirements": {"gpu": true},
                        "overrideCommand": false, "mounts": [{"type": "volume", "target": "/v"}]});
    let map = config.as_object().cloned().unwrap();
    let dc = DevContainer::from_json(&map);
    let merged = metadata::merge(&[metadata::config_entry(&map)]);
    let c = ContainerConfig::from_devcontainer(&dc, &merged, &ImageFacts::unlabelled_root());
    assert!(c.privileged && !c.override_command);
    assert_eq!(c.run_args, ["--shm-size", "1g"]);
    assert_eq!(c.gpu, Some(GpuRequirement::Required));
    assert_eq!(c.mounts, ["type=volume,dst=/v"]);
    assert_eq!(c.image_command, ["/bin/sh"]);
}

#[test]
fn other_commands() {
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            build(&BuildSpec {
                dockerfile: "/tmp/Dockerfile".into(),
                tag: "img".into(),
                target: Some("dev".into()),
                cache_from: vec!["c".into()],
                build_args: vec![("V".into(), "1".into())],
                options: vec!["--platform".into(), "linux/amd64".into()],
                context: "/src".into(),
            }),
            vec![
                "docker",
                "build",
                "-f",
                "/tmp/Dockerfile",
                "-t",
                "img",
                "--target",
                "dev",
                "--cache-from",
                "c",
                "--build-arg",
                "V=1",
                "--platform",
                "linux/amd64",
                "/src",
            ],
        ),
        (
            exec(&ExecSpec {
                container_name: "app-01".into(),
                user: Some("vscode".into()),
                workdir: Some("/workspaces/app".into()),
                interactive: true,
                env: vec![("TERM".into(), "xterm".into())],
                command: vec!["bash".into(), "-l".into()],
            }),
            vec![
                "docker",
                "exec",
                "-i",
                "-t",
                "-u",
                "vscode",
                "-w",
                "/workspaces/app",
                "-e",
                "TERM=xterm",
                "app-01",
                "bash",
                "-l",
            ],
        ),
        (
            inspect("a"),
            vec!["docker", "inspect", "--type", "container", "a"],
        ),
        (start("a"), vec!["docker", "start", "a"]),
        (stop("a"), vec!["docker", "stop", "a"]),
        (rm("a", true), vec!["docker", "rm", "-f", "a"]),
        (rm("a", false), vec!["docker", "rm", "a"]),
        (
            logs("a", true, Some(100)),
            vec!["docker", "logs", "--follow", "--tail", "100", "a"],
        ),
        (logs("a", false, None), vec!["docker", "logs", "a"]),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
}

#[test]
fn bind_mount_quotes_commas() {
    assert_eq!(
        bind_mount("/a,b", "/w"),
        "type=bind,\"source=/a,b\",target=/w"
    );
}
