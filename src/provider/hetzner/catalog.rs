//! Hetzner's catalog: server types (the plans), locations (the zones) and the price list from
//! `/server_types`, net and gross per location, with a day-long cache and an offline fallback.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::model::{self, ServerTypePrice};
use super::{Hetzner, MAX_PAGES, NAME, request};
use crate::cost::{Rate, ZonePrices};
use crate::provider::price_cache::{Cached, PriceCache};
use crate::provider::{PlanInfo, PriceQuote, PriceSource, ProviderError, ZoneInfo};

/// The server-type price list of every location, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceList {
    pub prices: Vec<ServerTypePrice>,
    pub source: PriceSource,
}

impl PriceList {
    pub fn find(&self, location: &str, server_type: &str) -> Option<&ServerTypePrice> {
        self.prices
            .iter()
            .find(|p| p.location == location && p.server_type == server_type)
    }

    /// Net hourly prices of one location as the provider-neutral [`ZonePrices`].
    pub fn zone_prices(&self, location: &str) -> Option<ZonePrices> {
        let plans: BTreeMap<String, Rate> = self
            .prices
            .iter()
            .filter(|p| p.location == location)
            .map(|p| {
                (
                    p.server_type.clone(),
                    Rate {
                        amount: 1,
                        price: p.hourly.net,
                    },
                )
            })
            .collect();
        (!plans.is_empty()).then(|| ZonePrices {
            zone: location.to_string(),
            plans,
            storage: BTreeMap::new(),
            ipv4_address: None,
        })
    }
}

/// What the price cache keeps: every location's server-type prices.
#[derive(Debug, Serialize, Deserialize)]
struct CachedRows {
    prices: Vec<ServerTypePrice>,
}

impl Hetzner {
    async fn server_types(&self) -> Result<Vec<model::ServerType>, ProviderError> {
        let mut types = Vec::new();
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let list: model::ServerTypeList = self
                .transport
                .call(&request::server_types(page), "list server types")
                .await?;
            types.extend(list.server_types);
            match model::next_page(list.meta.as_ref()) {
                Some(next) if next > page => page = next,
                _ => break,
            }
        }
        Ok(types)
    }

    pub(super) async fn plan_list(&self) -> Result<Vec<PlanInfo>, ProviderError> {
        Ok(self
            .server_types()
            .await?
            .iter()
            .map(model::ServerType::to_plan)
            .collect())
    }

    pub(super) async fn zone_list(&self) -> Result<Vec<ZoneInfo>, ProviderError> {
        let list: model::LocationList = self
            .transport
            .call(&request::locations(), "list locations")
            .await?;
        Ok(list
            .locations
            .into_iter()
            .map(model::Location::into_info)
            .collect())
    }

    fn price_cache(&self) -> Option<PriceCache> {
        let dir = self.options.price_cache_dir.as_ref()?;
        Some(PriceCache::new(dir, "hetzner", &self.options.api_url))
    }

    /// The price list of every location: from a cache younger than a day, else fetched (and
    /// cached), else an older cache with the reason it could not be refreshed.
    pub async fn price_list(&self) -> Result<PriceList, ProviderError> {
        let cache = self.price_cache();
        let cached: Option<Cached<CachedRows>> = cache.as_ref().and_then(PriceCache::load);
        let now = Timestamp::now();
        if let Some(cached) = cached.as_ref().filter(|c| c.is_fresh(now)) {
            return Ok(PriceList {
                prices: cached.list.prices.clone(),
                source: PriceSource::Cache {
                    fetched_at: cached.fetched_at,
                },
            });
        }
        match self.server_types().await {
            Ok(types) => {
                let (prices, broken) = model::server_type_prices(&types);
                if prices.is_empty() && !broken.is_empty() {
                    return Err(ProviderError::InvalidResponse {
                        provider: NAME,
                        action: "read the price list".into(),
                        detail: format!("no price could be read ({})", broken.join(", ")),
                    });
                }
                let rows = CachedRows { prices };
                if let Some(cache) = &cache {
                    // A cache that cannot be written only costs a fetch next time.
                    let _ = cache.store(now, &rows);
                }
                Ok(PriceList {
                    prices: rows.prices,
                    source: PriceSource::Live,
                })
            }
            Err(err) => match cached {
                Some(cached) => Ok(PriceList {
                    prices: cached.list.prices,
                    source: PriceSource::StaleCache {
                        fetched_at: cached.fetched_at,
                        reason: err.to_string(),
                    },
                }),
                None => Err(err),
            },
        }
    }

    /// Hourly and monthly price (net and gross) of `server_type` in `location`.
    pub async fn server_type_price(
        &self,
        location: &str,
        server_type: &str,
    ) -> Result<(ServerTypePrice, PriceSource), ProviderError> {
        let list = self.price_list().await?;
        if let Some(price) = list.find(location, server_type) {
            return Ok((price.clone(), list.source));
        }
        Err(unknown(&list, location, server_type))
    }

    pub(super) async fn zone_prices(&self, zone: &str) -> Result<PriceQuote, ProviderError> {
        let list = self.price_list().await?;
        match list.zone_prices(zone) {
            Some(prices) => Ok(PriceQuote {
                prices,
                source: list.source,
            }),
            None => Err(unknown(&list, zone, "")),
        }
    }
}

/// The location has no prices at all, or not for this server type.
fn unknown(list: &PriceList, location: &str, server_type: &str) -> ProviderError {
    let in_location: Vec<String> = list
        .prices
        .iter()
        .filter(|p| p.location == location)
        .map(|p| p.server_type.clone())
        .collect();
    if server_type.is_empty() || in_location.is_empty() {
        let mut locations: Vec<String> = list.prices.iter().map(|p| p.location.clone()).collect();
        locations.sort();
        locations.dedup();
        return ProviderError::InvalidSetting {
            provider: NAME,
            message: format!("location {location:?} is not in the price list"),
            hint: Some(format!(
                "set provider.zone in config/dev.yml to one of: {}",
                locations.join(", ")
            )),
        };
    }
    ProviderError::UnknownPlan {
        provider: NAME,
        plan: server_type.to_string(),
        available: in_location,
    }
}
