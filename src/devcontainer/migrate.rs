//! Legacy property migration, done before anything else (the reference's
//! `updateFromOldProperties`): top-level `extensions`, `settings` and `devPort` move under
//! `customizations.vscode`. Pure.

use serde_json::{Map, Value};

/// Move the legacy top-level VS Code properties under `customizations.vscode`.
pub fn migrate_legacy(config: &mut Map<String, Value>) {
    let has_extensions = config.get("extensions").is_some_and(js_truthy);
    let has_settings = config.get("settings").is_some_and(js_truthy);
    let has_dev_port = config.contains_key("devPort");
    if !(has_extensions || has_settings || has_dev_port) {
        return;
    }
    let mut customizations = match config.get("customizations") {
        Some(v) if js_truthy(v) => v.clone(),
        _ => Value::Object(Map::new()),
    };
    let Some(custom_map) = customizations.as_object_mut() else {
        return;
    };
    let mut vscode = match custom_map.get("vscode") {
        Some(v) if js_truthy(v) => v.clone(),
        _ => Value::Object(Map::new()),
    };
    let Some(vscode_map) = vscode.as_object_mut() else {
        return;
    };
    if has_extensions && let Some(extensions) = config.shift_remove("extensions") {
        let mut list = match vscode_map.get("extensions") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        match extensions {
            Value::Array(items) => list.extend(items),
            other => list.push(other),
        }
        vscode_map.insert("extensions".to_string(), Value::Array(list));
    }
    if has_settings && let Some(settings) = config.shift_remove("settings") {
        // `{...legacy, ...existing}`: existing keys win, legacy order comes first.
        let mut merged = match settings {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        if let Some(Value::Object(existing)) = vscode_map.get("settings") {
            for (k, v) in existing {
                merged.insert(k.clone(), v.clone());
            }
        }
        vscode_map.insert("settings".to_string(), Value::Object(merged));
    }
    if has_dev_port
        && !vscode_map.contains_key("devPort")
        && let Some(port) = config.shift_remove("devPort")
    {
        vscode_map.insert("devPort".to_string(), port);
    }
    custom_map.insert("vscode".to_string(), vscode);
    config.insert("customizations".to_string(), customizations);
}

/// JavaScript truthiness of a JSON value.
pub fn js_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn moves_legacy_properties() {
        let mut config = json!({
            "image": "x",
            "extensions": ["a"],
            "settings": {"s": 1, "t": 2},
            "devPort": 8000,
            "customizations": {"vscode": {"extensions": ["z"], "settings": {"t": 3}}}
        })
        .as_object()
        .cloned()
        .unwrap();
        migrate_legacy(&mut config);
        assert_eq!(
            Value::Object(config),
            json!({
                "image": "x",
                "customizations": {"vscode": {
                    "extensions": ["z", "a"],
                    "settings": {"s": 1, "t": 3},
                    "devPort": 8000
                }}
            })
        );
    }

    #[test]
    fn leaves_modern_files_alone() {
        let original = json!({"image": "x", "customizations": {}});
        let mut config = original.as_object().cloned().unwrap();
        migrate_legacy(&mut config);
        assert_eq!(Value::Object(config), original);
    }
}
