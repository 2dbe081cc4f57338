//! Reading the secrets files (kamal.md §1.1), lazy once-per-run evaluation of the keys
//! actually asked for, selection of the config's `secrets:` list and provider credentials.
//!
//! Reading the files runs nothing. A key's `$(command)`s run the first time that key (or a key
//! that refers to it) is asked for, and never again in the run. The only process started is
//! `sh`, through [`CommandRunner`], so tests substitute a fake. Never prints.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::error::{CommandStderr, Searched};
use super::inline::{self, Inline};
use super::parse::{self, Entry, Resolve};
use super::runner::{CommandRunner, ShellRunner, process_environment};
use super::source::SecretsSource;
use super::{
    EnvFile, Redactor, Secret, SecretsError, SecretsWarning, env_file, is_provider_credential,
};

/// How many keys deep `$A` may refer to `$B` to `$C`...; far beyond any real file, and it
/// keeps a pathological file from exhausting the stack.
const MAX_DEPTH: usize = 128;

/// Longest stderr quoted in an error.
const MAX_STDERR: usize = 2000;

struct LoadedFile {
    path: PathBuf,
    entries: Vec<Entry>,
}

#[derive(Default)]
struct Cache {
    values: HashMap<(usize, usize), String>,
    redactor: Redactor,
}

/// The secrets files of one run, parsed but not evaluated. Evaluation is serialised by a
/// mutex, as in Kamal, so two callers never run the same command twice.
pub struct Secrets {
    files: Vec<LoadedFile>,
    searched: Vec<PathBuf>,
    env: BTreeMap<String, String>,
    runner: Box<dyn CommandRunner>,
    warnings: Vec<SecretsWarning>,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("searched", &self.searched)
            .finish_non_exhaustive()
    }
}

/// The config's `secrets:` keys resolved for injection.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Keys to inject, in config order, without provider credentials.
    pub secrets: Vec<(String, Secret)>,
    pub warnings: Vec<SecretsWarning>,
}

impl Selection {
    /// The env file for `--env-file`; its warnings are separate from [`Selection::warnings`].
    pub fn env_file(&self) -> Result<EnvFile, SecretsError> {
        env_file(&self.secrets)
    }

    /// A redactor that knows every selected value.
    pub fn redactor(&self) -> Redactor {
        let mut redactor = Redactor::new();
        for (_, secret) in &self.secrets {
            redactor.add(secret);
        }
        redactor
    }
}

impl Secrets {
    /// Read and parse the files with this process's environment (plus `KAMAL_DESTINATION`
    /// when there is a destination) and the real `sh` in the project folder. Runs no command.
    pub fn load(source: &SecretsSource) -> Result<Secrets, SecretsError> {
        Secrets::load_with(
            source,
            process_environment(),
            Box::new(ShellRunner::in_dir(&source.root)),
        )
    }

    /// [`Secrets::load`] with an explicit environment and command runner. Missing files are
    /// skipped, as Kamal does; a missing key is reported when it is asked for.
    pub fn load_with(
        source: &SecretsSource,
        mut env: BTreeMap<String, String>,
        runner: Box<dyn CommandRunner>,
    ) -> Result<Secrets, SecretsError> {
        if let Some(dest) = &source.destination {
            env.insert("KAMAL_DESTINATION".to_string(), dest.clone());
        }
        let mut texts = Vec::new();
        let mut warnings = Vec::new();
        for (shown, opened) in &source.files {
            let bytes = match std::fs::read(opened) {
                Ok(bytes) => bytes,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(SecretsError::Read {
                        path: shown.clone(),
                        source,
                    });
                }
            };
            if let Some(warning) = permission_warning(shown, opened) {
                warnings.push(warning);
            }
            let text = String::from_utf8(bytes).map_err(|_| SecretsError::NotUtf8 {
                path: shown.clone(),
            })?;
            texts.push((shown.clone(), text));
        }
        let mut secrets = Secrets::from_texts(texts, env, runner)?;
        secrets.searched = source.files();
        secrets.warnings = warnings;
        Ok(secrets)
    }

    /// Parse already-read file texts (name, contents) in read order.
    pub fn from_texts(
        texts: Vec<(PathBuf, String)>,
        env: BTreeMap<String, String>,
        runner: Box<dyn CommandRunner>,
    ) -> Result<Secrets, SecretsError> {
        let searched = texts.iter().map(|(p, _)| p.clone()).collect();
        let mut files = Vec::new();
        for (path, text) in texts {
            let entries = parse::parse_file(&text).map_err(|e| SecretsError::ExportUnset {
                path: path.clone(),
                line: e.line,
                key: e.key,
            })?;
            files.push(LoadedFile { path, entries });
        }
        Ok(Secrets {
            files,
            searched,
            env,
            runner,
            warnings: Vec::new(),
            cache: Mutex::new(Cache::default()),
        })
    }

    /// Warnings found while reading (loose file permissions).
    pub fn warnings(&self) -> &[SecretsWarning] {
        &self.warnings
    }

    /// Every file that was or would have been read, as shown to the user.
    pub fn searched(&self) -> &[PathBuf] {
        &self.searched
    }

    /// Whether any file defines `key`; evaluates nothing.
    pub fn contains(&self, key: &str) -> bool {
        self.locate(key).is_some()
    }

    /// The value of `key`, evaluating it (and only what it refers to) on first use.
    pub fn get(&self, key: &str) -> Result<Option<Secret>, SecretsError> {
        let Some((file, entry)) = self.locate(key) else {
            return Ok(None);
        };
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        self.evaluate(&mut cache, file, entry, 0)
            .map(|v| Some(Secret::new(v)))
    }

    /// Resolve the config's `secrets:` list. Every key is checked before any command runs; a
    /// missing one is [`SecretsError::NotFound`] naming `listed_in` and every file searched.
    /// Provider credentials are left out, with one warning naming them.
    pub fn select(&self, keys: &[String], listed_in: &Path) -> Result<Selection, SecretsError> {
        let mut wanted: Vec<&str> = Vec::new();
        let mut skipped: Vec<String> = Vec::new();
        for key in keys {
            if is_provider_credential(key) {
                if !skipped.contains(key) {
                    skipped.push(key.clone());
                }
            } else if !wanted.contains(&key.as_str()) {
                wanted.push(key);
            }
        }
        if let Some(missing) = wanted.iter().find(|key| !self.contains(key)) {
            return Err(SecretsError::NotFound {
                key: (*missing).to_string(),
                listed_in: listed_in.to_path_buf(),
                searched: Searched {
                    files: self.searched.clone(),
                    any_exists: !self.files.is_empty(),
                },
            });
        }
        let mut secrets = Vec::new();
        for key in wanted {
            if let Some(value) = self.get(key)? {
                secrets.push((key.to_string(), value));
            }
        }
        let mut warnings = Vec::new();
        if !skipped.is_empty() {
            warnings.push(SecretsWarning::ProviderCredentialsSkipped { keys: skipped });
        }
        Ok(Selection { secrets, warnings })
    }

    /// A provider credential: the environment first (a non-empty value), then the secrets
    /// files, evaluating only that key.
    pub fn provider_credential(&self, name: &str) -> Result<Option<Secret>, SecretsError> {
        if let Some(value) = self.env.get(name).filter(|v| !v.is_empty()) {
            return Ok(Some(Secret::new(value.clone())));
        }
        self.get(name)
    }

    /// A redactor that knows every value evaluated so far.
    pub fn redactor(&self) -> Redactor {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .redactor
            .clone()
    }

    /// The definition that wins: the last file that has the key, its last line for it.
    fn locate(&self, key: &str) -> Option<(usize, usize)> {
        self.files.iter().enumerate().rev().find_map(|(f, file)| {
            file.entries
                .iter()
                .rposition(|e| e.key == key)
                .map(|e| (f, e))
        })
    }

    fn evaluate(
        &self,
        cache: &mut Cache,
        file: usize,
        entry: usize,
        depth: usize,
    ) -> Result<String, SecretsError> {
        if let Some(value) = cache.values.get(&(file, entry)) {
            return Ok(value.clone());
        }
        let Some(e) = self.files.get(file).and_then(|f| f.entries.get(entry)) else {
            return Ok(String::new());
        };
        let mut resolver = EntryResolver {
            secrets: self,
            cache,
            file,
            entry,
            depth,
        };
        let value = parse::expand(&e.raw, e.quote, &mut resolver)?;
        cache.redactor.add(&Secret::new(value.clone()));
        cache.values.insert((file, entry), value.clone());
        Ok(value)
    }

    fn location(&self, file: usize, entry: usize) -> (String, PathBuf, usize) {
        self.files
            .get(file)
            .and_then(|f| {
                f.entries
                    .get(entry)
                    .map(|e| (e.key.clone(), f.path.clone(), e.line))
            })
            .unwrap_or_default()
    }
}

/// Lookups for one entry: earlier keys of the same file (kamal.md §1.1: files are parsed on
/// their own), then the environment.
struct EntryResolver<'a> {
    secrets: &'a Secrets,
    cache: &'a mut Cache,
    file: usize,
    entry: usize,
    depth: usize,
}

impl Resolve for EntryResolver<'_> {
    type Error = SecretsError;

    fn lookup(&mut self, name: &str) -> Result<Option<String>, SecretsError> {
        let earlier = self
            .secrets
            .files
            .get(self.file)
            .and_then(|f| f.entries.get(..self.entry))
            .and_then(|entries| entries.iter().rposition(|e| e.key == name));
        if let Some(index) = earlier {
            if self.depth >= MAX_DEPTH {
                let (key, path, line) = self.secrets.location(self.file, self.entry);
                return Err(SecretsError::TooDeep {
                    key,
                    path,
                    line,
                    limit: MAX_DEPTH,
                });
            }
            return self
                .secrets
                .evaluate(self.cache, self.file, index, self.depth + 1)
                .map(Some);
        }
        Ok(self.secrets.env.get(name).cloned())
    }

    fn run(&mut self, command: &str) -> Result<String, SecretsError> {
        let (key, path, line) = self.secrets.location(self.file, self.entry);
        let command = if parse::is_kamal_secrets_command(command) {
            match inline::handle(command) {
                Inline::Value(value) => return Ok(parse::chomp(value)),
                Inline::Refused(reason) => {
                    return Err(SecretsError::KamalSecretsCommand {
                        key,
                        path,
                        line,
                        reason,
                    });
                }
                Inline::Shell(command) => command,
            }
        } else {
            command.to_string()
        };
        let output = match self.secrets.runner.run(&command, &self.secrets.env) {
            Ok(output) => output,
            Err(source) => {
                return Err(SecretsError::CommandSpawn {
                    key,
                    path,
                    line,
                    source,
                });
            }
        };
        if !output.success {
            // The failing command may echo values it was given; hide every one known so far,
            // and its own output, which may be a partial secret.
            let mut redactor = self.cache.redactor.clone();
            let stdout = String::from_utf8_lossy(&output.stdout);
            for out_line in stdout.lines().filter(|l| l.trim().len() >= 4) {
                redactor.add(&Secret::new(out_line));
            }
            let stderr = String::from_utf8_lossy(&output.stderr);
            let mut stderr = redactor.redact(stderr.trim());
            if stderr.len() > MAX_STDERR {
                let cut = (0..=MAX_STDERR)
                    .rev()
                    .find(|i| stderr.is_char_boundary(*i))
                    .unwrap_or(0);
                stderr.truncate(cut);
                stderr.push_str(" [...]");
            }
            return Err(SecretsError::CommandFailed {
                key,
                path,
                line,
                status: output.status,
                stderr: CommandStderr(stderr),
            });
        }
        let stdout = String::from_utf8(output.stdout)
            .map_err(|_| SecretsError::CommandOutputNotUtf8 { key, path, line })?;
        Ok(parse::chomp(stdout))
    }
}

#[cfg(unix)]
fn permission_warning(shown: &Path, opened: &Path) -> Option<SecretsWarning> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(opened).ok()?.permissions().mode() & 0o7777;
    (mode & 0o077 != 0).then(|| SecretsWarning::LoosePermissions {
        path: shown.to_path_buf(),
        mode,
    })
}

#[cfg(not(unix))]
fn permission_warning(_shown: &Path, _opened: &Path) -> Option<SecretsWarning> {
    None
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
