//! A small checker for the subset of JSON Schema the Hetzner `OpenAPI` 3.0 document uses:
//! `$ref`, `allOf`/`anyOf`/`oneOf`, `type`, `nullable`, `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `pattern`, `maxLength` and numeric bounds. Used by
//! `hetzner_openapi` on request and response bodies; test code only.

use std::path::Path;

use serde_json::{Value, json};

/// The `OpenAPI` document and a checker over its `components.schemas`.
pub struct Schemas {
    doc: Value,
}

impl Schemas {
    pub fn load(dir: &Path) -> Schemas {
        Schemas {
            doc: load_json(&dir.join("hcloud-openapi.json")),
        }
    }

    /// Every way `value` breaks the named schema, as `path: problem` lines.
    pub fn check(&self, schema_name: &str, value: &Value) -> Vec<String> {
        let schema = &self.doc["components"]["schemas"][schema_name];
        assert!(schema.is_object(), "no schema {schema_name}");
        let mut errors = Vec::new();
        self.walk(schema, value, "$", &mut errors);
        errors
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.doc
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("bad $ref {reference}"))
            }
            None => schema,
        }
    }

    fn walk(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if value.is_null() {
            let nullable = schema.get("nullable") == Some(&json!(true))
                || schema.get("type").is_none()
                    && schema.get("allOf").is_none()
                    && schema.get("$ref").is_none();
            if !nullable {
                errors.push(format!("{at}: null but not nullable"));
            }
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.walk(part, value, at, errors);
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(options) = schema.get(key).and_then(Value::as_array) {
                let fits = options.iter().any(|option| {
                    let mut inner = Vec::new();
                    self.walk(option, value, at, &mut inner);
                    inner.is_empty()
                });
                if !fits {
                    errors.push(format!("{at}: matches no {key} option"));
                }
            }
        }
        if let Some(kind) = schema.get("type").and_then(Value::as_str) {
            let ok = match kind {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                _ => true,
            };
            if !ok {
                errors.push(format!("{at}: expected {kind}, got {value}"));
                return;
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            errors.push(format!("{at}: {value} not in {options:?}"));
        }
        if let (Some(pattern), Some(text)) = (
            schema.get("pattern").and_then(Value::as_str),
            value.as_str(),
        ) {
            let re = regex::Regex::new(pattern).expect("pattern");
            if !re.is_match(text) {
                errors.push(format!("{at}: {text:?} does not match {pattern}"));
            }
        }
        if let (Some(max), Some(text)) = (
            schema.get("maxLength").and_then(Value::as_u64),
            value.as_str(),
        ) && text.chars().count() as u64 > max
        {
            errors.push(format!("{at}: longer than {max}"));
        }
        if let Some(number) = value.as_f64() {
            if schema
                .get("minimum")
                .and_then(Value::as_f64)
                .is_some_and(|min| number < min)
            {
                errors.push(format!("{at}: below minimum"));
            }
            if schema
                .get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|max| number > max)
            {
                errors.push(format!("{at}: above maximum"));
            }
        }
        self.walk_children(schema, value, at, errors);
    }

    fn walk_children(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        if let Some(object) = value.as_object() {
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = required.as_str()
                    && !object.contains_key(name)
                {
                    errors.push(format!("{at}: missing required {name}"));
                }
            }
            let properties = schema.get("properties").and_then(Value::as_object);
            for (name, item) in object {
                match properties.and_then(|p| p.get(name)) {
                    Some(property) => self.walk(property, item, &format!("{at}.{name}"), errors),
                    None => {
                        if let Some(extra) =
                            schema.get("additionalProperties").filter(|e| e.is_object())
                        {
                            self.walk(extra, item, &format!("{at}.{name}"), errors);
                        }
                    }
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (index, item) in array.iter().enumerate() {
                self.walk(items, item, &format!("{at}[{index}]"), errors);
            }
        }
    }
}

fn load_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
