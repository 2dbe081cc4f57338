//! `hostRequirements`: cpus, memory, storage and gpu, parsed to exact numbers the way the
//! reference does (`^(\d+)([tgmk]b)?$`, powers of 1024; anything else is 0), and merged across
//! metadata entries by taking the maximum. Pure.

use serde_json::{Map, Value};

/// What a GPU requirement asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuRequirement {
    /// `true`
    Required,
    /// `"optional"`
    Optional,
    /// `{cores, memory}`; memory in bytes.
    Detailed {
        cores: Option<u64>,
        memory: Option<u64>,
    },
}

/// Parsed host requirements; 0 means "not set".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostRequirements {
    /// CPUs; JavaScript numbers, so a fraction survives.
    pub cpus: f64,
    /// Bytes.
    pub memory: u64,
    /// Bytes.
    pub storage: u64,
    /// The `gpu` value as merged by the reference (kept as written when only one entry
    /// sets it; `false` is kept too).
    pub gpu: Option<Value>,
}

/// Bytes from `"8gb"`, `"512mb"`, `"1024"`; 0 when the text does not match the reference's
/// pattern exactly (`"4GB"` and `"4.5gb"` are 0).
pub fn parse_bytes(text: &str) -> u64 {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return 0;
    }
    let factor: u64 = match unit {
        "" => 1,
        "kb" => 1 << 10,
        "mb" => 1 << 20,
        "gb" => 1 << 30,
        "tb" => 1 << 40,
        _ => return 0,
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .unwrap_or(u64::MAX)
}

fn bytes_of(value: Option<&Value>) -> u64 {
    value.and_then(Value::as_str).map_or(0, parse_bytes)
}

/// Parse one `hostRequirements` object.
pub fn parse(value: Option<&Value>) -> HostRequirements {
    let Some(Value::Object(map)) = value else {
        return HostRequirements::default();
    };
    HostRequirements {
        cpus: map.get("cpus").and_then(Value::as_f64).unwrap_or(0.0),
        memory: bytes_of(map.get("memory")),
        storage: bytes_of(map.get("storage")),
        gpu: map.get("gpu").cloned(),
    }
}

fn absent_or_false(value: Option<&Value>) -> bool {
    matches!(value, None | Some(Value::Bool(false)))
}

/// The reference's `mergeGpuRequirements`.
fn merge_gpu(a: Option<Value>, b: Option<Value>) -> Option<Value> {
    if absent_or_false(a.as_ref()) {
        return b;
    }
    if absent_or_false(b.as_ref()) {
        return a;
    }
    let optional = |v: &Option<Value>| v.as_ref().and_then(Value::as_str) == Some("optional");
    if optional(&a) && optional(&b) {
        return Some(Value::String("optional".to_string()));
    }
    let parts = |v: &Option<Value>| match v {
        Some(Value::Object(map)) => (
            map.get("cores").and_then(Value::as_f64).unwrap_or(0.0),
            bytes_of(map.get("memory")),
        ),
        _ => (0.0, 0),
    };
    let (a_cores, a_memory) = parts(&a);
    let (b_cores, b_memory) = parts(&b);
    let cores = a_cores.max(b_cores);
    let memory = a_memory.max(b_memory);
    let mut map = Map::new();
    if cores != 0.0 {
        map.insert("cores".to_string(), super::jsonc::js_number(cores));
    }
    if memory != 0 {
        map.insert("memory".to_string(), Value::String(memory.to_string()));
    }
    Some(Value::Object(map))
}

/// Merge several entries: the maximum of each field; `None` when nothing is set.
pub fn merge<'a>(entries: impl IntoIterator<Item = Option<&'a Value>>) -> Option<HostRequirements> {
    let mut out = HostRequirements::default();
    for entry in entries {
        let parsed = parse(entry);
        out.cpus = out.cpus.max(parsed.cpus);
        out.memory = out.memory.max(parsed.memory);
        out.storage = out.storage.max(parsed.storage);
        out.gpu = merge_gpu(out.gpu.take(), parsed.gpu);
    }
    let gpu_truthy = out.gpu.as_ref().is_some_and(super::migrate::js_truthy);
    let any = out.cpus != 0.0 || out.memory > 0 || out.storage > 0 || gpu_truthy;
    any.then_some(out)
}

impl HostRequirements {
    /// What the GPU requirement asks for, if anything (only truthiness reaches Docker).
    pub fn gpu(&self) -> Option<GpuRequirement> {
        match self.gpu.as_ref()? {
            Value::String(s) if s == "optional" => Some(GpuRequirement::Optional),
            Value::Object(map) => Some(GpuRequirement::Detailed {
                cores: map.get("cores").and_then(Value::as_u64).filter(|&c| c > 0),
                memory: Some(bytes_of(map.get("memory"))).filter(|&m| m > 0),
            }),
            other if super::migrate::js_truthy(other) => Some(GpuRequirement::Required),
            _ => None,
        }
    }

    /// The merged form the reference prints: byte counts as strings.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("cpus".to_string(), super::jsonc::js_number(self.cpus));
        if self.memory > 0 {
            map.insert("memory".to_string(), Value::String(self.memory.to_string()));
        }
        if self.storage > 0 {
            map.insert(
                "storage".to_string(),
                Value::String(self.storage.to_string()),
            );
        }
        if let Some(gpu) = &self.gpu {
            map.insert("gpu".to_string(), gpu.clone());
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bytes_like_the_reference() {
        assert_eq!(parse_bytes("8gb"), 8_589_934_592);
        assert_eq!(parse_bytes("512mb"), 536_870_912);
        assert_eq!(parse_bytes("1kb"), 1024);
        assert_eq!(parse_bytes("2tb"), 2 << 40);
        assert_eq!(parse_bytes("1024"), 1024);
        assert_eq!(parse_bytes("4GB"), 0);
        assert_eq!(parse_bytes("4.5gb"), 0);
        assert_eq!(parse_bytes(""), 0);
    }

    #[test]
    fn merge_takes_the_maximum() {
        let a = json!({"cpus": 2, "memory": "8gb", "gpu": "optional"});
        let b = json!({"cpus": 4, "storage": "32gb", "gpu": {"cores": 100, "memory": "2gb"}});
        let merged = merge([Some(&a), Some(&b), None]).unwrap();
        assert_eq!(
            merged.to_json(),
            json!({"cpus": 4, "memory": "8589934592", "storage": "34359738368",
                   "gpu": {"cores": 100, "memory": "2147483648"}})
        );
        assert_eq!(
            merged.gpu(),
            Some(GpuRequirement::Detailed {
                cores: Some(100),
                memory: Some(2 << 30)
            })
        );
        assert_eq!(merge([None]), None);
        // A single entry keeps its gpu value as written, unknown keys included.
        let single = json!({"cpus": 2, "gpu": {"cores": 100, "storage": "2gb"}});
        assert_eq!(
            merge([Some(&single)]).unwrap().to_json()["gpu"],
            json!({"cores": 100, "storage": "2gb"})
        );
        let off = json!({"gpu": false});
        assert_eq!(merge([Some(&off)]), None);
    }
}
