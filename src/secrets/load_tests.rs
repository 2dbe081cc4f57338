//! File selection, laziness, selection and failures; rows cite kamal.md. Uses temp projects and
//! the real `sh` except where a counting fake proves what ran.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::error::{Error, ExitStatus};
use crate::secrets::CommandOutput;

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        set_mode(&path, 0o600);
    }
    dir
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    // sh needs a PATH to find printf and friends.
    if let Ok(path) = std::env::var("PATH") {
        env.insert("PATH".into(), path);
    }
    env
}

fn load(dir: &Path, dest: Option<&str>, env: BTreeMap<String, String>) -> Secrets {
    let source = SecretsSource::new(dir, None, dest);
    Secrets::load_with(&source, env, Box::new(ShellRunner::default())).unwrap()
}

fn value(secrets: &Secrets, key: &str) -> Option<String> {
    secrets.get(key).unwrap().map(|s| s.expose().to_string())
}

/// Counts commands; prints `out:<command>`.
struct Counting(Arc<AtomicUsize>);

impl CommandRunner for Counting {
    fn run(
        &self,
        command: &str,
        _env: &BTreeMap<String, String>,
    ) -> std::io::Result<CommandOutput> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(CommandOutput {
            success: true,
            status: "exit status 0".into(),
            stdout: format!("out:{command}\n").into_bytes(),
            stderr: Vec::new(),
        })
    }
}

#[test]
fn which_files_are_read() {
    // (rule, files, destination, key, expected)
    type Row<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        Option<&'a str>,
        &'a str,
        Option<&'a str>,
    );
    let rows: &[Row] = &[
        // kamal.md §1.1 without a destination: -common then secrets, later wins
        (
            "§1.1 later wins",
            &[
                (".kamal/secrets-common", "A=common\nB=c"),
                (".kamal/secrets", "A=main"),
            ],
            None,
            "A",
            Some("main"),
        ),
        (
            "§1.1 common fills in",
            &[
                (".kamal/secrets-common", "A=common\nB=c"),
                (".kamal/secrets", "A=main"),
            ],
            None,
            "B",
            Some("c"),
        ),
        // kamal.md §1.1 with -d: -common then secrets.<dest>; plain secrets is not read
        (
            "§1.1 destination",
            &[
                (".kamal/secrets", "A=plain\nP=1"),
                (".kamal/secrets.staging", "A=staging"),
            ],
            Some("staging"),
            "A",
            Some("staging"),
        ),
        (
            "§1.1 plain not read",
            &[
                (".kamal/secrets", "A=plain\nP=1"),
                (".kamal/secrets.staging", "A=staging"),
            ],
            Some("staging"),
            "P",
            None,
        ),
        (
            "§1.1 common with dest",
            &[
                (".kamal/secrets-common", "C=1"),
                (".kamal/secrets.staging", "A=s"),
            ],
            Some("staging"),
            "C",
            Some("1"),
        ),
        // kamal.md §1.1 each file parsed on its own: no $VAR across files
        (
            "§1.1 no cross-file vars",
            &[
                (".kamal/secrets-common", "BASE=x"),
                (".kamal/secrets", "D=[$BASE]"),
            ],
            None,
            "D",
            Some("[]"),
        ),
        // kamal.md §1.1 missing files are skipped
        (
            "§1.1 only common",
            &[(".kamal/secrets-common", "A=1")],
            None,
            "A",
            Some("1"),
        ),
        // kamal.md §1.1 KAMAL_DESTINATION is set for the files
        (
            "§1.1 KAMAL_DESTINATION",
            &[(".kamal/secrets.prod", "D=$KAMAL_DESTINATION")],
            Some("prod"),
            "D",
            Some("prod"),
        ),
        // kamal.md §1.1 ...and for the commands they run
        (
            "§1.1 KAMAL_DESTINATION in sh",
            &[(
                ".kamal/secrets.prod",
                "D=$(printf '%s' \"$KAMAL_DESTINATION\")",
            )],
            Some("prod"),
            "D",
            Some("prod"),
        ),
    ];
    for (rule, files, dest, key, expected) in rows {
        let dir = project(files);
        let secrets = load(dir.path(), *dest, env(&[]));
        assert_eq!(value(&secrets, key).as_deref(), *expected, "{rule}");
    }
}

#[test]
fn real_shell_commands() {
    let dir = project(&[(
        ".kamal/secrets",
        concat!(
            "NESTED=$(printf '%s' \"$(echo nested)\")\n",
            // kamal.md §1.2 escapes are handled before the command runs, so sh needs `\\\\n`
            "TRAIL=$(printf 'a\\\\n\\\\n')\n",
            "FROM_ENV=$(printf '%s' \"$MY_ENV\")\n",
            "SEQ=first\n",
            "USES=$(printf '%s' \"$SEQ-$SEQ\")\n",
        ),
    )]);
    let secrets = load(dir.path(), None, env(&[("MY_ENV", "e")]));
    // kamal.md §1.3 nested $(...) runs through sh
    assert_eq!(value(&secrets, "NESTED").as_deref(), Some("nested"));
    // kamal.md §1.2 only the trailing newline is removed
    assert_eq!(value(&secrets, "TRAIL").as_deref(), Some("a\n"));
    // kamal.md §1.2 the command sees the process environment
    assert_eq!(value(&secrets, "FROM_ENV").as_deref(), Some("e"));
    // kamal.md §1.2 variables in the command text are expanded from earlier keys first
    assert_eq!(value(&secrets, "USES").as_deref(), Some("first-first"));
}

#[test]
fn commands_run_lazily_once_and_only_for_needed_keys() {
    // kamal.md §1.1 lazy, once; brief: only for the keys needed
    let count = Arc::new(AtomicUsize::new(0));
    let texts = vec![(
        ".kamal/secrets".into(),
        "A=$(one)\nB=$(two)\nC=${A}-x\nD=$(three)".to_string(),
    )];
    let secrets = Secrets::from_texts(texts, env(&[]), Box::new(Counting(count.clone()))).unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 0, "loading runs nothing");
    assert_eq!(value(&secrets, "C").as_deref(), Some("out:one-x"));
    assert_eq!(count.load(Ordering::SeqCst), 1, "only A's command ran");
    assert_eq!(value(&secrets, "A").as_deref(), Some("out:one"));
    assert_eq!(value(&secrets, "C").as_deref(), Some("out:one-x"));
    assert_eq!(count.load(Ordering::SeqCst), 1, "nothing ran twice");
    assert!(secrets.contains("D"));
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "contains evaluates nothing"
    );
}

#[test]
fn failing_command_names_key_and_stderr_but_no_value() {
    let dir = project(&[(
        ".kamal/secrets",
        "TOKEN=marker-earlier-9b1\nBROKEN=$(echo \"cannot use $TOKEN\" >&2; printf 'partial-out-77'; exit 3)\n",
    )]);
    let secrets = load(dir.path(), None, env(&[]));
    assert_eq!(
        value(&secrets, "TOKEN").as_deref(),
        Some("marker-earlier-9b1")
    );
    let err = secrets.get("BROKEN").unwrap_err();
    // brief: a non-zero exit is an error (Kamal itself would keep the partial output)
    let err = Error::from(err);
    assert_eq!(err.exit_status(), ExitStatus::Failure);
    let rendered = err.render();
    let all = format!("{rendered:?}");
    assert_eq!(
        rendered.message,
        "the command for secret BROKEN (.kamal/secrets:2) failed with exit status 3"
    );
    assert_eq!(rendered.causes, vec!["stderr: cannot use ****".to_string()]);
    assert!(!all.contains("marker-earlier-9b1"), "{all}");
    assert!(!all.contains("partial-out-77"), "{all}");
}

#[cfg(target_os = "linux")]
#[test]
fn command_text_is_not_on_any_command_line() {
    // Secrets never appear on a command line: the expanded text reaches sh through its env.
    let dir = project(&[(
        ".kamal/secrets",
        "PW=marker-cmdline-5e2\nSEEN=$(echo $PW >/dev/null; tr '\\\\0' ' ' < /proc/$$/cmdline)\n",
    )]);
    let secrets = load(dir.path(), None, env(&[]));
    let seen = value(&secrets, "SEEN").unwrap();
    assert!(seen.starts_with("sh -c"), "{seen}");
    assert!(!seen.contains("marker-cmdline-5e2"), "{seen}");
}

#[test]
fn kamal_secrets_commands_are_handled_like_kamal() {
    // kamal.md §1.2 special case / §1.4 intended pattern: fetch goes to `kamal ... --inline`
    // (shell-escaped JSON); extract is done in-process on the expanded $SECRETS.
    struct FakeKamal;
    impl CommandRunner for FakeKamal {
        fn run(
            &self,
            command: &str,
            _env: &BTreeMap<String, String>,
        ) -> std::io::Result<CommandOutput> {
            assert!(command.ends_with(" --inline"), "{command}");
            let json =
                r#"{"Vault/Item/DB_PASSWORD":"pw with 'quotes' and spaces","Vault/Item/API":"k"}"#;
            let escaped = String::from_utf8(shell_quote::Sh::quote_vec(json)).unwrap();
            Ok(CommandOutput {
                success: true,
                status: "exit status 0".into(),
                stdout: format!("{escaped}\n").into_bytes(),
                stderr: Vec::new(),
            })
        }
    }
    let text = concat!(
        "SECRETS=$(kamal secrets fetch --adapter 1password --account a --from Vault/Item DB_PASSWORD API)\n",
        "DB_PASSWORD=$(kamal secrets extract DB_PASSWORD $SECRETS)\n",
        "MISSING=$(kamal secrets extract NOPE ${SECRETS})\n",
        "PRINT=$(kamal secrets print)\n",
    );
    let secrets = Secrets::from_texts(
        vec![(".kamal/secrets".into(), text.to_string())],
        env(&[]),
        Box::new(FakeKamal),
    )
    .unwrap();
    assert_eq!(
        value(&secrets, "DB_PASSWORD").as_deref(),
        Some("pw with 'quotes' and spaces")
    );
    let err = Error::from(secrets.get("MISSING").unwrap_err());
    assert_eq!(err.exit_status(), ExitStatus::Usage);
    assert_eq!(
        err.to_string(),
        "secret MISSING (.kamal/secrets:3): the fetched secrets have no NOPE"
    );
    let err = secrets.get("PRINT").unwrap_err();
    assert!(
        err.to_string()
            .contains("only `kamal secrets fetch` and `kamal secrets extract`"),
        "{err}"
    );
}

#[test]
fn missing_key_names_config_and_every_file() {
    // brief / USER-JOURNEYS: the exact message, exit 2, checked before any command runs
    let count = Arc::new(AtomicUsize::new(0));
    let dir = project(&[
        (".kamal/secrets-common", "A=$(x)"),
        (".kamal/secrets", "B=1"),
    ]);
    let source = SecretsSource::new(dir.path(), None, None);
    let secrets = Secrets::load_with(&source, env(&[]), Box::new(Counting(count.clone()))).unwrap();
    let err = secrets
        .select(
            &["A".into(), "GITHUB_TOKEN".into()],
            Path::new("config/dev.yml"),
        )
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 0);
    let err = Error::from(err);
    assert_eq!(err.exit_status(), ExitStatus::Usage);
    let rendered = err.render();
    assert_eq!(
        rendered.message,
        "secret GITHUB_TOKEN is listed in config/dev.yml but not found"
    );
    assert_eq!(
        rendered.causes,
        vec!["looked in .kamal/secrets-common, .kamal/secrets".to_string()]
    );

    // kamal.md §1.1 when no file exists, the names it expected
    let empty = project(&[]);
    let secrets = load(empty.path(), Some("staging"), env(&[]));
    let err = Error::from(
        secrets
            .select(&["X".into()], Path::new("config/dev.yml"))
            .unwrap_err(),
    );
    assert_eq!(
        err.render().causes,
        vec![
            "no secrets file exists; expected .kamal/secrets-common, .kamal/secrets.staging"
                .to_string()
        ]
    );
}

#[test]
fn select_skips_provider_credentials_once() {
    let dir = project(&[(
        ".kamal/secrets",
        "GITHUB_TOKEN=gh\nHCLOUD_TOKEN=h\nUPCLOUD_TOKEN=u\n",
    )]);
    let secrets = load(dir.path(), None, env(&[]));
    let keys: Vec<String> = [
        "HCLOUD_TOKEN",
        "GITHUB_TOKEN",
        "UPCLOUD_TOKEN",
        "GITHUB_TOKEN",
        "UPCLOUD_PASSWORD",
    ]
    .iter()
    .map(|k| (*k).to_string())
    .collect();
    let selection = secrets.select(&keys, Path::new("config/dev.yml")).unwrap();
    let names: Vec<_> = selection.secrets.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, vec!["GITHUB_TOKEN"]);
    assert_eq!(
        selection.warnings,
        vec![SecretsWarning::ProviderCredentialsSkipped {
            keys: vec![
                "HCLOUD_TOKEN".into(),
                "UPCLOUD_TOKEN".into(),
                "UPCLOUD_PASSWORD".into()
            ]
        }]
    );
    let file = selection.env_file().unwrap();
    assert_eq!(file.variables, vec!["GITHUB_TOKEN", "GITHUB_TOKEN_B64"]);
    assert_eq!(
        file.contents.expose(),
        b"GITHUB_TOKEN=gh\nGITHUB_TOKEN_B64=Z2g=\n"
    );
    assert_eq!(selection.redactor().redact("token gh!"), "token ****!");
}

#[test]
fn provider_credentials_prefer_the_environment() {
    let count = Arc::new(AtomicUsize::new(0));
    let texts = vec![(
        ".kamal/secrets".into(),
        "HCLOUD_TOKEN=$(hc)\nUPCLOUD_TOKEN=$(uc)\nOTHER=$(other)".to_string(),
    )];
    let secrets = Secrets::from_texts(
        texts,
        env(&[("HCLOUD_TOKEN", "from-env")]),
        Box::new(Counting(count.clone())),
    )
    .unwrap();
    let hc = secrets
        .provider_credential("HCLOUD_TOKEN")
        .unwrap()
        .unwrap();
    assert_eq!(hc.expose(), "from-env");
    assert_eq!(count.load(Ordering::SeqCst), 0);
    let uc = secrets
        .provider_credential("UPCLOUD_TOKEN")
        .unwrap()
        .unwrap();
    assert_eq!(uc.expose(), "out:uc");
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "only UPCLOUD_TOKEN evaluated"
    );
    assert!(
        secrets
            .provider_credential("UPCLOUD_USERNAME")
            .unwrap()
            .is_none()
    );
}

#[cfg(unix)]
#[test]
fn loose_permissions_warn_with_the_fix() {
    let dir = project(&[(".kamal/secrets-common", "A=1"), (".kamal/secrets", "B=1")]);
    set_mode(&dir.path().join(".kamal/secrets"), 0o644);
    let secrets = load(dir.path(), None, env(&[]));
    assert_eq!(
        secrets.warnings(),
        &[SecretsWarning::LoosePermissions {
            path: ".kamal/secrets".into(),
            mode: 0o644
        }]
    );
    let text = secrets.warnings()[0].to_string();
    assert!(text.contains("chmod 600 .kamal/secrets"), "{text}");
}

#[test]
fn secrets_file_override_is_the_base_path() {
    // Documented choice: `secrets_file` acts as Kamal's `secrets_path` (kamal.md §1.1).
    let dir = project(&[
        ("config/team-secrets-common", "A=common"),
        ("config/team-secrets", "B=main"),
        ("config/team-secrets.prod", "B=prod"),
        (".kamal/secrets", "B=ignored"),
    ]);
    let source = SecretsSource::new(dir.path(), Some(Path::new("config/team-secrets")), None);
    assert_eq!(
        source.files(),
        vec![
            Path::new("config/team-secrets-common"),
            Path::new("config/team-secrets")
        ]
    );
    let secrets = Secrets::load_with(&source, env(&[]), Box::new(ShellRunner::default())).unwrap();
    assert_eq!(value(&secrets, "A").as_deref(), Some("common"));
    assert_eq!(value(&secrets, "B").as_deref(), Some("main"));
    let source = SecretsSource::new(
        dir.path(),
        Some(Path::new("config/team-secrets")),
        Some("prod"),
    );
    let secrets = Secrets::load_with(&source, env(&[]), Box::new(ShellRunner::default())).unwrap();
    assert_eq!(value(&secrets, "B").as_deref(), Some("prod"));
}

#[test]
fn format_and_encoding_errors_name_the_file() {
    let dir = project(&[(".kamal/secrets", "A=1\nexport MISSING\n")]);
    let source = SecretsSource::new(dir.path(), None, None);
    let err = Secrets::load_with(&source, env(&[]), Box::new(ShellRunner::default())).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(".kamal/secrets:2: `export MISSING`"),
        "{err}"
    );

    let dir = project(&[]);
    std::fs::create_dir_all(dir.path().join(".kamal")).unwrap();
    std::fs::write(dir.path().join(".kamal/secrets"), b"A=\xff\n").unwrap();
    let err = Secrets::load_with(
        &source_in(dir.path()),
        env(&[]),
        Box::new(ShellRunner::default()),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "secrets file .kamal/secrets is not valid UTF-8"
    );
}

fn source_in(dir: &Path) -> SecretsSource {
    SecretsSource::new(dir, None, None)
}

#[test]
fn redactor_knows_evaluated_values_only() {
    let texts = vec![(
        ".kamal/secrets".into(),
        "A=alpha-secret\nB=beta-secret".to_string(),
    )];
    let secrets = Secrets::from_texts(texts, env(&[]), Box::new(ShellRunner::default())).unwrap();
    let _ = secrets.get("A").unwrap();
    assert_eq!(
        secrets.redactor().redact("alpha-secret beta-secret"),
        "**** beta-secret"
    );
}

#[test]
fn too_deep_references_are_an_error_not_a_crash() {
    let mut text = String::from("K0=x\n");
    for i in 1..300 {
        writeln!(text, "K{i}=$K{}", i - 1).unwrap();
    }
    let secrets = Secrets::from_texts(
        vec![(".kamal/secrets".into(), text)],
        env(&[]),
        Box::new(ShellRunner::default()),
    )
    .unwrap();
    assert!(matches!(
        secrets.get("K299"),
        Err(SecretsError::TooDeep { .. })
    ));
    assert_eq!(value(&secrets, "K100").as_deref(), Some("x"));
}

#[test]
fn commands_run_in_the_project_folder() {
    let dir = project(&[
        (".kamal/secrets", "HERE=$(cat .kamal/marker.txt)\n"),
        (".kamal/marker.txt", "found\n"),
    ]);
    let source = SecretsSource::new(dir.path(), None, None);
    let secrets = Secrets::load(&source).unwrap();
    assert_eq!(value(&secrets, "HERE").as_deref(), Some("found"));
}

#[test]
fn linebreak_mode_from_the_environment() {
    // kamal.md §1.3 DOTENV_LINEBREAK_MODE=legacy may come from the environment too
    let texts = vec![(".kamal/secrets".into(), "X=\"a\\nb\"".to_string())];
    let legacy = env(&[("DOTENV_LINEBREAK_MODE", "legacy")]);
    let secrets =
        Secrets::from_texts(texts.clone(), legacy, Box::new(ShellRunner::default())).unwrap();
    assert_eq!(value(&secrets, "X").as_deref(), Some("a\nb"));
    let secrets = Secrets::from_texts(texts, env(&[]), Box::new(ShellRunner::default())).unwrap();
    assert_eq!(value(&secrets, "X").as_deref(), Some("a\\nb"));
}
