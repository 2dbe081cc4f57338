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

/// Parsed host requirements; `None`/0 means "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostRequirements {
    pub cpus: u64,
    /// Bytes.
    pub memory: u64,
    /// Bytes.
    pub storage: u64,
    pub gpu: Option<GpuRequirement>,
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

fn parse_gpu(value: Option<&Value>) -> Option<GpuRequirement> {
    match value? {
        Value::Bool(true) => Some(GpuRequirement::Required),
        Value::String(s) if s == "optional" => Some(GpuRequirement::Optional),
        Value::Object(map) => Some(GpuRequirement::Detailed {
            cores: map.get("cores").and_then(Value::as_u64).filter(|&c| c > 0),
            memory: map
                .get("memory")
                .and_then(Value::as_str)
                .map(parse_bytes)
                .filter(|&m| m > 0),
        }),
        // Other truthy values still ask for a GPU.
        Value::String(s) if !s.is_empty() => Some(GpuRequirement::Required),
        Value::Number(n) if n.as_f64().is_some_and(|f| f != 0.0) => Some(GpuRequirement::Required),
        _ => None,
    }
}

/// Parse one `hostRequirements` object.
pub fn parse(value: Option<&Value>) -> HostRequirements {
    let Some(Value::Object(map)) = value else {
        return HostRequirements::default();
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).map_or(0, parse_bytes);
    HostRequirements {
        cpus: map.get("cpus").and_then(Value::as_u64).unwrap_or(0),
        memory: text("memory"),
        storage: text("storage"),
        gpu: parse_gpu(map.get("gpu")),
    }
}

fn merge_gpu(a: Option<GpuRequirement>, b: Option<GpuRequirement>) -> Option<GpuRequirement> {
    match (a, b) {
        (None, other) | (other, None) => other,
        (Some(GpuRequirement::Optional), Some(GpuRequirement::Optional)) => {
            Some(GpuRequirement::Optional)
        }
        (Some(a), Some(b)) => {
            let parts = |g: &GpuRequirement| match g {
                GpuRequirement::Detailed { cores, memory } => {
                    (cores.unwrap_or(0), memory.unwrap_or(0))
                }
                _ => (0, 0),
            };
            let (ac, am) = parts(&a);
            let (bc, bm) = parts(&b);
            let cores = ac.max(bc);
            let memory = am.max(bm);
            Some(GpuRequirement::Detailed {
                cores: (cores > 0).then_some(cores),
                memory: (memory > 0).then_some(memory),
            })
        }
    }
}

/// Merge several entries: the maximum of each field.
pub fn merge<'a>(entries: impl IntoIterator<Item = Option<&'a Value>>) -> Option<HostRequirements> {
    let mut out = HostRequirements::default();
    for entry in entries {
        let parsed = parse(entry);
        out.cpus = out.cpus.max(parsed.cpus);
        out.memory = out.memory.max(parsed.memory);
        out.storage = out.storage.max(parsed.storage);
        out.gpu = merge_gpu(out.gpu.take(), parsed.gpu);
    }
    let any = out.cpus > 0 || out.memory > 0 || out.storage > 0 || out.gpu.is_some();
    any.then_some(out)
}

impl HostRequirements {
    /// The merged form the reference prints: byte counts as strings.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("cpus".to_string(), Value::from(self.cpus));
        if self.memory > 0 {
            map.insert("memory".to_string(), Value::String(self.memory.to_string()));
        }
        if self.storage > 0 {
            map.insert(
                "storage".to_string(),
                Value::String(self.storage.to_string()),
            );
        }
        match &self.gpu {
            None => {}
            Some(GpuRequirement::Required) => {
                map.insert("gpu".to_string(), Value::Bool(true));
            }
            Some(GpuRequirement::Optional) => {
                map.insert("gpu".to_string(), Value::String("optional".to_string()));
            }
            Some(GpuRequirement::Detailed { cores, memory }) => {
                let mut gpu = Map::new();
                if let Some(cores) = cores {
                    gpu.insert("cores".to_string(), Value::from(*cores));
                }
                if let Some(memory) = memory {
                    gpu.insert("memory".to_string(), Value::String(memory.to_string()));
                }
                map.insert("gpu".to_string(), Value::Object(gpu));
            }
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
        assert_eq!(merge([None]), None);
    }
}
