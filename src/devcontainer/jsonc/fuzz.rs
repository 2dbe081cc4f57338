//! Property tests: the parser never panics on arbitrary input, reads back any JSON value
//! exactly, and tolerates comments and trailing commas wherever JSONC allows them.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{Parsed, parse, parse_object};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| Value::from(i64::from(n))),
        (-1.0e6f64..1.0e6).prop_map(super::js_number),
        "\\PC{0,12}".prop_map(Value::String),
        "[\"\\\\/\u{8}\u{c}\n\r\t\u{1}\u{1f}é☃😀]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(("\\PC{0,8}", inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Write `value` as JSONC: a comment before every item and a trailing comma after the last.
fn to_jsonc(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let mut out = String::from("[ // open\n");
            for v in items {
                out.push_str("/* c */ ");
                out.push_str(&to_jsonc(v));
                out.push_str(",\n");
            }
            out.push(']');
            out
        }
        Value::Object(map) => {
            let mut out = String::from("{");
            for (k, v) in map {
                out.push_str("// key\n");
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(" : ");
                out.push_str(&to_jsonc(v));
                out.push(',');
            }
            out.push('}');
            out
        }
        other => other.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text);
        let _ = parse_object(&text);
    }

    #[test]
    fn random_json_like_text_never_panics(text in "[\\[\\]{}\",:/*\\\\ \n0-9a-z.eE+-]{0,80}") {
        let _ = parse(&text);
        let _ = parse_object(&text);
    }

    #[test]
    fn any_json_value_reads_back(value in json_value()) {
        let compact = value.to_string();
        prop_assert_eq!(parse(&compact).ok(), Some(value.clone()));
        let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
        prop_assert_eq!(parse(&pretty).ok(), Some(value.clone()));
        prop_assert_eq!(parse(&format!("\u{feff}{}", to_jsonc(&value))).ok(), Some(value.clone()));
    }

    #[test]
    fn objects_come_back_as_objects(value in json_value()) {
        let wrapped = Value::Object([("k".to_string(), value)].into_iter().collect());
        match parse_object(&to_jsonc(&wrapped)) {
            Ok(Parsed::Object(map)) => prop_assert_eq!(Value::Object(map), wrapped),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
