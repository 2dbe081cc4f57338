//! Devcontainer Features from OCI registries (`ghcr.io/devcontainers/features/node:1`):
//! resolve the reference to a manifest (anonymous bearer tokens as registries hand them
//! out), download its one layer, check its digest and unpack it into the user's cache, where
//! the Feature is then read like a local one. A tag's digest is remembered, so later
//! commands resolve it offline; `deploy` asks the registry again each time.
//!
//! Speaks HTTP (the one module besides `provider/` that does); never prints.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest as _;

use crate::error::{ExitStatus, UserFacing};

const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
/// The largest Feature layer accepted (Features are scripts; the biggest published ones are
/// well under a megabyte).
const MAX_LAYER: usize = 64 * 1024 * 1024;

/// A parsed Feature reference: `registry/repository[:tag|@sha256:digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureRef {
    pub registry: String,
    pub repository: String,
    /// A tag (`1`, `latest`) or a digest (`sha256:...`).
    pub reference: String,
}

impl FeatureRef {
    /// Parse the key as written in `features` (case-insensitive, as the CLI lowercases it).
    pub fn parse(text: &str) -> Option<FeatureRef> {
        let text = text.trim().to_lowercase();
        let (registry, rest) = text.split_once('/')?;
        if registry.starts_with('.')
            || !(registry.contains('.') || registry.contains(':') || registry == "localhost")
        {
            return None;
        }
        let (repository, reference) = if let Some((repo, digest)) = rest.split_once('@') {
            (repo.to_string(), digest.to_string())
        } else {
            match rest.rsplit_once(':') {
                Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
                _ => (rest.to_string(), "latest".to_string()),
            }
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c))
        };
        (valid(registry) && valid(&repository) && valid(&reference) && !repository.contains(".."))
            .then(|| FeatureRef {
                registry: registry.to_string(),
                repository,
                reference,
            })
    }

    /// `http` for a registry on this machine (as Docker allows), `https` otherwise.
    fn base_url(&self) -> String {
        let local = self.registry.starts_with("localhost") || self.registry.starts_with("127.");
        let scheme = if local { "http" } else { "https" };
        format!("{scheme}://{}/v2/{}", self.registry, self.repository)
    }

    fn label(&self) -> String {
        format!("{}/{}:{}", self.registry, self.repository, self.reference)
    }

    /// `<cache>/<registry>/<repository>`: the Feature's folder in the cache.
    fn cache_folder(&self, cache: &Path) -> PathBuf {
        let registry = self.registry.replace(':', "_");
        cache.join(registry).join(&self.repository)
    }
}

/// Why a Feature could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("could not reach the registry for Feature {feature}")]
    Unreachable {
        feature: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("the registry answered {status} for Feature {feature} ({what})")]
    Status {
        feature: String,
        status: u16,
        what: &'static str,
    },

    #[error("the registry sent an unusable answer for Feature {feature}: {reason}")]
    Malformed { feature: String, reason: String },

    #[error("could not store Feature {feature} in {}", path.display())]
    Cache {
        feature: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl UserFacing for RegistryError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Failure
    }

    fn hint(&self) -> Option<String> {
        match self {
            RegistryError::Unreachable { .. } => {
                Some("check the network, or use a local Feature (\"./name\") instead".to_string())
            }
            RegistryError::Status { status: 404, .. } => Some(
                "check the Feature's name and version in devcontainer.json (e.g. ghcr.io/devcontainers/features/node:1)"
                    .to_string(),
            ),
            RegistryError::Status { status: 401 | 403, .. } => Some(
                "the Feature is not public; kamal-dev downloads only anonymously readable Features"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

/// Where downloaded Features are kept: `<user cache>/kamal-dev/features`.
pub fn cache_dir() -> Option<PathBuf> {
    crate::provider::price_cache::default_dir().map(|dir| dir.join("features"))
}

/// The cached folder of a registry Feature, by its reference as written in
/// devcontainer.json (what Feature resolution asks for).
pub fn downloaded(reference: &str) -> Option<String> {
    let reference = FeatureRef::parse(reference)?;
    cached(&cache_dir()?, &reference).map(|path| path.to_string_lossy().into_owned())
}

/// The folder the cache holds for `reference` (from an earlier download), if any.
pub fn cached(cache: &Path, reference: &FeatureRef) -> Option<PathBuf> {
    let folder = reference.cache_folder(cache);
    let digest = if reference.reference.starts_with("sha256:") {
        reference.reference.clone()
    } else {
        std::fs::read_to_string(folder.join("tags").join(&reference.reference))
            .ok()?
            .trim()
            .to_string()
    };
    let unpacked = folder.join(digest.replace(':', "_"));
    unpacked
        .join("devcontainer-feature.json")
        .is_file()
        .then_some(unpacked)
}

/// Download `reference` into the cache (unless its layer is there already) and remember its
/// tag; returns the unpacked folder.
pub async fn fetch(cache: &Path, reference: &FeatureRef) -> Result<PathBuf, RegistryError> {
    let feature = reference.label();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .user_agent(concat!("kamal-dev/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|source| RegistryError::Unreachable {
            feature: feature.clone(),
            source,
        })?;
    let mut session = Session {
        client,
        feature: feature.clone(),
        token: None,
    };
    let base = reference.base_url();
    let manifest = session
        .get(
            &format!("{base}/manifests/{}", reference.reference),
            MANIFEST_TYPES,
            "manifest",
        )
        .await?;
    let manifest_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&manifest)));
    let malformed = |reason: &str| RegistryError::Malformed {
        feature: feature.clone(),
        reason: reason.to_string(),
    };
    let json: serde_json::Value =
        serde_json::from_slice(&manifest).map_err(|_| malformed("the manifest is not JSON"))?;
    let layer = json
        .get("layers")
        .and_then(|l| l.get(0))
        .ok_or_else(|| malformed("the manifest has no layer"))?;
    let layer_digest = layer
        .get("digest")
        .and_then(serde_json::Value::as_str)
        .filter(|d| d.starts_with("sha256:") && d.len() == 71)
        .ok_or_else(|| malformed("the layer has no sha256 digest"))?
        .to_string();
    let folder = reference.cache_folder(cache);
    let unpacked = folder.join(manifest_digest.replace(':', "_"));
    let store = |path: &Path, source: std::io::Error| RegistryError::Cache {
        feature: feature.clone(),
        path: path.to_path_buf(),
        source,
    };
    if !unpacked.join("devcontainer-feature.json").is_file() {
        let blob = session
            .get(
                &format!("{base}/blobs/{layer_digest}"),
                "application/octet-stream",
                "layer",
            )
            .await?;
        let actual = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&blob)));
        if actual != layer_digest {
            return Err(malformed("the layer does not match its digest"));
        }
        unpack(&blob, &unpacked).map_err(|e| match e {
            Unpack::Io(source) => store(&unpacked, source),
            Unpack::Invalid(reason) => malformed(&reason),
        })?;
    }
    if !reference.reference.starts_with("sha256:") {
        let tags = folder.join("tags");
        std::fs::create_dir_all(&tags).map_err(|e| store(&tags, e))?;
        let pointer = tags.join(&reference.reference);
        std::fs::write(&pointer, &manifest_digest).map_err(|e| store(&pointer, e))?;
    }
    Ok(unpacked)
}

struct Session {
    client: reqwest::Client,
    feature: String,
    token: Option<String>,
}

impl Session {
    /// GET `url`; on a 401 with a bearer challenge, fetch an anonymous token and try once
    /// more.
    async fn get(
        &mut self,
        url: &str,
        accept: &str,
        what: &'static str,
    ) -> Result<Vec<u8>, RegistryError> {
        for attempt in 0..2 {
            let mut request = self.client.get(url).header("accept", accept);
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            let response = request
                .send()
                .await
                .map_err(|source| self.unreachable(source))?;
            let status = response.status().as_u16();
            if status == 401 && attempt == 0 {
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                self.token = Some(self.anonymous_token(&challenge).await?);
                continue;
            }
            if !(200..300).contains(&status) {
                return Err(RegistryError::Status {
                    feature: self.feature.clone(),
                    status,
                    what,
                });
            }
            let body = response
                .bytes()
                .await
                .map_err(|source| self.unreachable(source))?;
            if body.len() > MAX_LAYER {
                return Err(RegistryError::Malformed {
                    feature: self.feature.clone(),
                    reason: format!("the {what} is larger than {MAX_LAYER} bytes"),
                });
            }
            return Ok(body.to_vec());
        }
        Err(RegistryError::Status {
            feature: self.feature.clone(),
            status: 401,
            what,
        })
    }

    async fn anonymous_token(&self, challenge: &str) -> Result<String, RegistryError> {
        let params = bearer_challenge(challenge).ok_or_else(|| RegistryError::Status {
            feature: self.feature.clone(),
            status: 401,
            what: "manifest",
        })?;
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let query: Vec<(String, String)> =
            params.into_iter().filter(|(k, _)| k != "realm").collect();
        let url = reqwest::Url::parse_with_params(&realm, &query).map_err(|_| {
            RegistryError::Malformed {
                feature: self.feature.clone(),
                reason: format!("the token address {realm:?} is not a URL"),
            }
        })?;
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|source| self.unreachable(source))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(RegistryError::Status {
                feature: self.feature.clone(),
                status,
                what: "token",
            });
        }
        let body = response
            .bytes()
            .await
            .map_err(|source| self.unreachable(source))?;
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| RegistryError::Malformed {
                feature: self.feature.clone(),
                reason: "the token answer is not JSON".to_string(),
            })?;
        json.get("token")
            .or_else(|| json.get("access_token"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| RegistryError::Malformed {
                feature: self.feature.clone(),
                reason: "the token answer has no token".to_string(),
            })
    }

    fn unreachable(&self, source: reqwest::Error) -> RegistryError {
        RegistryError::Unreachable {
            feature: self.feature.clone(),
            source,
        }
    }
}

/// The parameters of `Bearer realm="...",service="...",scope="..."`.
pub fn bearer_challenge(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header.trim().strip_prefix("Bearer ")?;
    let mut params = Vec::new();
    for part in rest.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        params.push((
            key.trim().to_string(),
            value.trim().trim_matches('"').to_string(),
        ));
    }
    params.iter().any(|(k, _)| k == "realm").then_some(params)
}

enum Unpack {
    Io(std::io::Error),
    Invalid(String),
}

/// Unpack a Feature layer (a tar, possibly gzipped) into `into`, atomically: a temp folder
/// beside it, renamed into place. Entries may not leave the folder.
fn unpack(blob: &[u8], into: &Path) -> Result<(), Unpack> {
    let parent = into.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(Unpack::Io)?;
    let tmp = tempfile::Builder::new()
        .prefix(".unpacking-")
        .tempdir_in(parent)
        .map_err(Unpack::Io)?;
    // Published layers are plain tar; a gzipped one (a real `.tgz`) is read the same way.
    let reader: Box<dyn std::io::Read> = if blob.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(blob))
    } else {
        Box::new(blob)
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| Unpack::Invalid(format!("the layer is not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Unpack::Invalid(format!("bad tar entry: {e}")))?;
        // `unpack_in` refuses paths that would leave the folder.
        let inside = entry.unpack_in(tmp.path()).map_err(Unpack::Io)?;
        if !inside {
            return Err(Unpack::Invalid(
                "the layer has a path outside its folder".to_string(),
            ));
        }
        let _ = entry.read_to_end(&mut Vec::new());
    }
    if !tmp.path().join("devcontainer-feature.json").is_file() {
        return Err(Unpack::Invalid(
            "the layer has no devcontainer-feature.json".to_string(),
        ));
    }
    let kept = tmp.keep();
    match std::fs::rename(&kept, into) {
        Ok(()) => Ok(()),
        // Another process unpacked the same layer first: theirs is as good.
        Err(_) if into.join("devcontainer-feature.json").is_file() => {
            let _ = std::fs::remove_dir_all(&kept);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&kept);
            Err(Unpack::Io(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_feature_references() {
        let r = FeatureRef::parse("ghcr.io/devcontainers/features/node:1").unwrap();
        assert_eq!(r.registry, "ghcr.io");
        assert_eq!(r.repository, "devcontainers/features/node");
        assert_eq!(r.reference, "1");
        assert_eq!(
            r.base_url(),
            "https://ghcr.io/v2/devcontainers/features/node"
        );
        let r = FeatureRef::parse("GHCR.io/devcontainers/features/Node").unwrap();
        assert_eq!(
            (r.repository.as_str(), r.reference.as_str()),
            ("devcontainers/features/node", "latest")
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = FeatureRef::parse(&format!("ghcr.io/x/y@{digest}")).unwrap();
        assert_eq!(r.reference, digest);
        let r = FeatureRef::parse("127.0.0.1:5000/features/hello:1.2").unwrap();
        assert_eq!(r.base_url(), "http://127.0.0.1:5000/v2/features/hello");
        assert_eq!(r.reference, "1.2");
        assert!(FeatureRef::parse("./local").is_none());
        assert!(FeatureRef::parse("node").is_none());
        assert!(FeatureRef::parse("owner/repo/feature@v1").is_none());
        assert!(FeatureRef::parse("ghcr.io/../etc:1").is_none());
    }

    #[test]
    fn reads_bearer_challenges() {
        let params = bearer_challenge(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:devcontainers/features/node:pull""#,
        )
        .unwrap();
        assert_eq!(params[0], ("realm".into(), "https://ghcr.io/token".into()));
        assert_eq!(params[2].1, "repository:devcontainers/features/node:pull");
        assert!(bearer_challenge("Basic realm=\"x\"").is_none());
    }

    #[test]
    fn unpacks_into_place_and_refuses_bad_layers() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        for (name, text) in [
            ("devcontainer-feature.json", "{\"id\":\"hello\"}"),
            ("install.sh", "echo hi"),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, name, text.as_bytes())
                .unwrap();
        }
        let tar = builder.into_inner().unwrap();
        let into = dir.path().join("r/x/sha256_1");
        assert!(unpack(&tar, &into).is_ok());
        assert!(into.join("install.sh").is_file());
        // The same layer gzipped unpacks too; a broken gzip stream is refused.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        let gzipped = gz.finish().unwrap();
        assert!(unpack(&gzipped, &dir.path().join("r/x/sha256_2")).is_ok());
        assert!(dir.path().join("r/x/sha256_2/install.sh").is_file());
        assert!(unpack(b"\x1f\x8b rest", &dir.path().join("g")).is_err());
        let empty = tar::Builder::new(Vec::new()).into_inner().unwrap();
        assert!(matches!(
            unpack(&empty, &dir.path().join("e")),
            Err(Unpack::Invalid(_))
        ));
    }
}
