//! [`StateStore`]: the one place that reads and writes `.kamal/dev_state.yml`.
//!
//! A write is: exclusive lock on the sidecar, re-read the file, run the caller's closure on
//! that fresh state, then publish through a temp file in the same folder (fsync, rename, fsync
//! of the folder) after keeping the previous version as `<state>.bak`. Readers therefore see
//! the old or the new file, never a mix. A file that does not parse is reported and never
//! overwritten. The store is synchronous: async callers run it in `spawn_blocking` when the
//! lock may be contended.

use std::fs;
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::StateError;
use super::lock::{LockMode, Locker, sibling};
use super::migrate::{parse, render};
use super::model::{SCHEMA_VERSION, State};

/// Where the state file lives, relative to the project root.
pub const DEFAULT_PATH: &str = ".kamal/dev_state.yml";

/// How long to wait for another kamal-dev process to release the lock.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads and updates one state file under its lock.
#[derive(Debug, Clone)]
pub struct StateStore {
    path: PathBuf,
    timeout: Duration,
    /// From `KAMAL_DEV_LOCK`; an invalid value is reported when the lock is first needed.
    mode: Result<LockMode, String>,
    command: String,
}

impl StateStore {
    /// A store for the file at `path` (usually [`DEFAULT_PATH`]), with the default timeout,
    /// the lock mode from `KAMAL_DEV_LOCK` and this process's subcommand as holder label.
    pub fn new(path: impl Into<PathBuf>) -> StateStore {
        StateStore {
            path: path.into(),
            timeout: DEFAULT_TIMEOUT,
            mode: LockMode::from_env()
                .map_err(|_| std::env::var(LockMode::ENV).unwrap_or_default()),
            command: command_label(std::env::args().skip(1)),
        }
    }

    /// The store for `.kamal/dev_state.yml` under `root`.
    pub fn in_project(root: &Path) -> StateStore {
        StateStore::new(root.join(DEFAULT_PATH))
    }

    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> StateStore {
        self.timeout = timeout;
        self
    }

    #[must_use]
    pub fn with_lock_mode(mut self, mode: LockMode) -> StateStore {
        self.mode = Ok(mode);
        self
    }

    /// The label a waiting process shows for this one (`kamal-dev deploy`). Never pass
    /// anything that could hold a secret.
    #[must_use]
    pub fn with_command(mut self, label: impl Into<String>) -> StateStore {
        self.command = label.into();
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The previous good version, kept on every write.
    pub fn backup_path(&self) -> PathBuf {
        sibling(&self.path, ".bak")
    }

    /// The current state under a shared lock. A missing file is an empty state, and reading
    /// creates nothing but the lock file (and not even that when `.kamal/` does not exist).
    pub fn read(&self) -> Result<State, StateError> {
        let folder_exists = self.folder().is_dir();
        if !folder_exists {
            return Ok(State::default());
        }
        let _guard = self.locker()?.acquire(false)?;
        Ok(self.load()?.0)
    }

    /// Run `change` on a freshly read state under the exclusive lock and publish the result.
    /// Nothing is written when `change` fails or leaves the state as it was; otherwise
    /// `serial` goes up by one. `E` is usually `crate::error::Error` or `StateError`.
    pub fn update<T, E>(&self, change: impl FnOnce(&mut State) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StateError>,
    {
        let folder = self.folder();
        fs::create_dir_all(&folder).map_err(|e| StateError::io("create the folder", &folder, e))?;
        let guard = self.locker()?.acquire(true)?;
        let (mut state, existed) = self.load()?;
        let before = state.clone();
        let value = change(&mut state)?;
        if state != before {
            state.version = SCHEMA_VERSION;
            state.serial = before.serial.saturating_add(1);
            self.publish(&state, existed)?;
        }
        drop(guard);
        Ok(value)
    }

    fn locker(&self) -> Result<Locker, StateError> {
        let mode = self.mode.clone().map_err(StateError::BadLockMode)?;
        Ok(Locker {
            state_path: self.path.clone(),
            mode,
            timeout: self.timeout,
            command: self.command.clone(),
        })
    }

    fn folder(&self) -> PathBuf {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The parsed state and whether the file exists.
    fn load(&self) -> Result<(State, bool), StateError> {
        match fs::read(&self.path) {
            Ok(bytes) => {
                let display = self.path.display().to_string();
                let text = String::from_utf8(bytes).map_err(|e| StateError::Corrupt {
                    path: display.clone(),
                    line: 1,
                    column: 1,
                    message: format!(
                        "not UTF-8 text (invalid byte at offset {})",
                        e.utf8_error().valid_up_to()
                    ),
                })?;
                Ok((parse(&text, &display)?, true))
            }
            Err(err) if err.kind() == ErrorKind::NotFound => Ok((State::default(), false)),
            Err(err) => Err(StateError::io("read", &self.path, err)),
        }
    }

    /// Called with the exclusive lock held.
    fn publish(&self, state: &State, existed: bool) -> Result<(), StateError> {
        let text = render(state)?;
        let folder = self.folder();
        let prefix = self.temp_prefix();
        remove_leftover_temps(&folder, &prefix);
        if existed {
            self.keep_backup(&folder, &prefix)?;
        }
        let mut temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .tempfile_in(&folder)
            .map_err(|e| StateError::io("create a temporary file in", &folder, e))?;
        temp.write_all(text.as_bytes())
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|e| StateError::io("write", temp.path(), e))?;
        temp.persist(&self.path)
            .map_err(|e| StateError::io("replace", &self.path, e.error))?;
        sync_folder(&folder)
    }

    /// Point `<state>.bak` at the current file: a hard link under a temp name, renamed into
    /// place, so the backup is never half-written either.
    fn keep_backup(&self, folder: &Path, prefix: &str) -> Result<(), StateError> {
        let backup = self.backup_path();
        let staging = folder.join(format!("{prefix}bak.tmp"));
        let _ = fs::remove_file(&staging);
        let linked = fs::hard_link(&self.path, &staging)
            .or_else(|_| fs::copy(&self.path, &staging).map(|_| ()));
        linked
            .and_then(|()| fs::rename(&staging, &backup))
            .map_err(|e| StateError::io("write the backup", &backup, e))?;
        // When a killed writer left the backup linked to the current file, the rename above
        // is a no-op between two names of one file and leaves the staging name behind.
        let _ = fs::remove_file(&staging);
        Ok(())
    }

    /// `.dev_state.yml.`: temp files of this store start with it (hidden, and recognisable
    /// as ours when a killed writer left one behind).
    fn temp_prefix(&self) -> String {
        let name = self
            .path
            .file_name()
            .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
        format!(".{name}.")
    }
}

/// Temp files only exist while their writer holds the lock; the caller holds it now, so any
/// found are from a writer that was killed.
fn remove_leftover_temps(folder: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let temp = Path::new(&*name).extension().is_some_and(|e| e == "tmp");
        if name.starts_with(prefix) && temp {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn sync_folder(folder: &Path) -> Result<(), StateError> {
    #[cfg(unix)]
    {
        fs::File::open(folder)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| StateError::io("sync the folder", folder, e))
    }
    #[cfg(not(unix))]
    {
        let _ = folder;
        Ok(())
    }
}

/// `kamal-dev <subcommand>` from the arguments after the program name: the first word that is
/// not a flag or the value of a global flag. Never more, so no secret reaches the lock file.
fn command_label(args: impl Iterator<Item = String>) -> String {
    let mut skip_value = false;
    for arg in args {
        if skip_value {
            skip_value = false;
            continue;
        }
        if matches!(arg.as_str(), "-c" | "--config" | "-d" | "--destination") {
            skip_value = true;
            continue;
        }
        if !arg.starts_with('-') {
            return format!("kamal-dev {arg}");
        }
    }
    "kamal-dev".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::model::{Workspace, WorkspaceStatus};

    fn workspace(name: &str) -> Workspace {
        Workspace {
            machine: None,
            vm_id: None,
            vm_ip: None,
            container_name: name.into(),
            ports: vec![],
            status: WorkspaceStatus::Running,
            deployed_at: jiff::Timestamp::UNIX_EPOCH,
            updated_at: None,
            last_error: None,
        }
    }

    fn store(dir: &Path) -> StateStore {
        StateStore::in_project(dir).with_lock_mode(LockMode::Flock)
    }

    #[test]
    fn missing_file_reads_empty_without_creating_anything() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(store(dir.path()).read().unwrap(), State::default());
        assert!(!dir.path().join(".kamal").exists());
    }

    #[test]
    fn update_writes_bumps_serial_and_keeps_backup() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.update(|st| {
            st.workspaces.insert("a".into(), workspace("a"));
            Ok::<_, StateError>(())
        })
        .unwrap();
        assert!(!s.backup_path().exists());
        s.update(|st| {
            st.workspaces.insert("b".into(), workspace("b"));
            Ok::<_, StateError>(())
        })
        .unwrap();
        let state = s.read().unwrap();
        assert_eq!(state.serial, 2);
        assert_eq!(state.workspaces.len(), 2);
        let backup = parse(&fs::read_to_string(s.backup_path()).unwrap(), "bak").unwrap();
        assert_eq!(backup.serial, 1);
        // A no-op update writes nothing.
        s.update(|_| Ok::<_, StateError>(())).unwrap();
        assert_eq!(s.read().unwrap().serial, 2);
        let leftovers: Vec<_> = fs::read_dir(dir.path().join(".kamal"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| Path::new(n).extension().is_some_and(|e| e == "tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn failed_closure_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let err = s
            .update(|st| {
                st.workspaces.insert("a".into(), workspace("a"));
                Err::<(), _>(StateError::Serialize("boom".into()))
            })
            .unwrap_err();
        assert!(matches!(err, StateError::Serialize(_)));
        assert!(!s.path().exists());
    }

    #[test]
    fn corrupt_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        fs::create_dir_all(dir.path().join(".kamal")).unwrap();
        let text = "version: 1\ndeployments: [oops\n";
        fs::write(s.path(), text).unwrap();
        assert!(matches!(s.read(), Err(StateError::Corrupt { .. })));
        let result = s.update(|st| {
            st.workspaces.insert("a".into(), workspace("a"));
            Ok::<_, StateError>(())
        });
        assert!(matches!(result, Err(StateError::Corrupt { .. })));
        assert_eq!(fs::read_to_string(s.path()).unwrap(), text);
    }

    #[test]
    fn command_label_skips_flags_and_their_values() {
        let label = |args: &[&str]| command_label(args.iter().map(|s| (*s).to_string()));
        assert_eq!(
            label(&["-c", "x.yml", "-v", "deploy", "--secret"]),
            "kamal-dev deploy"
        );
        assert_eq!(label(&["--quiet"]), "kamal-dev");
    }
}
