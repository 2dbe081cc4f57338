//! Source delivery: put the user's code into a workspace's folder on its machine, from
//! `source.git` (a clone made on the machine) or `source.upload` (a tar archive of a local
//! folder, honouring `.gitignore`, sent over the command's stdin). Skipped for the `local`
//! provider, whose containers mount the project folder itself.
//!
//! The git token (from the secret named by `token_secret`) travels only on the stdin of the
//! remote shell, which keeps it in an environment variable read by a credential helper given
//! with `git -c`: it is never in the URL, on a command line, in `.git/config`, or in a file.
//! Never prints: progress goes to the run's reporter.

use crate::config::{GitSource, Source};
use crate::error::{Error, ExitStatus, Message};
use crate::remote::Executor;

use super::apply::Run;
use super::container::{WorkspaceInputs, image_facts};
use super::events::{Event, Step};
use super::plan::WorkspacePlan;

pub(super) mod archive;

/// Deliver the configured source of `plan`'s workspace into `host_dir` on `executor`'s
/// machine. Does nothing when no source is configured or `deploy --no-source` was given.
pub async fn deliver(
    run: &Run<'_>,
    executor: &Executor,
    plan: &WorkspacePlan,
    host_dir: &str,
) -> Result<(), Error> {
    let fleet = run.fleet;
    let Some(source) = &fleet.config().source else {
        return Ok(());
    };
    let step = |detail: String| {
        run.reporter.event(Event::Step {
            subject: plan.name.clone(),
            step: Step::DeliverSource,
            detail: Some(detail),
        });
    };
    if !run.deliver_source {
        step("skipped (--no-source)".into());
        return Ok(());
    }
    if fleet.is_local() {
        step("skipped: the local provider mounts the project folder itself".into());
        return Ok(());
    }
    match source {
        Source::Git(git) => {
            let branch = git
                .branch
                .as_deref()
                .map(|b| branch_name(b, &fleet.config().service, plan.index, &plan.name));
            step(format!(
                "git clone {}{}",
                git.url,
                branch
                    .as_deref()
                    .map(|b| format!(" ({b})"))
                    .unwrap_or_default()
            ));
            let token = token(run, git).await?;
            let argv = git_argv(git, branch.as_deref(), host_dir)?;
            let mut stdin = token.unwrap_or_default().into_bytes();
            stdin.push(b'\n');
            let output = executor.run(&argv, Some(&stdin)).await;
            // The token buffer is overwritten as soon as it is sent.
            stdin.fill(0);
            let output = output?;
            if !output.success() {
                let stderr = output.stderr_text();
                let hint = if output.exit.code() == Some(127) {
                    "install git on the machine (e.g. `apt-get install -y git`), or use `source.upload`"
                } else {
                    "check source.git.url and branch in config/dev.yml, and the token's access to the repository"
                };
                return Err(Message::new(
                    format!(
                        "git clone of {} failed on {}: {}",
                        git.url,
                        executor.label(),
                        last_lines(&stderr)
                    ),
                    ExitStatus::Failure,
                )
                .with_hint(hint)
                .into());
            }
            let said = output.stdout_text();
            if let Some(line) = said.lines().last() {
                step(line.to_string());
            }
            hand_over(run, executor, plan, host_dir).await;
            Ok(())
        }
        Source::Upload(folder) => {
            let root = fleet.project_root().join(folder);
            step(format!("uploading {}", folder.display()));
            if !root.is_dir() {
                return Err(Message::new(
                    format!("source.upload: {} is not a folder", root.display()),
                    ExitStatus::Usage,
                )
                .with_hint("set source.upload in config/dev.yml to a folder of the project")
                .into());
            }
            // The archive is built while it is sent: nothing holds the whole of it.
            let (mut reader, producer) = archive::stream(archive::Selection::Source(root.clone()));
            let output = executor
                .run_reading(&extract_argv(host_dir), &mut reader)
                .await;
            drop(reader);
            let archived = producer
                .await
                .map_err(|e| Error::failed(format!("internal task failed: {e}")))?;
            let size = archived.map_err(|err| {
                Message::new(
                    format!("could not archive {} for upload", root.display()),
                    ExitStatus::Failure,
                )
                .with_source(err)
                .with_hint("check that every file under source.upload is readable")
            })?;
            let output = output?;
            if !output.success() {
                return Err(Message::new(
                    format!(
                        "unpacking the upload failed on {}: {}",
                        executor.label(),
                        last_lines(&output.stderr_text())
                    ),
                    ExitStatus::Failure,
                )
                .into());
            }
            step(format!("uploaded {} KiB", size.div_ceil(1024)));
            hand_over(run, executor, plan, host_dir).await;
            Ok(())
        }
    }
}

/// Give the delivered files to the user the container's shells run as (remoteUser, else
/// containerUser), so a non-root devcontainer user can edit its code. Best effort: a failure
/// is a warning, the files stay the SSH user's.
async fn hand_over(run: &Run<'_>, executor: &Executor, plan: &WorkspacePlan, host_dir: &str) {
    if let Err(why) = chown_to_container_user(run, executor, plan, host_dir).await {
        run.reporter.event(Event::Warning {
            message: format!(
                "{}: the delivered source stays owned by the SSH user: {why}",
                plan.name
            ),
        });
    }
}

async fn chown_to_container_user(
    run: &Run<'_>,
    executor: &Executor,
    plan: &WorkspacePlan,
    host_dir: &str,
) -> Result<(), String> {
    let step = run.blueprint.image_step().map_err(|e| e.to_string())?;
    let image = step.image();
    let inspect = executor
        .run_checked(&["docker", "image", "inspect", image], None)
        .await
        .map_err(|e| e.to_string())?;
    let facts = image_facts(&inspect.stdout_text())?;
    let container = run
        .blueprint
        .container(
            &facts,
            &WorkspaceInputs {
                // The source goes to a machine's copy, never to this host's project.
                local: false,
                ..run
                    .fleet
                    .workspace_inputs(&plan.name, &plan.machine, host_dir)
            },
        )
        .map_err(|e| e.to_string())?;
    let Some(user) = container
        .user
        .filter(|u| !u.is_empty() && u != "root" && u != "0")
    else {
        return Ok(());
    };
    let ids = executor
        .run_checked(
            &[
                "docker",
                "run",
                "--rm",
                "--user",
                user.as_str(),
                "--entrypoint",
                "sh",
                image,
                "-c",
                "echo \"$(id -u):$(id -g)\"",
            ],
            None,
        )
        .await
        .map_err(|e| format!("could not look up user {user} in {image}: {e}"))?;
    let owner = ids.stdout_text().trim().to_string();
    if !owner
        .split(':')
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "user {user} in {image} has no numeric id ({owner:?})"
        ));
    }
    executor
        .run_checked(&["chown", "-R", owner.as_str(), "--", host_dir], None)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The token from the secret `token_secret` names, evaluated off the async threads.
async fn token(run: &Run<'_>, git: &GitSource) -> Result<Option<String>, Error> {
    let Some(name) = git.token_secret.clone() else {
        return Ok(None);
    };
    let secrets = std::sync::Arc::clone(&run.fleet.secrets);
    let lookup = name.clone();
    let value = tokio::task::spawn_blocking(move || secrets.get(&lookup))
        .await
        .map_err(|e| Error::failed(format!("internal task failed: {e}")))??;
    match value {
        Some(secret) if !secret.is_empty() => Ok(Some(secret.expose().to_string())),
        _ => Err(Message::new(
            format!(
                "source.git.token_secret names {name}, which has no value in the secrets files"
            ),
            ExitStatus::Usage,
        )
        .with_hint(format!(
            "add {name}=... to .kamal/secrets, or remove token_secret for a public repository"
        ))
        .into()),
    }
}

/// `branch` with `{service}`, `{index}` and `{name}` filled in.
pub fn branch_name(template: &str, service: &str, index: u32, name: &str) -> String {
    template
        .replace("{service}", service)
        .replace("{index}", &index.to_string())
        .replace("{name}", name)
}

/// The remote shell that clones (or keeps an existing checkout). Reads the token from its
/// first stdin line into the environment, where only the credential helper reads it.
const GIT_SCRIPT: &str = r#"
url=$1; branch=$2; base=$3; dir=$4
IFS= read -r KAMAL_DEV_GIT_TOKEN || true
export KAMAL_DEV_GIT_TOKEN
export GIT_TERMINAL_PROMPT=0
command -v git >/dev/null 2>&1 || { echo "git is not installed on this machine" >&2; exit 127; }
if [ -e "$dir/.git" ]; then echo "kept the existing checkout"; exit 0; fi
g() {
  if [ -n "$KAMAL_DEV_GIT_TOKEN" ]; then
    git -c credential.helper= -c 'credential.helper=!f() { test "$1" = get || exit 0; echo username=x-access-token; echo "password=$KAMAL_DEV_GIT_TOKEN"; }; f' "$@"
  else
    git -c credential.helper= "$@"
  fi
}
clone() {
  if [ -n "$1" ]; then g clone --quiet --branch "$1" -- "$url" "$dir"; else g clone --quiet -- "$url" "$dir"; fi
}
if [ -n "$branch" ]; then
  g ls-remote --exit-code --heads "$url" "refs/heads/$branch" >/dev/null
  rc=$?
  if [ "$rc" -eq 0 ]; then clone "$branch" || exit $?; echo "cloned branch $branch"; exit 0; fi
  if [ "$rc" -ne 2 ]; then exit "$rc"; fi
  clone "$base" || exit $?
  git -C "$dir" checkout --quiet -b "$branch" || exit $?
  echo "created branch $branch from ${base:-the default branch}"
  exit 0
fi
clone "$base" || exit $?
echo "cloned ${base:-the default branch}"
"#;

/// The argv of the clone; URL, branch and folder are positional parameters, never spliced
/// into the script.
pub fn git_argv(
    git: &GitSource,
    branch: Option<&str>,
    host_dir: &str,
) -> Result<Vec<String>, Error> {
    let bad = |what: &str, value: &str| -> Error {
        Message::new(
            format!("source.git.{what} {value:?} cannot start with '-' or contain a newline"),
            ExitStatus::Usage,
        )
        .into()
    };
    let checks = [
        ("url", Some(git.url.as_str())),
        ("branch", branch),
        ("base", git.base.as_deref()),
    ];
    for (what, value) in checks {
        if let Some(value) = value
            && (value.starts_with('-') || value.contains('\n'))
        {
            return Err(bad(what, value));
        }
    }
    Ok(vec![
        "sh".into(),
        "-c".into(),
        GIT_SCRIPT.into(),
        "sh".into(),
        git.url.clone(),
        branch.unwrap_or_default().to_string(),
        git.base.clone().unwrap_or_default(),
        host_dir.to_string(),
    ])
}

/// Unpack a tar archive from stdin into `host_dir`, owned by the user unpacking it.
pub fn extract_argv(host_dir: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        r#"mkdir -p -- "$1" && tar -x -o -f - -C "$1""#.into(),
        "sh".into(),
        host_dir.to_string(),
    ]
}

fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .rev()
        .take(3)
        .collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(url: &str) -> GitSource {
        GitSource {
            url: url.into(),
            branch: None,
            base: Some("main".into()),
            token_secret: Some("GITHUB_TOKEN".into()),
        }
    }

    #[test]
    fn branch_templates() {
        assert_eq!(
            branch_name("ws/{service}-{index}/{name}", "app", 2, "app-2"),
            "ws/app-2/app-2"
        );
        assert_eq!(branch_name("main", "app", 1, "app-1"), "main");
    }

    #[test]
    fn git_argv_keeps_values_out_of_the_script() {
        let argv = git_argv(&git("https://example.com/r.git"), Some("ws-1"), "/w/app-1").unwrap();
        assert_eq!(&argv[..2], &["sh", "-c"]);
        assert!(!argv[2].contains("example.com"));
        assert_eq!(
            &argv[4..],
            &["https://example.com/r.git", "ws-1", "main", "/w/app-1"]
        );
        // The helper refers to the variable; nothing else carries the token.
        assert!(argv[2].contains("password=$KAMAL_DEV_GIT_TOKEN"));
        assert!(git_argv(&git("--upload-pack=x"), None, "/w").is_err());
        assert!(git_argv(&git("u"), Some("-b"), "/w").is_err());
    }

    #[test]
    fn extract_keeps_the_folder_positional() {
        let argv = extract_argv("/w/my app");
        assert_eq!(argv[4], "/w/my app");
        assert!(!argv[2].contains("my app"));
    }
}
