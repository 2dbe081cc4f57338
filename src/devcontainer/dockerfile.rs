//! Dockerfile text: naming the last stage, the `# syntax=` directive, the `USER` in effect,
//! and the Dockerfiles the reference CLI generates around the user's (metadata `LABEL` stage,
//! Feature install layers, the content-image Dockerfile). Byte-for-byte like the reference,
//! for the classic (non-BuildKit) builder. Pure.

use std::fmt::Write as _;

use super::features::ResolvedFeature;

/// Stage name the reference gives an unnamed last stage.
pub const AUTO_STAGE: &str = "dev_container_auto_added_stage_label";
/// The stage every generated Dockerfile builds.
pub const TARGET_STAGE: &str = "dev_containers_target_stage";
/// The helper image holding Feature content when `BuildKit` is absent.
pub const CONTENT_IMAGE: &str = "dev_container_feature_content_temp";
/// The content-image Dockerfile (`Dockerfile.buildContent`).
pub const BUILD_CONTENT_DOCKERFILE: &str = "\n\tFROM scratch\n\tCOPY . /tmp/build-features/\n\t";

/// A `FROM` line: byte offset of the end of `FROM <image>`, the image and the stage name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FromLine {
    line_start: usize,
    match_end: usize,
    image: String,
    label: Option<String>,
}

fn parse_from(line: &str, line_start: usize) -> Option<FromLine> {
    let upper = line.to_ascii_uppercase();
    let from = upper.find("FROM")?;
    let mut pos = from + 4;
    let rest = line.get(pos..)?;
    let ws = rest.len() - rest.trim_start().len();
    if ws == 0 {
        return None;
    }
    pos += ws;
    let word_end = |p: usize| {
        line.get(p..)
            .and_then(|s| s.find(char::is_whitespace))
            .map_or(line.len(), |i| p + i)
    };
    if line
        .get(pos..)?
        .to_ascii_lowercase()
        .starts_with("--platform=")
    {
        let end = word_end(pos);
        let after = line.get(end..)?;
        let ws = after.len() - after.trim_start().len();
        if ws > 0 {
            pos = end + ws;
        }
    }
    let image_end = word_end(pos);
    let image = line.get(pos..image_end)?.to_string();
    if image.is_empty() {
        return None;
    }
    let mut match_end = image_end;
    let mut label = None;
    let after = line.get(image_end..)?;
    let trimmed = after.trim_start();
    let as_keyword = trimmed
        .get(..2)
        .is_some_and(|k| k.eq_ignore_ascii_case("AS"));
    if trimmed.len() < after.len() && as_keyword {
        let after_as = trimmed.get(2..).unwrap_or("");
        let name = after_as.trim_start();
        if name.len() < after_as.len() && !name.is_empty() {
            let name_start = line.len() - name.len();
            let name_end = word_end(name_start);
            label = line.get(name_start..name_end).map(str::to_string);
            match_end = name_end;
        }
    }
    Some(FromLine {
        line_start,
        match_end: line_start + match_end,
        image,
        label,
    })
}

fn from_lines(text: &str) -> Vec<FromLine> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        if body.trim_start().to_ascii_uppercase().starts_with("FROM")
            && let Some(from) = parse_from(body, offset)
        {
            out.push(from);
        }
        offset += line.len();
    }
    out
}

/// The last stage's name, and the Dockerfile with `AS <label>` added when it had none.
pub fn name_last_stage(text: &str, label: &str) -> Result<(String, Option<String>), String> {
    let lines = from_lines(text);
    let Some(last) = lines.last() else {
        return Err("Dockerfile contains no FROM instructions".to_string());
    };
    if let Some(existing) = &last.label {
        return Ok((existing.clone(), None));
    }
    let (head, tail) = text.split_at(last.match_end.min(text.len()));
    Ok((label.to_string(), Some(format!("{head} AS {label}{tail}"))))
}

/// The `# syntax=` parser directive, if the Dockerfile opens with one.
pub fn syntax_directive(text: &str) -> Option<String> {
    for line in text.lines() {
        let trimmed = line.trim();
        let Some(comment) = trimmed.strip_prefix('#') else {
            break;
        };
        let Some((name, value)) = comment.split_once('=') else {
            break;
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            break;
        }
        if name.eq_ignore_ascii_case("syntax") {
            return Some(value.trim().to_string());
        }
    }
    None
}

/// Remove a leading `# syntax=...` line (it moves to the top of the generated file).
pub fn strip_syntax_line(text: &str) -> &str {
    let trimmed = text.trim_start();
    if let Some(rest) = trimmed.strip_prefix('#') {
        let rest = rest.trim_start();
        if let Some(after) = rest
            .get(..6)
            .filter(|k| k.eq_ignore_ascii_case("syntax"))
            .and_then(|_| rest.get(6..))
        {
            let after = after.trim_start();
            if after.starts_with('=')
                && let Some(nl) = trimmed.find(['\n', '\r'])
            {
                return &trimmed[nl + 1..];
            }
        }
    }
    text
}

/// The stages a build of `stage` (or the last stage) goes through, from it back to the
/// first, following `FROM <earlier stage>`: indices into `lines`.
fn stage_chain(lines: &[FromLine], stage: Option<&str>) -> Vec<usize> {
    let named = |upto: usize, name: &str| {
        lines.get(..upto)?.iter().position(|l| {
            l.label
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    };
    let mut index = match stage {
        Some(name) => named(lines.len(), name),
        None => lines.len().checked_sub(1),
    };
    let mut chain = Vec::new();
    while let Some(at) = index {
        // A stage only names earlier ones, so the chain ends; the guard is for safety.
        if chain.len() > lines.len() {
            break;
        }
        chain.push(at);
        index = lines.get(at).and_then(|from| named(at, &from.image));
    }
    chain
}

/// The `USER` in effect at the end of `stage` (or the last stage), following `FROM <stage>`
/// chains; `None` means "the base image's user".
pub fn effective_user(text: &str, stage: Option<&str>) -> Option<String> {
    let lines = from_lines(text);
    stage_chain(&lines, stage).into_iter().find_map(|index| {
        let from = lines.get(index)?;
        let end = lines.get(index + 1).map_or(text.len(), |l| l.line_start);
        let body = text.get(from.line_start..end).unwrap_or("");
        body.lines()
            .filter_map(|l| {
                let t = l.trim_start();
                let (word, rest) = t.split_at(t.find(char::is_whitespace).unwrap_or(t.len()));
                word.eq_ignore_ascii_case("USER")
                    .then(|| rest.trim().to_string())
            })
            .next_back()
            .filter(|u| !u.is_empty())
    })
}

/// The image the build of `stage` (or the last stage) starts from, following `FROM <stage>`
/// chains; `None` when it is `scratch` or depends on a build argument.
pub fn base_image(text: &str, stage: Option<&str>) -> Option<String> {
    let lines = from_lines(text);
    let first = *stage_chain(&lines, stage).last()?;
    let image = &lines.get(first)?.image;
    (!image.contains('$') && !image.eq_ignore_ascii_case("scratch")).then(|| image.clone())
}

/// `ENV K="V"` lines; `escape_dollar` also escapes `$` (devcontainer.json's containerEnv).
pub fn env_lines(env: &[(String, String)], escape_dollar: bool) -> String {
    env.iter()
        .map(|(k, v)| {
            let mut escaped = String::new();
            for c in v.chars() {
                if c == '"' || c == '\\' || (escape_dollar && c == '$') {
                    escaped.push('\\');
                }
                escaped.push(c);
            }
            format!("ENV {k}=\"{escaped}\"")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Dockerfile-with-features for a Dockerfile config without Features: the user's file
/// (last stage named) plus a stage that only carries the metadata label.
pub fn without_features(user_dockerfile: &str, syntax: Option<&str>, label: &str) -> String {
    let prefix = match syntax {
        Some(s) => format!("# syntax={s}"),
        None => String::new(),
    };
    format!(
        "{prefix}\n    ARG _DEV_CONTAINERS_BASE_IMAGE=scratch\n{}\n\nFROM $_DEV_CONTAINERS_BASE_IMAGE AS {TARGET_STAGE}\n{label}\n",
        strip_syntax_line(user_dockerfile)
    )
}

/// `getent passwd` with a fallback to /etc/passwd, quoted as the reference quotes it.
fn home_lookup(user: &str) -> String {
    let quoted: String = user
        .chars()
        .flat_map(|c| {
            if c == '\'' || c == '\\' {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect();
    let mut pattern = String::new();
    for c in user.chars() {
        if ".*+?^${}()|[]\\".contains(c) {
            pattern.push('\\');
        }
        if c == '\'' {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    format!(
        " (command -v getent >/dev/null 2>&1 && getent passwd '{quoted}' || grep -E '^{pattern}|^[^:]*:[^:]*:{pattern}:' /etc/passwd || true)"
    )
}

/// JavaScript's `String.replace(pattern, replacement)` for a string pattern: first match
/// only, with `$$`, `$&`, `` $` `` and `$'` expanded in the replacement.
fn js_replace(text: &str, pattern: &str, replacement: &str) -> String {
    let Some(at) = text.find(pattern) else {
        return text.to_string();
    };
    let before = &text[..at];
    let after = &text[at + pattern.len()..];
    let mut expanded = String::new();
    let mut chars = replacement.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            match chars.peek() {
                Some('$') => {
                    chars.next();
                    expanded.push('$');
                }
                Some('&') => {
                    chars.next();
                    expanded.push_str(pattern);
                }
                Some('`') => {
                    chars.next();
                    expanded.push_str(before);
                }
                Some('\'') => {
                    chars.next();
                    expanded.push_str(after);
                }
                _ => expanded.push('$'),
            }
        } else {
            expanded.push(c);
        }
    }
    format!("{before}{expanded}{after}")
}

/// The Feature part of a generated Dockerfile (classic builder): content stages, one layer
/// per Feature in install order, then the metadata label and devcontainer.json's `ENV`s.
pub fn features_block(
    features: &[ResolvedFeature],
    container_user: &str,
    remote_user: &str,
    label: &str,
    config_container_env: &[(String, String)],
) -> String {
    let builtin = "/tmp/dev-container-features/devcontainer-features.builtin.env";
    let mut layers = format!(
        "RUN \\\necho \"_CONTAINER_USER_HOME=$({} | cut -d: -f6)\" >> {builtin} && \\\necho \"_REMOTE_USER_HOME=$({} | cut -d: -f6)\" >> {builtin}\n\n",
        home_lookup(container_user),
        home_lookup(remote_user),
    );
    for feature in features {
        layers.push_str(&env_lines(&feature.container_env(), false));
        let id = &feature.consecutive_id;
        let dest = format!("/tmp/dev-container-features/{id}");
        let _ = write!(
            layers,
            "\nCOPY --chown=root:root --from=dev_containers_feature_content_source /tmp/build-features/{id} {dest}\nRUN chmod -R 0755 {dest} \\\n&& cd {dest} \\\n&& chmod +x ./devcontainer-features-install.sh \\\n&& ./devcontainer-features-install.sh\n\n"
        );
    }
    let template = "\n\n#{nonBuildKitFeatureContentFallback}\n\nARG _DEV_CONTAINERS_BASE_IMAGE=scratch\n\nFROM $_DEV_CONTAINERS_BASE_IMAGE AS dev_containers_feature_content_normalize\nUSER root\nCOPY --from=dev_containers_feature_content_source /tmp/build-features/devcontainer-features.builtin.env /tmp/build-features/\nRUN chmod -R 0755 /tmp/build-features/\n\nFROM $_DEV_CONTAINERS_BASE_IMAGE AS dev_containers_target_stage\n\nUSER root\n\nRUN mkdir -p /tmp/dev-container-features\nCOPY --from=dev_containers_feature_content_normalize /tmp/build-features/ /tmp/dev-container-features\n\n#{featureLayer}\n\n#{containerEnv}\n\nARG _DEV_CONTAINERS_IMAGE_USER=root\nUSER $_DEV_CONTAINERS_IMAGE_USER\n\n#{devcontainerMetadata}\n\n#{containerEnvMetadata}\n";
    let mut out = js_replace(
        template,
        "#{nonBuildKitFeatureContentFallback}",
        &format!("FROM {CONTENT_IMAGE} as dev_containers_feature_content_source"),
    );
    out = js_replace(&out, "#{featureLayer}", &layers);
    out = js_replace(&out, "#{containerEnv}", "");
    out = js_replace(&out, "#{devcontainerMetadata}", label);
    js_replace(
        &out,
        "#{containerEnvMetadata}",
        &env_lines(config_container_env, true),
    )
}

/// The first lines of a generated Dockerfile with Features.
pub fn features_prefix(syntax: Option<&str>) -> String {
    match syntax {
        Some(s) => format!("# syntax={s}\nARG _DEV_CONTAINERS_BASE_IMAGE=scratch\n"),
        None => "\nARG _DEV_CONTAINERS_BASE_IMAGE=scratch\n".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_image_follows_stages() {
        let text = "FROM node:20 AS deps\nRUN x\nFROM deps AS app\nUSER me\n";
        assert_eq!(base_image(text, None), Some("node:20".into()));
        assert_eq!(
            base_image("FROM --platform=linux/amd64 a/b:1\n", None),
            Some("a/b:1".into())
        );
        assert_eq!(base_image("ARG V=1\nFROM x:$V\n", None), None);
        assert_eq!(
            base_image("FROM a AS one\nFROM b AS two\n", Some("one")),
            Some("a".into())
        );
        assert_eq!(base_image("FROM scratch\n", None), None);
    }
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_dockerfiles_never_panic(text in "(\\PC|\n| |#|=|FROM|AS|USER|é){0,60}") {
            let _ = name_last_stage(&text, AUTO_STAGE);
            let _ = syntax_directive(&text);
            let _ = strip_syntax_line(&text);
            let _ = effective_user(&text, None);
            let _ = effective_user(&text, Some("base"));
        }
    }

    #[test]
    fn names_the_last_stage_only_when_unnamed() {
        let text = "FROM alpine as a\nRUN x\nfrom --platform=linux/amd64 debian:12\nRUN y\n";
        let (name, modified) = name_last_stage(text, AUTO_STAGE).unwrap();
        assert_eq!(name, AUTO_STAGE);
        assert_eq!(
            modified.unwrap(),
            "FROM alpine as a\nRUN x\nfrom --platform=linux/amd64 debian:12 AS dev_container_auto_added_stage_label\nRUN y\n"
        );
        let (name, modified) = name_last_stage("FROM a AS b \n", AUTO_STAGE).unwrap();
        assert_eq!((name.as_str(), modified), ("b", None));
        assert!(name_last_stage("RUN x", AUTO_STAGE).is_err());
    }

    #[test]
    fn syntax_directive_moves() {
        let text = "# syntax=docker/dockerfile:1.4\nFROM a\n";
        assert_eq!(
            syntax_directive(text).as_deref(),
            Some("docker/dockerfile:1.4")
        );
        assert_eq!(strip_syntax_line(text), "FROM a\n");
        assert_eq!(syntax_directive("FROM a\n# syntax=x\n"), None);
        // Multi-byte text right where keywords are compared must not split a character.
        assert_eq!(strip_syntax_line("#é\nFROM a"), "#é\nFROM a");
        assert_eq!(
            name_last_stage("FROM a é\n", AUTO_STAGE).unwrap().0,
            AUTO_STAGE
        );
    }

    #[test]
    fn user_follows_stage_chain() {
        let text = "FROM a AS base\nUSER node\nFROM base AS dev\nRUN x\n";
        assert_eq!(effective_user(text, None).as_deref(), Some("node"));
        assert_eq!(effective_user("FROM a\n", None), None);
    }

    #[test]
    fn env_escaping_and_js_replace() {
        let env = vec![("A".to_string(), "x\"$y\\".to_string())];
        assert_eq!(env_lines(&env, true), "ENV A=\"x\\\"\\$y\\\\\"");
        assert_eq!(env_lines(&env, false), "ENV A=\"x\\\"$y\\\\\"");
        assert_eq!(js_replace("a#b", "#", "$$-$&"), "a$-#b");
    }
}
