//! Lexical path helpers that behave like Node's `path.posix` (`resolve`, `join`, `dirname`,
//! `relative`): no file system access, so `..` is resolved textually, as the reference does.

/// Collapse `.`, `..` and repeated slashes. Keeps a leading `/`; `""` becomes `"."`.
pub fn normalize_posix(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let body = parts.join("/");
    match (absolute, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

/// `path.posix.resolve(base, rel)` for an absolute `base`.
pub fn resolve_posix(base: &str, rel: &str) -> String {
    if rel.starts_with('/') {
        normalize_posix(rel)
    } else {
        normalize_posix(&format!("{base}/{rel}"))
    }
}

/// `path.posix.dirname`.
pub fn dirname_posix(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => trimmed[..i].to_string(),
        None if path.starts_with('/') => "/".to_string(),
        None => ".".to_string(),
    }
}

/// `path.posix.basename`.
pub fn basename_posix(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// `path.posix.relative(from, to)` for absolute, normalized paths.
pub fn relative_posix(from: &str, to: &str) -> String {
    let from_parts: Vec<&str> = from.split('/').filter(|p| !p.is_empty()).collect();
    let to_parts: Vec<&str> = to.split('/').filter(|p| !p.is_empty()).collect();
    let common = from_parts
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out: Vec<&str> = vec![".."; from_parts.len() - common];
    out.extend(to_parts.iter().skip(common));
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_like_paths() {
        assert_eq!(normalize_posix("/a/./b/../c//d/"), "/a/c/d");
        assert_eq!(normalize_posix("/.."), "/");
        assert_eq!(resolve_posix("/w/x/.devcontainer", "../../../"), "/");
        assert_eq!(resolve_posix("/w/x/.devcontainer", ".."), "/w/x");
        assert_eq!(dirname_posix("/w/x/Dockerfile"), "/w/x");
        assert_eq!(dirname_posix("/Dockerfile"), "/");
        assert_eq!(basename_posix("/w/x/"), "x");
        assert_eq!(
            relative_posix("/w/.devcontainer", "/w/.devcontainer/a"),
            "a"
        );
        assert_eq!(relative_posix("/w/.devcontainer", "/w/b"), "../b");
    }
}
