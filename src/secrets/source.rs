//! Which secrets files a run reads (kamal.md §1.1, §2), and how they are named in messages.
//! Pure: builds paths, opens nothing.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The secrets files for one run, in the order they are read (later wins).
///
/// Without a destination: `<base>-common`, `<base>`. With `-d NAME`: `<base>-common`,
/// `<base>.NAME` (the plain `<base>` is not read). `<base>` is `.kamal/secrets`, or the
/// config's `secrets_file`, which plays the role of Kamal's `secrets_path`: it replaces the
/// base and the `-common` and destination files are derived from it the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsSource {
    /// (as shown to the user, as opened)
    pub(super) files: Vec<(PathBuf, PathBuf)>,
    pub(super) destination: Option<String>,
    /// Where `$(command)`s run: the project folder, whatever the caller's working directory.
    pub(super) root: PathBuf,
}

impl SecretsSource {
    pub fn new(
        project_root: &Path,
        secrets_file: Option<&Path>,
        destination: Option<&str>,
    ) -> Self {
        let base = secrets_file.map_or_else(|| PathBuf::from(".kamal/secrets"), Path::to_path_buf);
        let with_suffix = |suffix: &str| {
            let mut name = OsString::from(base.as_os_str());
            name.push(suffix);
            PathBuf::from(name)
        };
        let common = with_suffix("-common");
        let main = match destination {
            Some(dest) => with_suffix(&format!(".{dest}")),
            None => base.clone(),
        };
        let files = [common, main]
            .into_iter()
            .map(|shown| {
                let opened = project_root.join(&shown);
                (shown, opened)
            })
            .collect();
        SecretsSource {
            files,
            destination: destination.map(str::to_string),
            root: project_root.to_path_buf(),
        }
    }

    /// The files that are read, as shown in messages, in read order.
    pub fn files(&self) -> Vec<PathBuf> {
        self.files.iter().map(|(shown, _)| shown.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_kamal() {
        // kamal.md §1.1: -common first, then the base or base.<destination>
        let root = Path::new("/p");
        let rows: &[(Option<&str>, Option<&str>, [&str; 2])] = &[
            (None, None, [".kamal/secrets-common", ".kamal/secrets"]),
            (
                None,
                Some("staging"),
                [".kamal/secrets-common", ".kamal/secrets.staging"],
            ),
            (
                Some("ops/dev-secrets"),
                Some("eu"),
                ["ops/dev-secrets-common", "ops/dev-secrets.eu"],
            ),
        ];
        for (file, dest, expected) in rows {
            let source = SecretsSource::new(root, file.map(Path::new), *dest);
            assert_eq!(source.files(), expected.map(PathBuf::from).to_vec());
            assert_eq!(source.files[1].1, root.join(expected[1]));
        }
        // An absolute secrets_file is opened and shown as given.
        let source = SecretsSource::new(root, Some(Path::new("/etc/kd/secrets")), None);
        assert_eq!(
            source.files[1],
            (
                PathBuf::from("/etc/kd/secrets"),
                PathBuf::from("/etc/kd/secrets")
            )
        );
    }
}
