//! Install-order tests over in-memory Feature folders.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

fn reader(
    files: &BTreeMap<String, String>,
) -> impl FnMut(&str) -> Result<String, DevcontainerError> + '_ {
    |path: &str| {
        files
            .get(path)
            .cloned()
            .ok_or_else(|| DevcontainerError::Feature {
                id: path.to_string(),
                message: "missing".to_string(),
            })
    }
}

/// `resolve` for a workspace at `/w` with no downloaded registry Features.
fn resolve_local(
    user: &[(String, Value)],
    order: &[String],
    files: &BTreeMap<String, String>,
) -> Result<Vec<ResolvedFeature>, DevcontainerError> {
    resolve(
        user,
        order,
        "/w/.devcontainer",
        "/w",
        &|_: &str| None,
        reader(files),
    )
}

fn feature(id: &str, extra: &Value) -> (String, String) {
    let mut meta = json!({"id": id, "version": "1.0.0", "options": {
        "optA": {"type": "string", "default": "0"},
        "optB": {"type": "string", "default": "0"}}});
    if let (Some(m), Some(e)) = (meta.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    (
        format!("/w/.devcontainer/{id}/devcontainer-feature.json"),
        meta.to_string(),
    )
}

#[test]
fn depends_on_with_different_options_installs_each_variant() {
    let files: BTreeMap<String, String> = [
        feature(
            "a",
            &json!({"dependsOn": {"./b": {"optA": "a", "optB": "a"}, "./c": {}}}),
        ),
        feature("b", &json!({})),
        feature(
            "c",
            &json!({"dependsOn": {"./b": {"optA": "b", "optB": "a"}, "./d": {}, "./e": {}}}),
        ),
        feature(
            "d",
            &json!({"dependsOn": {"./b": {"optA": "b", "optB": "b"}}}),
        ),
        feature("e", &json!({"dependsOn": {"./b": {}}})),
    ]
    .into_iter()
    .collect();
    let user = vec![
        ("./a".to_string(), json!({"optA": "a", "optB": "b"})),
        ("./b".to_string(), json!({"optA": "a", "optB": "b"})),
    ];
    let order = resolve_local(&user, &[], &files).unwrap();
    let got: Vec<(String, Value)> = order
        .iter()
        .map(|f| (f.consecutive_id.clone(), f.options.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("b_0".into(), json!({})),
            ("b_1".into(), json!({"optA": "a", "optB": "a"})),
            ("b_2".into(), json!({"optA": "a", "optB": "b"})),
            ("b_3".into(), json!({"optA": "b", "optB": "a"})),
            ("b_4".into(), json!({"optA": "b", "optB": "b"})),
            ("d_5".into(), json!({})),
            ("e_6".into(), json!({})),
            ("c_7".into(), json!({})),
            ("a_8".into(), json!({"optA": "a", "optB": "b"})),
        ]
    );
}

#[test]
fn installs_after_orders_but_never_pulls_in_and_override_wins() {
    let files: BTreeMap<String, String> = [
        feature("a", &json!({"installsAfter": ["./b", "./c"]})),
        feature("b", &json!({})),
        feature("c", &json!({})),
    ]
    .into_iter()
    .collect();
    let user = vec![
        ("./a".to_string(), json!({})),
        ("./c".to_string(), json!({"magicNumber": "321"})),
    ];
    let order = resolve_local(&user, &[], &files).unwrap();
    let ids: Vec<_> = order.iter().map(|f| f.user_id.as_str()).collect();
    assert_eq!(ids, ["./c", "./a"]);

    let user = vec![
        ("./b".to_string(), json!({})),
        ("./c".to_string(), json!({})),
    ];
    let order = resolve_local(&user, &["./c".to_string()], &files).unwrap();
    let ids: Vec<_> = order.iter().map(|f| f.user_id.as_str()).collect();
    assert_eq!(ids, ["./c", "./b"]);
}

#[test]
fn registry_features_come_from_their_download_and_others_are_refused() {
    let files: BTreeMap<String, String> = BTreeMap::new();
    for id in [
        "ghcr.io/devcontainers/features/node:1",
        "sshd",
        "https://x/devcontainer-feature-a.tgz",
    ] {
        let user = vec![(id.to_string(), json!({}))];
        let err = resolve_local(&user, &[], &files).unwrap_err();
        if id.starts_with("ghcr.io") {
            // A registry Feature is resolved from its download; missing, it says so.
            assert!(
                matches!(&err, DevcontainerError::NotDownloaded { id: i } if i == id),
                "{err}"
            );
        } else {
            assert!(err.to_string().contains("is not supported"), "{err}");
        }
    }
    // Downloaded, it resolves to its folder with the id from its metadata.
    let mut files = files.clone();
    files.insert(
        "/cache/node/devcontainer-feature.json".to_string(),
        r#"{"id": "node", "version": "1.4.0"}"#.to_string(),
    );
    let user = vec![(
        "ghcr.io/devcontainers/features/node:1".to_string(),
        json!({}),
    )];
    let resolved = resolve(
        &user,
        &[],
        "/w/.devcontainer",
        "/w",
        &|id: &str| id.starts_with("ghcr.io").then(|| "/cache/node".to_string()),
        reader(&files),
    )
    .unwrap();
    assert_eq!(resolved[0].path, "/cache/node");
    assert_eq!(resolved[0].consecutive_id, "node_0");
    let user = vec![("../../x".to_string(), json!({}))];
    assert!(resolve_local(&user, &[], &files).is_err());
}

#[test]
fn option_env_names_and_values() {
    assert_eq!(safe_id("installZsh"), "INSTALLZSH");
    assert_eq!(safe_id("2fa"), "_FA");
    assert_eq!(safe_id("my-opt.x"), "MY_OPT_X");
    let f = ResolvedFeature {
        user_id: "./n".into(),
        options: json!("18"),
        path: "/w/.devcontainer/n".into(),
        id: "n".into(),
        metadata: json!({"options": {"version": {"default": "lts"}, "flag": {"default": true}}})
            .as_object()
            .cloned()
            .unwrap(),
        consecutive_id: "n_0".into(),
    };
    assert_eq!(f.env_lines(), ["VERSION=\"18\"", "FLAG=\"true\""]);
}
