//! The default workspace mount and folder, as the reference CLI computes them: mount the
//! git root (or the folder itself) at `/workspaces/<basename>`, open the sub-folder; an
//! explicit `workspaceMount` key (even `""`) replaces the mount; compose gets no mount and
//! folder `/`. Pure: the git root is an input.

use std::path::Path;

use serde_json::{Map, Value};

/// `workspaceFolder` / `workspaceMount` before substitution. `None` means "absent".
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceConfig {
    pub workspace_folder: Option<Value>,
    pub workspace_mount: Option<Value>,
}

fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(_) => true,
    }
}

fn basename(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// `/workspaces` joined with a basename the way `path.posix.join` would.
fn posix_join(base: &str, rest: &str) -> String {
    let joined = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}/{rest}")
    };
    crate::devcontainer::paths::normalize_posix(&joined)
}

/// Compute the raw workspace settings for `config` (already legacy-migrated, not yet
/// substituted). `workspace` is the absolute workspace folder, `mount_root` its git root or
/// the folder itself.
pub fn workspace_config(
    config: &Map<String, Value>,
    workspace: &Path,
    mount_root: &Path,
) -> WorkspaceConfig {
    if config.contains_key("dockerComposeFile") {
        let folder = config
            .get("workspaceFolder")
            .filter(|v| truthy(Some(v)))
            .cloned()
            .unwrap_or_else(|| Value::String("/".to_string()));
        return WorkspaceConfig {
            workspace_folder: Some(folder),
            workspace_mount: None,
        };
    }
    let mut folder = config.get("workspaceFolder").cloned();
    let mut mount = config.get("workspaceMount").cloned();
    let has_mount_key = config.contains_key("workspaceMount");
    if !truthy(folder.as_ref()) || !has_mount_key {
        let root = mount_root.to_string_lossy();
        let target = posix_join("/workspaces", basename(&root));
        if !truthy(folder.as_ref()) {
            let relative = workspace
                .strip_prefix(mount_root)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            folder = Some(Value::String(posix_join(&target, &relative)));
        }
        if !has_mount_key {
            let quote = |s: &str| if s.contains(',') { "\"" } else { "" };
            mount = Some(Value::String(format!(
                "type=bind,{q1}source={root}{q1},{q2}target={target}{q2}",
                q1 = quote(&root),
                q2 = quote(&target),
            )));
        }
    }
    WorkspaceConfig {
        workspace_folder: folder,
        workspace_mount: mount,
    }
}

/// Apply the substituted config: a string `workspaceFolder` and any `workspaceMount` key win.
pub fn apply_substituted(
    raw: WorkspaceConfig,
    substituted: &Map<String, Value>,
) -> WorkspaceConfig {
    let mut out = raw;
    if let Some(Value::String(folder)) = substituted.get("workspaceFolder") {
        out.workspace_folder = Some(Value::String(folder.clone()));
    }
    if let Some(mount) = substituted.get("workspaceMount") {
        out.workspace_mount = Some(mount.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: &Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn default_mount_and_folder() {
        let ws = Path::new("/workspaces/app");
        let out = workspace_config(&obj(&json!({"image": "x"})), ws, ws);
        assert_eq!(out.workspace_folder, Some(json!("/workspaces/app")));
        assert_eq!(
            out.workspace_mount,
            Some(json!(
                "type=bind,source=/workspaces/app,target=/workspaces/app"
            ))
        );
    }

    #[test]
    fn sub_folder_of_a_repository_mounts_the_root() {
        let out = workspace_config(
            &obj(&json!({"image": "x"})),
            Path::new("/src/repo/sub/dir"),
            Path::new("/src/repo"),
        );
        assert_eq!(
            out.workspace_folder,
            Some(json!("/workspaces/repo/sub/dir"))
        );
        assert_eq!(
            out.workspace_mount,
            Some(json!("type=bind,source=/src/repo,target=/workspaces/repo"))
        );
    }

    #[test]
    fn folder_alone_keeps_the_default_mount_and_comma_paths_are_quoted() {
        let ws = Path::new("/w/a,b");
        let out = workspace_config(&obj(&json!({"workspaceFolder": "/src"})), ws, ws);
        assert_eq!(out.workspace_folder, Some(json!("/src")));
        assert_eq!(
            out.workspace_mount,
            Some(json!(
                "type=bind,\"source=/w/a,b\",\"target=/workspaces/a,b\""
            ))
        );
    }

    #[test]
    fn empty_mount_key_and_compose() {
        let ws = Path::new("/w/a");
        let out = workspace_config(
            &obj(&json!({"workspaceMount": "", "workspaceFolder": "/x"})),
            ws,
            ws,
        );
        assert_eq!(out.workspace_mount, Some(json!("")));
        let compose = workspace_config(&obj(&json!({"dockerComposeFile": "c.yml"})), ws, ws);
        assert_eq!(compose.workspace_folder, Some(json!("/")));
        assert_eq!(compose.workspace_mount, None);
    }
}
