//! Conformance with the reference Dev Containers CLI: every case of the corpus in
//! `$KAMAL_DEV_SHARED/conformance/devcontainer`, run the way its README says (the case copied
//! to `/workspaces/<name>`, the environment cleared to PATH, HOME=/home/dev, USER=dev), and
//! compared with the reference's recorded output: `read-configuration` against
//! `expected.json` (and, with `--include-merged-configuration`, `expected-merged.json`),
//! `run-args` against `expected-up.json`, exit code 2 for `expected-error.txt`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::shared_dir;

#[path = "conformance_errors.rs"]
mod errors;

/// Cases left out, each with its reason. Only whole features may be listed here (Docker
/// Compose, Features downloaded from a registry or URL). None is needed today: the corpus
/// records `up` only for image and Dockerfile configs whose Features are local, and
/// `read-configuration` resolves neither compose files nor Features.
const EXCLUDED: &[(&str, &str)] = &[];

fn copy_case(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if to == from || name.to_string_lossy().starts_with("expected") {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_case(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn run(subcommand: &str, workspace: &Path) -> std::process::Output {
    run_with(subcommand, workspace, &[])
}

fn run_with(subcommand: &str, workspace: &Path, extra: &[&str]) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("kamal-dev");
    std::process::Command::new(bin)
        .args(["devcontainer", subcommand])
        .args(extra)
        .arg("--workspace-folder")
        .arg(workspace)
        .current_dir("/")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", "/home/dev")
        .env("USER", "dev")
        .output()
        .expect("run kamal-dev")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read expected file");
    serde_json::from_str(&text).expect("expected file is JSON")
}

fn parse_stdout(output: &std::process::Output) -> Result<Value, String> {
    serde_json::from_slice(&output.stdout).map_err(|err| {
        format!(
            "exit {:?}, stdout is not JSON ({err}); stderr: {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn check_read_configuration(case: &Path, workspace: &Path) -> Result<(), String> {
    let expected = read_json(&case.join("expected.json"));
    let got = parse_stdout(&run("read-configuration", workspace))?;
    for member in ["configuration", "workspace"] {
        if got.get(member) != expected.get(member) {
            return Err(format!(
                "read-configuration `{member}` differs\n  expected: {}\n  got:      {}",
                expected.get(member).cloned().unwrap_or(Value::Null),
                got.get(member).cloned().unwrap_or(Value::Null)
            ));
        }
    }
    Ok(())
}

/// `mergedConfiguration` against `expected-merged.json` (the base image carries no metadata
/// label in the recorded world, as `--include-merged-configuration` assumes).
fn check_merged(case: &Path, workspace: &Path) -> Result<(), String> {
    let expected = read_json(&case.join("expected-merged.json"));
    let output = run_with(
        "read-configuration",
        workspace,
        &["--include-merged-configuration"],
    );
    let got = parse_stdout(&output)?;
    let member = "mergedConfiguration";
    if got.get(member) != expected.get(member) {
        return Err(format!(
            "`{member}` differs\n  expected: {}\n  got:      {}",
            expected.get(member).cloned().unwrap_or(Value::Null),
            got.get(member).cloned().unwrap_or(Value::Null)
        ));
    }
    Ok(())
}

/// The argument after `-f`.
fn dockerfile_arg(argv: &[String]) -> Option<&String> {
    let at = argv.iter().position(|a| a == "-f")?;
    argv.get(at + 1)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn check_run_args(case: &Path, workspace: &Path) -> Result<(), String> {
    let expected = read_json(&case.join("expected-up.json"));
    let calls: Vec<Vec<String>> = expected["dockerCalls"]
        .as_array()
        .map(|calls| calls.iter().map(strings).collect())
        .unwrap_or_default();
    let expected_build: Vec<&Vec<String>> = calls
        .iter()
        .filter(|c| c.first().is_some_and(|a| a == "build"))
        .collect();
    let expected_run = calls
        .iter()
        .find(|c| c.first().is_some_and(|a| a == "run"))
        .ok_or("expected-up.json has no run call")?;
    // Generated Dockerfiles, keyed by the `-f` path of the call that used them.
    let mut expected_files = BTreeMap::new();
    if let Some(files) = expected["dockerfilesPassedWithF"].as_object() {
        for (key, content) in files {
            let index: usize = key
                .trim_start_matches("dockerCalls[")
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("bad key {key}"))?;
            let path = calls.get(index).and_then(|c| dockerfile_arg(c)).cloned();
            expected_files.insert(
                path.unwrap_or_default(),
                content.as_str().unwrap_or_default().to_string(),
            );
        }
    }

    let got = parse_stdout(&run("run-args", workspace))?;
    let got_build: Vec<Vec<String>> = got["build"]
        .as_array()
        .map(|b| b.iter().map(strings).collect())
        .unwrap_or_default();
    // Temporary folders may differ: map ours onto the reference's placeholders.
    let features_tmp = got_build
        .iter()
        .find_map(|b| dockerfile_arg(b))
        .and_then(|f| {
            Path::new(f)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
        });
    let normalize = |s: &str| match &features_tmp {
        Some(ftmp) => {
            let cli_tmp = Path::new(ftmp)
                .parent()
                .and_then(Path::parent)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            s.replace(ftmp.as_str(), "<FEATURES_TMP>")
                .replace(cli_tmp.as_str(), "<CLI_TMP>")
        }
        None => s.to_string(),
    };
    let got_build: Vec<Vec<String>> = got_build
        .iter()
        .map(|b| b.iter().map(|a| normalize(a)).collect())
        .collect();
    let expected_build: Vec<Vec<String>> = expected_build.into_iter().cloned().collect();
    if got_build != expected_build {
        return Err(format!(
            "build calls differ\n  expected: {expected_build:?}\n  got:      {got_build:?}"
        ));
    }
    let got_run = strings(&got["run"]);
    if &got_run != expected_run {
        return Err(format!(
            "run differs\n  expected: {expected_run:?}\n  got:      {got_run:?}"
        ));
    }
    let got_files: BTreeMap<String, String> = got["dockerfiles"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (normalize(k), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    if got_files != expected_files {
        return Err(format!(
            "generated Dockerfiles differ\n  expected: {expected_files:#?}\n  got:      {got_files:#?}"
        ));
    }
    Ok(())
}

fn check_error(workspace: &Path) -> Result<(), String> {
    let output = run("read-configuration", workspace);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() != Some(2) {
        return Err(format!(
            "expected exit 2, got {:?}: {stderr}",
            output.status.code()
        ));
    }
    if !stderr.contains("devcontainer.json") {
        return Err(format!("the error does not name the file: {stderr}"));
    }
    Ok(())
}

/// The Feature install order against `expected-install-order.txt` (the reference's
/// `features resolve-dependencies`: a mermaid graph, then `{"installOrder": [...]}`).
fn check_install_order(case: &Path, workspace: &Path) -> Result<(), String> {
    use kamal_dev::devcontainer::{DevContainer, features, load};

    let text = std::fs::read_to_string(case.join("expected-install-order.txt"))
        .map_err(|err| err.to_string())?;
    let json_start = text
        .find("\n{")
        .ok_or("no JSON in expected-install-order.txt")?;
    let expected: Value =
        serde_json::from_str(&text[json_start..]).map_err(|err| err.to_string())?;
    let env: BTreeMap<String, String> = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("HOME", "/home/dev"),
        ("USER", "dev"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let loaded = load(workspace, None, &env).map_err(|err| err.to_string())?;
    let dc = DevContainer::from_json(&loaded.config);
    let order = features::resolve(
        &dc.features,
        &dc.override_feature_install_order,
        &loaded.config_folder(),
        &loaded.workspace_folder,
        &|_: &str| None,
        load::read_text,
    )
    .map_err(|err| err.to_string())?;
    let got: Vec<Value> = order
        .iter()
        .map(|f| serde_json::json!({"id": f.user_id, "options": f.options}))
        .collect();
    if Some(&Value::Array(got.clone())) != expected.get("installOrder") {
        return Err(format!(
            "install order differs\n  expected: {}\n  got:      {}",
            expected["installOrder"],
            Value::Array(got)
        ));
    }
    Ok(())
}

fn check_case(case: &Path, workspace: &Path) -> Result<u32, String> {
    let mut checks = 0;
    if case.join("expected-install-order.txt").is_file() {
        check_install_order(case, workspace)?;
        checks += 1;
    }
    if case.join("expected.json").is_file() {
        check_read_configuration(case, workspace)?;
        checks += 1;
    }
    if case.join("expected-merged.json").is_file() {
        check_merged(case, workspace)?;
        checks += 1;
    }
    if case.join("expected-up.json").is_file() {
        check_run_args(case, workspace)?;
        checks += 1;
    }
    if case.join("expected-error.txt").is_file() {
        check_error(workspace)?;
        checks += 1;
    }
    Ok(checks)
}

#[test]
fn devcontainer_corpus_matches_the_reference_cli() {
    let Some(shared) = shared_dir() else {
        println!(
            "skipped: KAMAL_DEV_SHARED is not set (it names the shared folder with the corpus)"
        );
        return;
    };
    let corpus = shared.join("conformance/devcontainer/cases");
    let mut names: Vec<String> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|err| panic!("read {}: {err}", corpus.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no cases in {}", corpus.display());

    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for name in &names {
        if let Some((_, reason)) = EXCLUDED.iter().find(|(n, _)| n == name) {
            println!("excluded {name}: {reason}");
            skipped += 1;
            continue;
        }
        let case = corpus.join(name);
        let workspace = PathBuf::from("/workspaces").join(name);
        let _ = std::fs::remove_dir_all(&workspace);
        copy_case(&case, &workspace).unwrap_or_else(|err| {
            panic!(
                "copy {} to {}: {err} (the corpus must run from /workspaces)",
                case.display(),
                workspace.display()
            )
        });
        match check_case(&case, &workspace) {
            Ok(0) => {
                println!("no expected output in {name}");
                skipped += 1;
            }
            Ok(_) => passed += 1,
            Err(why) => {
                failed += 1;
                failures.push(format!("{name}: {why}"));
            }
        }
        let _ = std::fs::remove_dir_all(&workspace);
    }
    for failure in &failures {
        println!("FAILED {failure}");
    }
    println!("{passed} passed, {failed} failed ({skipped} excluded or without expectations)");
    assert_eq!(failed, 0, "{failed} conformance case(s) failed");
}
