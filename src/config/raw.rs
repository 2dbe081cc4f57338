//! The config file as written: every key optional, locations kept, unknown keys refused.
//! `parse` reads one file and `merge` lays a destination overlay over the base; turning the
//! result into a [`Config`](super::Config) is `validate.rs`'s job, wording errors `messages.rs`'s.

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::ConfigError;
use super::messages::{improve_message, key_path_at, key_prefix, strip_location};

/// A value with the file it came from (the base or an overlay), for error messages.
#[derive(Debug, Clone)]
pub(super) struct At<T> {
    pub(super) value: T,
    pub(super) path: String,
    pub(super) line: u64,
    pub(super) column: u64,
}

type Field<T> = Option<Spanned<T>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    service: Field<String>,
    image: Field<String>,
    provider: Option<FileProvider>,
    secrets: Field<Vec<String>>,
    secrets_file: Field<String>,
    ssh: Option<FileSsh>,
    defaults: Option<FileDefaults>,
    vms: Option<FileVms>,
    naming: Option<FileNaming>,
    ports: Option<FilePorts>,
    source: Option<FileSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProvider {
    #[serde(rename = "type")]
    kind: Field<String>,
    zone: Field<String>,
    plan: Field<String>,
    api_url: Field<String>,
    image: Field<String>,
    hosts: Field<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSsh {
    key_path: Field<String>,
    user: Field<String>,
    port: Field<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDefaults {
    cpus: Field<Value>,
    memory: Field<Value>,
    memory_swap: Field<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVms {
    count: Field<Value>,
    spread: Field<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileNaming {
    pattern: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePorts {
    publish: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSource {
    git: Option<FileGit>,
    upload: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGit {
    url: Field<String>,
    branch: Field<String>,
    base: Field<String>,
    token_secret: Field<String>,
}

/// One or more merged files: each present value remembers where it was written.
#[derive(Debug, Default)]
pub(super) struct RawConfig {
    pub(super) service: Option<At<String>>,
    pub(super) image: Option<At<String>>,
    pub(super) provider_type: Option<At<String>>,
    pub(super) zone: Option<At<String>>,
    pub(super) plan: Option<At<String>>,
    pub(super) api_url: Option<At<String>>,
    pub(super) provider_image: Option<At<String>>,
    pub(super) hosts: Option<At<Vec<String>>>,
    pub(super) secrets: Option<At<Vec<String>>>,
    pub(super) secrets_file: Option<At<String>>,
    pub(super) key_path: Option<At<String>>,
    pub(super) user: Option<At<String>>,
    pub(super) port: Option<At<Value>>,
    pub(super) cpus: Option<At<Value>>,
    pub(super) memory: Option<At<Value>>,
    pub(super) memory_swap: Option<At<Value>>,
    pub(super) count: Option<At<Value>>,
    pub(super) spread: Option<At<bool>>,
    pub(super) pattern: Option<At<String>>,
    pub(super) publish: Option<At<String>>,
    pub(super) git_url: Option<At<String>>,
    pub(super) git_branch: Option<At<String>>,
    pub(super) git_base: Option<At<String>>,
    pub(super) git_token_secret: Option<At<String>>,
    pub(super) git_present: Option<At<()>>,
    pub(super) upload: Option<At<String>>,
}

/// Parse one file. `path` is how messages name it.
pub(super) fn parse(text: &str, path: &str) -> Result<RawConfig, ConfigError> {
    let file: Option<FileConfig> = serde_saphyr::from_str(text).map_err(|err| {
        let location = err.location();
        let (line, column) = location.map_or((1, 1), |l| (l.line(), l.column()));
        let message = strip_location(&err.without_snippet().to_string());
        let (message, hint) = improve_message(&message);
        ConfigError::Invalid {
            path: path.to_string(),
            line,
            column,
            key: key_prefix(&key_path_at(text, line, column)),
            message,
            hint,
        }
    })?;
    let Some(file) = file else {
        return Err(ConfigError::Empty {
            path: path.to_string(),
        });
    };
    let at = |spanned: Field<String>| spanned.map(|s| located(s, path));
    let provider = file.provider.unwrap_or_default();
    let ssh = file.ssh.unwrap_or_default();
    let defaults = file.defaults.unwrap_or_default();
    let vms = file.vms.unwrap_or_default();
    let source = file.source.unwrap_or_default();
    let git_present = source.git.as_ref().map(|_| At {
        value: (),
        path: path.to_string(),
        line: 1,
        column: 1,
    });
    let git = source.git.unwrap_or_default();
    Ok(RawConfig {
        service: at(file.service),
        image: at(file.image),
        provider_type: at(provider.kind),
        zone: at(provider.zone),
        plan: at(provider.plan),
        api_url: at(provider.api_url),
        provider_image: at(provider.image),
        hosts: provider.hosts.map(|s| located(s, path)),
        secrets: file.secrets.map(|s| located(s, path)),
        secrets_file: at(file.secrets_file),
        key_path: at(ssh.key_path),
        user: at(ssh.user),
        port: ssh.port.map(|s| located(s, path)),
        cpus: defaults.cpus.map(|s| located(s, path)),
        memory: defaults.memory.map(|s| located(s, path)),
        memory_swap: defaults.memory_swap.map(|s| located(s, path)),
        count: vms.count.map(|s| located(s, path)),
        spread: vms.spread.map(|s| located(s, path)),
        pattern: at(file.naming.unwrap_or_default().pattern),
        publish: at(file.ports.unwrap_or_default().publish),
        git_url: at(git.url),
        git_branch: at(git.branch),
        git_base: at(git.base),
        git_token_secret: at(git.token_secret),
        git_present,
        upload: at(source.upload),
    })
}

fn located<T>(spanned: Spanned<T>, path: &str) -> At<T> {
    At {
        value: spanned.value,
        path: path.to_string(),
        line: spanned.referenced.line(),
        column: spanned.referenced.column(),
    }
}

impl RawConfig {
    /// Lay `overlay` over `self`: every key the overlay sets wins; lists are replaced whole
    /// (as Kamal merges destination files).
    pub(super) fn merge(&mut self, overlay: RawConfig) {
        macro_rules! take {
            ($($field:ident),*) => { $( if overlay.$field.is_some() { self.$field = overlay.$field; } )* };
        }
        take!(
            service,
            image,
            provider_type,
            zone,
            plan,
            api_url,
            provider_image,
            hosts,
            secrets,
            secrets_file,
            key_path,
            user,
            port,
            cpus,
            memory,
            memory_swap,
            count,
            spread,
            pattern,
            publish,
            git_url,
            git_branch,
            git_base,
            git_token_secret,
            git_present,
            upload
        );
    }
}
