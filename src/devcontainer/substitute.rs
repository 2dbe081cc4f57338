//! `${...}` variables, with exactly the reference CLI's semantics: the non-greedy
//! `\$\{(.*?)\}` match (no nesting, no escaping, no line breaks inside), the `:`-split of
//! arguments, unknown names left as written, object keys never touched. Also the
//! `devcontainerId` hash. Pure: the environment comes in as a map.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The local side of substitution (read time).
#[derive(Debug, Clone)]
pub struct LocalVars<'a> {
    /// The host environment (`${localEnv:X}`, `${env:X}`).
    pub env: &'a BTreeMap<String, String>,
    /// Absolute host path of the workspace folder.
    pub local_workspace_folder: Option<&'a str>,
    /// The container workspace folder, before its own substitution.
    pub container_workspace_folder: Option<&'a str>,
    /// The config file name, for the error message.
    pub config_file_name: &'a str,
}

/// `${localEnv}` without a variable name: the one substitution that fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingEnvName {
    pub variable: String,
    pub file: String,
}

impl std::fmt::Display for MissingEnvName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "'{}' in {} can not be resolved because no environment variable name is given",
            self.variable, self.file
        )
    }
}

/// Replace every `${...}` match in `text` with what `resolve(whole_match, name, args)`
/// returns.
pub fn replace_vars<E>(
    text: &str,
    mut resolve: impl FnMut(&str, &str, &[&str]) -> Result<String, E>,
) -> Result<String, E> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        // JavaScript's `.` stops at line terminators, so such a `${` does not match here.
        let close = after.find('}');
        let inner_end =
            close.filter(|&end| !after[..end].contains(['\n', '\r', '\u{2028}', '\u{2029}']));
        if let Some(end) = inner_end {
            out.push_str(&rest[..start]);
            let inner = &after[..end];
            let whole = &rest[start..=start + 2 + end];
            let mut parts = inner.split(':');
            let name = parts.next().unwrap_or("");
            let args: Vec<&str> = parts.collect();
            out.push_str(&resolve(whole, name, &args)?);
            rest = &after[end + 1..];
        } else {
            // Try again from the next character, as a global regex does.
            let skip = start + 1;
            out.push_str(&rest[..skip]);
            rest = &rest[skip..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn env_lookup(
    env: &BTreeMap<String, String>,
    whole: &str,
    args: &[&str],
    file: &str,
) -> Result<String, MissingEnvName> {
    let Some(name) = args.first() else {
        return Err(MissingEnvName {
            variable: whole.to_string(),
            file: file.to_string(),
        });
    };
    Ok(match env.get(*name) {
        Some(value) => value.clone(),
        None => args.get(1).map(|d| (*d).to_string()).unwrap_or_default(),
    })
}

fn posix_basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "" } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

impl LocalVars<'_> {
    fn resolve_str(
        &self,
        text: &str,
        container_folder: Option<&str>,
    ) -> Result<String, MissingEnvName> {
        replace_vars(text, |whole, name, args| {
            Ok(match name {
                "env" | "localEnv" => env_lookup(self.env, whole, args, self.config_file_name)?,
                "localWorkspaceFolder" => self
                    .local_workspace_folder
                    .map_or_else(|| whole.to_string(), str::to_string),
                "localWorkspaceFolderBasename" => self
                    .local_workspace_folder
                    .map_or_else(|| whole.to_string(), |p| posix_basename(p).to_string()),
                "containerWorkspaceFolder" => {
                    container_folder.map_or_else(|| whole.to_string(), str::to_string)
                }
                "containerWorkspaceFolderBasename" => container_folder
                    .map_or_else(|| whole.to_string(), |p| posix_basename(p).to_string()),
                _ => whole.to_string(),
            })
        })
    }

    /// Substitute every string value of `value`, recursively.
    pub fn substitute(&self, value: &Value) -> Result<Value, MissingEnvName> {
        // The container folder may itself use local variables; the reference resolves it
        // first, against its own unresolved text.
        let folder = match self.container_workspace_folder {
            Some(raw) => Some(self.resolve_str(raw, Some(raw))?),
            None => None,
        };
        map_strings(value, &mut |s| self.resolve_str(s, folder.as_deref()))
    }
}

/// Apply `f` to every string value (never to object keys).
pub fn map_strings<E>(
    value: &Value,
    f: &mut impl FnMut(&str) -> Result<String, E>,
) -> Result<Value, E> {
    Ok(match value {
        Value::String(s) => Value::String(f(s)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| map_strings(item, f))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                out.insert(key.clone(), map_strings(item, f)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Replace `${devcontainerId}` (the second pass, once the id labels are known).
pub fn substitute_devcontainer_id(value: &Value, id: &str) -> Value {
    let result: Result<Value, std::convert::Infallible> = map_strings(value, &mut |s| {
        replace_vars(s, |whole, name, _| {
            Ok(if name == "devcontainerId" {
                id.to_string()
            } else {
                whole.to_string()
            })
        })
    });
    match result {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

/// The id of a dev container from its id labels: the SHA-256 of the labels as compact JSON
/// with sorted keys, written in base 32 with digits `0-9a-v`, left-padded to 52 digits.
pub fn devcontainer_id(labels: &BTreeMap<String, String>) -> String {
    let object: Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let json = Value::Object(object).to_string();
    let digest = Sha256::digest(json.as_bytes());
    base32_js(&digest)
}

/// A big-endian unsigned integer in JavaScript's `BigInt.toString(32)` digits, padded to 52.
fn base32_js(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    // 256 bits = 51.2 base-32 digits: read 5 bits at a time from the least significant end.
    let mut out = Vec::with_capacity(52);
    let total_bits = bytes.len() * 8;
    let bit = |i: usize| -> u8 {
        // i counts from the least significant bit.
        let byte_index = bytes.len() - 1 - i / 8;
        bytes.get(byte_index).map_or(0, |b| (b >> (i % 8)) & 1)
    };
    let mut i = 0;
    while i < total_bits {
        let mut digit = 0u8;
        for k in 0..5 {
            if i + k < total_bits {
                digit |= bit(i + k) << k;
            }
        }
        out.push(DIGITS.get(usize::from(digit)).copied().unwrap_or(b'0'));
        i += 5;
    }
    while out.len() < 52 {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "(\\PC|\\$|\\{|\\}|:|\n|é|localEnv|env){0,40}") {
            let env = env();
            let vars = vars(&env);
            let _ = vars.substitute(&Value::String(text.clone()));
            let _ = substitute_devcontainer_id(&Value::String(text), "id");
        }
    }

    fn env() -> BTreeMap<String, String> {
        [("USER", "dev"), ("EMPTY", ""), ("PATH", "/usr/bin:/bin")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn vars(env: &BTreeMap<String, String>) -> LocalVars<'_> {
        LocalVars {
            env,
            local_workspace_folder: Some("/workspaces/ws"),
            container_workspace_folder: Some("/workspaces/ws"),
            config_file_name: "devcontainer.json",
        }
    }

    #[test]
    fn reference_edge_cases() {
        let env = env();
        let v = vars(&env);
        let input = json!({
            "${localEnv:USER}": "${localEnv:USER}",
            "a": "${localEnv:NOPE:a:b}",
            "b": "${localEnv:${localEnv:USER}}",
            "c": "$${localEnv:USER}",
            "d": "${localEnv:EMPTY:x}",
            "e": "${localEnv:NOPE}",
            "f": "${workspaceFolder} ${templateOption:x} ${containerEnv:PATH} ${devcontainerId}",
            "g": "${localWorkspaceFolderBasename}/${containerWorkspaceFolder}",
            "h": [1, true, null, "${env:PATH}"],
        });
        let out = v.substitute(&input).unwrap();
        assert_eq!(
            out,
            json!({
                "${localEnv:USER}": "dev",
                "a": "a",
                "b": "USER}",
                "c": "$dev",
                "d": "",
                "e": "",
                "f": "${workspaceFolder} ${templateOption:x} ${containerEnv:PATH} ${devcontainerId}",
                "g": "ws//workspaces/ws",
                "h": [1, true, null, "/usr/bin:/bin"],
            })
        );
    }

    #[test]
    fn local_env_without_name_is_an_error() {
        let env = env();
        let err = vars(&env).substitute(&json!("${localEnv}")).unwrap_err();
        assert!(err.to_string().contains("no environment variable name"));
    }

    #[test]
    fn devcontainer_id_matches_the_reference() {
        let labels: BTreeMap<String, String> = [
            (
                "devcontainer.config_file",
                "/tmp/ws1/.devcontainer/devcontainer.json",
            ),
            ("devcontainer.local_folder", "/tmp/ws1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            devcontainer_id(&labels),
            "0aonj9r3jptrbqqfl0g343s8aa4ra346t6ip6jun8738502rrjvu"
        );
    }

    #[test]
    fn devcontainer_id_pass() {
        let out = substitute_devcontainer_id(&json!(["vol-${devcontainerId}", "${x}"]), "abc");
        assert_eq!(out, json!(["vol-abc", "${x}"]));
    }
}
