//! UpCloud's catalog: plans, zones, OS templates (resolved by name) and the price list with
//! its day-long cache and offline fallback.

use jiff::Timestamp;

use super::model::{self, PlanList, PriceList, TemplateList, ZoneList};
use super::{NAME, Upcloud, options, request};
use crate::cost::ZonePrices;
use crate::provider::http::RetryPolicy;
use crate::provider::price_cache::{CachedPrices, CachedZones, PriceCache};
use crate::provider::{PlanInfo, PriceQuote, PriceSource, ProviderError, ZoneInfo};

impl Upcloud {
    /// All plans (fetched once per process).
    pub(super) async fn plan_list(&self) -> Result<Vec<PlanInfo>, ProviderError> {
        if let Some(plans) = self.plans.lock().ok().and_then(|cached| cached.clone()) {
            return Ok(plans);
        }
        let list: PlanList = self.transport.call(&request::plans(), "list plans").await?;
        let plans: Vec<PlanInfo> = list
            .plans
            .0
            .into_iter()
            .map(model::Plan::into_info)
            .collect();
        if let Ok(mut cached) = self.plans.lock() {
            *cached = Some(plans.clone());
        }
        Ok(plans)
    }

    /// The named plan, or an error listing the real ones.
    pub(super) async fn plan(&self, name: &str) -> Result<PlanInfo, ProviderError> {
        let plans = self.plan_list().await?;
        plans
            .iter()
            .find(|plan| plan.name == name)
            .cloned()
            .ok_or_else(|| ProviderError::UnknownPlan {
                provider: NAME,
                plan: name.to_string(),
                available: plans.iter().map(|plan| plan.name.clone()).collect(),
            })
    }

    pub(super) async fn zone_list(&self) -> Result<Vec<ZoneInfo>, ProviderError> {
        let list: ZoneList = self.transport.call(&request::zones(), "list zones").await?;
        Ok(list
            .zones
            .0
            .into_iter()
            .map(model::Zone::into_info)
            .collect())
    }

    /// The UUID of the OS template called `name` (a UUID, an exact title, or words of one).
    pub(super) async fn template_uuid(&self, name: &str) -> Result<String, ProviderError> {
        if let Some(uuid) = self
            .templates
            .lock()
            .ok()
            .and_then(|map| map.get(name).cloned())
        {
            return Ok(uuid);
        }
        let list: TemplateList = self
            .transport
            .call(&request::templates(), "list OS templates")
            .await?;
        let templates: Vec<model::Template> = list
            .storages
            .0
            .into_iter()
            .filter(|t| t.kind.as_deref().is_none_or(|kind| kind == "template"))
            .collect();
        let uuid = options::pick_template(&templates, name)
            .map(|template| template.uuid.clone())
            .map_err(|candidates| ProviderError::ImageNotFound {
                provider: NAME,
                name: name.to_string(),
                candidates,
            })?;
        if let Ok(mut map) = self.templates.lock() {
            map.insert(name.to_string(), uuid.clone());
        }
        Ok(uuid)
    }

    fn price_cache(&self) -> Option<PriceCache> {
        let dir = self.options.price_cache_dir.as_ref()?;
        Some(PriceCache::new(dir, "upcloud", &self.options.api_url))
    }

    /// Prices for `zone`: from a cache younger than a day, else from `GET /price` (then
    /// cached), else from an older cache with the reason it could not be refreshed.
    pub(super) async fn zone_prices(&self, zone: &str) -> Result<PriceQuote, ProviderError> {
        let cache = self.price_cache();
        let cached: Option<CachedPrices> = cache.as_ref().and_then(PriceCache::load);
        let now = Timestamp::now();
        if let Some(cached) = cached.as_ref().filter(|c| c.is_fresh(now))
            && let Some(prices) = cached.zone(zone)
        {
            return Ok(PriceQuote {
                prices: prices.clone(),
                source: PriceSource::Cache {
                    fetched_at: cached.fetched_at,
                },
            });
        }
        // With older prices at hand, do not keep an offline user waiting through every retry.
        let retry = if cached.as_ref().is_some_and(|c| c.zone(zone).is_some()) {
            RetryPolicy {
                max_retries: 1,
                ..self.options.retry
            }
        } else {
            self.options.retry
        };
        match self.fetch_prices(&retry).await {
            Ok(zones) => {
                let list = CachedZones { zones };
                if let Some(cache) = &cache {
                    // A cache that cannot be written only costs a fetch next time.
                    let _ = cache.store(now, &list);
                }
                let zones = list.zones;
                let known: Vec<String> = zones.iter().map(|z| z.zone.clone()).collect();
                let prices = zones.into_iter().find(|z| z.zone == zone).ok_or_else(|| {
                    ProviderError::InvalidSetting {
                        provider: NAME,
                        message: format!("zone {zone:?} is not in the price list"),
                        hint: Some(format!(
                            "set provider.zone in config/dev.yml to one of: {}",
                            known.join(", ")
                        )),
                    }
                })?;
                Ok(PriceQuote {
                    prices,
                    source: PriceSource::Live,
                })
            }
            Err(err) => match cached
                .as_ref()
                .and_then(|c| Some((c.fetched_at, c.zone(zone)?)))
            {
                Some((fetched_at, prices)) => Ok(PriceQuote {
                    prices: prices.clone(),
                    source: PriceSource::StaleCache {
                        fetched_at,
                        reason: err.to_string(),
                    },
                }),
                None => Err(err),
            },
        }
    }

    async fn fetch_prices(&self, retry: &RetryPolicy) -> Result<Vec<ZonePrices>, ProviderError> {
        let list: PriceList = self
            .transport
            .call_with(&request::prices(), "read the price list", retry)
            .await?;
        Ok(list
            .prices
            .0
            .iter()
            .filter_map(model::zone_prices)
            .collect())
    }
}
