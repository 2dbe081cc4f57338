//! The price-list cache: one JSON file per provider and API URL under the user's cache folder
//! (`$XDG_CACHE_HOME/kamal-dev`, else `~/.cache/kamal-dev`). Fresh for a day; an older file is
//! still used when the provider cannot be asked. Written atomically; a broken file is ignored.
//! What a list holds is the provider's: the file keeps its fields beside the header.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cost::ZonePrices;

/// How long a fetched price list is used without asking again.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

const VERSION: u32 = 1;

/// The user's cache folder for kamal-dev, if a home folder can be found.
pub fn default_dir() -> Option<PathBuf> {
    use etcetera::BaseStrategy as _;
    etcetera::choose_base_strategy()
        .ok()
        .map(|strategy| strategy.cache_dir().join("kamal-dev"))
}

/// A cached price list of kind `T`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cached<T> {
    pub version: u32,
    pub api_url: String,
    pub fetched_at: Timestamp,
    #[serde(flatten)]
    pub list: T,
}

impl<T> Cached<T> {
    pub fn is_fresh(&self, now: Timestamp) -> bool {
        let age = now.as_second() - self.fetched_at.as_second();
        (0..i64::try_from(MAX_AGE.as_secs()).unwrap_or(i64::MAX)).contains(&age)
    }
}

/// Every zone's prices (UpCloud's list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedZones {
    pub zones: Vec<ZonePrices>,
}

pub type CachedPrices = Cached<CachedZones>;

impl CachedPrices {
    pub fn zone(&self, zone: &str) -> Option<&ZonePrices> {
        self.list.zones.iter().find(|z| z.zone == zone)
    }
}

#[derive(Debug, Clone)]
pub struct PriceCache {
    path: PathBuf,
    api_url: String,
}

impl PriceCache {
    /// The cache file for `provider` at `api_url` inside `dir`.
    pub fn new(dir: &Path, provider: &str, api_url: &str) -> PriceCache {
        PriceCache {
            path: dir.join(format!("{provider}-prices-{:016x}.json", fnv1a(api_url))),
            api_url: api_url.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cached list, or `None` when missing, unreadable or for another API URL.
    pub fn load<T: DeserializeOwned>(&self) -> Option<Cached<T>> {
        let bytes = std::fs::read(&self.path).ok()?;
        let cached: Cached<T> = serde_json::from_slice(&bytes).ok()?;
        (cached.version == VERSION && cached.api_url == self.api_url).then_some(cached)
    }

    /// Replace the cache (temp file + rename, so readers never see half a file).
    pub fn store<T: Serialize>(&self, fetched_at: Timestamp, list: &T) -> std::io::Result<()> {
        let cached = Cached {
            version: VERSION,
            api_url: self.api_url.clone(),
            fetched_at,
            list,
        };
        let text = serde_json::to_vec_pretty(&cached).map_err(std::io::Error::other)?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, &self.path).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
    }
}

/// A stable 64-bit hash for file names (the std hasher may change between Rust versions).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_loads_and_ages() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PriceCache::new(dir.path(), "upcloud", "http://127.0.0.1:1");
        assert!(cache.load::<CachedZones>().is_none());
        let now: Timestamp = "2026-11-27T00:00:00Z".parse().unwrap();
        let zone = ZonePrices {
            zone: "de-fra1".into(),
            ..ZonePrices::default()
        };
        let list = CachedZones {
            zones: vec![zone.clone()],
        };
        cache.store(now, &list).unwrap();
        let text = std::fs::read_to_string(cache.path()).unwrap();
        let keys: Vec<String> =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
                .unwrap()
                .keys()
                .cloned()
                .collect();
        assert_eq!(
            keys,
            ["version", "api_url", "fetched_at", "zones"],
            "the list's fields beside the header"
        );
        let loaded: CachedPrices = cache.load().unwrap();
        assert_eq!(loaded.zone("de-fra1"), Some(&zone));
        assert!(loaded.is_fresh(now));
        assert!(!loaded.is_fresh("2026-11-28T00:00:01Z".parse().unwrap()));
        let other = PriceCache::new(dir.path(), "upcloud", "http://127.0.0.1:2");
        assert_ne!(other.path(), cache.path());
        std::fs::write(cache.path(), "not json").unwrap();
        assert!(cache.load::<CachedZones>().is_none());
    }
}
