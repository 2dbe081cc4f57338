//! Table tests of config validation: each row is a config text and the exact message.

use std::path::Path;

use super::*;

fn load(text: &str) -> Result<Config, String> {
    Config::from_text(text, Path::new("config/dev.yml")).map_err(|e| e.to_string())
}

#[test]
fn minimal_local_config_gets_seed_defaults() {
    let config = load("service: app\n").unwrap();
    assert_eq!(config.provider.kind, ProviderKind::Local);
    assert_eq!(
        config.vms,
        Vms {
            count: 1,
            spread: false
        }
    );
    assert_eq!(config.naming.pattern, "{service}-{index}");
    assert_eq!(config.ssh.user, "root");
    assert_eq!(config.ssh.port, 22);
    assert!(config.ssh.key_path.ends_with(".ssh/id_rsa.pub"));
    assert_eq!(config.ports.publish, Publish::Loopback);
    assert_eq!(
        config.image,
        ImageSource::Devcontainer(".devcontainer/devcontainer.json".into())
    );
    assert_eq!(config.workspace_names(2), vec!["app-1", "app-2"]);
}

#[test]
fn seed_example_parses() {
    let text = "service: myapp-dev\nimage: ruby:3.2\nprovider:\n  type: upcloud\n  zone: us-nyc1\n  plan: 1xCPU-2GB\nsecrets:\n  - GITHUB_TOKEN\ndefaults:\n  cpus: 1.5\n  memory: 4g\n  memory_swap: 8g\nvms:\n  count: 3\n  spread: true\n";
    let config = load(text).unwrap();
    assert_eq!(config.image, ImageSource::Image("ruby:3.2".into()));
    assert_eq!(config.defaults.cpus, Some(Millicores(1500)));
    assert_eq!(config.defaults.memory, Some(Bytes(4 << 30)));
    assert_eq!(config.defaults.memory_swap, Some(Bytes(8 << 30)));
    assert_eq!(
        config.vms,
        Vms {
            count: 3,
            spread: true
        }
    );
    assert_eq!(config.secrets, vec!["GITHUB_TOKEN"]);
}

#[test]
fn malformed_configs_name_line_column_and_key() {
    let table = [
        (
            "service: a\nprovider:\n  type: upclod\n",
            "config/dev.yml:3:9: provider.type: unknown provider \"upclod\"; expected one of upcloud, hetzner, local, ssh",
        ),
        (
            "service: a\ndefaults:\n  memory: 4 gigs\n",
            "config/dev.yml:3:11: defaults.memory: \"4 gigs\" is not a size",
        ),
        (
            "service: a\nvms:\n  count: -1\n",
            "config/dev.yml:3:10: vms.count: -1 is not a positive whole number",
        ),
        (
            "service: a\nprovider:\n  zonee: x\n",
            "config/dev.yml:3:3: provider.zonee: unknown key \"zonee\"",
        ),
        (
            "service: [1]\n",
            "config/dev.yml:1:10: service: expected a string",
        ),
        (
            "service: a\nprovider:\n  type: upcloud\n",
            "config/dev.yml: provider.zone: is required for provider upcloud",
        ),
        (
            "service: a\nprovider:\n  type: ssh\n",
            "config/dev.yml: provider.hosts: is required for provider ssh",
        ),
        ("image: x\n", "config/dev.yml: service: is required"),
    ];
    for (text, expected) in table {
        assert_eq!(load(text).unwrap_err(), expected, "config:\n{text}");
    }
}

#[test]
fn destination_overlay_wins() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("dev.yml");
    std::fs::write(
        &base,
        "service: app\nvms:\n  count: 2\ndefaults:\n  memory: 1g\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("dev.staging.yml"), "vms:\n  count: 5\n").unwrap();
    let config = Config::load(&base, Some("staging")).unwrap();
    assert_eq!(config.vms.count, 5);
    assert_eq!(config.defaults.memory, Some(Bytes(1 << 30)));
    let err = Config::load(&base, Some("prod")).unwrap_err().to_string();
    assert!(err.ends_with("dev.prod.yml not found"), "{err}");
}
