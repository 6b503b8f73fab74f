//! The tools' JSON Schemas, made lean and portable: every tool's schemas
//! are read into the lead's context on every session, some clients validate
//! them, and some models take only a subset of JSON Schema.
//!
//! The subset is what Gemini's function calling takes (an OpenAPI schema
//! subset): every value has one scalar `type`, optional fields are simply
//! left out of `required`, enums are inline, and there is no `$ref`,
//! `$defs`, `anyOf`/`oneOf`/`allOf`, `const` or `additionalProperties`.
//! schemars writes `Option<T>` as `"type": ["T", "null"]` or an `anyOf`
//! with `null`, and shared types as `$ref`s; Gemini answers such a tool
//! with HTTP 400 and fails the lead's whole turn, and schema-driven clients
//! (the MCP Inspector CLI) find no `"array"` and send a list as a string.
//! [`portable`] rewrites what schemars writes into the subset;
//! [`subset_problems`] says what in a schema is outside it.
//!
//! Leaving `additionalProperties: false` out does not make inputs lenient:
//! the input types refuse unknown fields when they are read.

use std::sync::Arc;

use serde_json::{Map, Value};

use rmcp::handler::server::common::{schema_for_input, schema_for_output};
use rmcp::model::JsonObject;

/// `schema` without what costs the lead context or trips clients' schema
/// validators: the `$schema` URL, `format`s such as `uint64` that JSON
/// Schema does not define (Claude Code warns about each one), and, unless
/// `descriptions`, every description.
fn lean(schema: &JsonObject, descriptions: bool) -> Arc<JsonObject> {
    /// `names`: `value` maps field names to schemas (`properties`), so its
    /// keys are names, not keywords.
    fn strip(value: &mut serde_json::Value, names: bool, descriptions: bool) {
        match value {
            serde_json::Value::Object(map) => {
                if !names {
                    map.remove("format");
                    if !descriptions {
                        map.remove("description");
                    }
                }
                for (key, child) in map.iter_mut() {
                    strip(child, !names && key == "properties", descriptions);
                }
            }
            serde_json::Value::Array(items) => {
                items.iter_mut().for_each(|v| strip(v, false, descriptions))
            }
            _ => {}
        }
    }
    let mut value = serde_json::Value::Object(schema.clone());
    portable(&mut value);
    strip(&mut value, false, descriptions);
    match value {
        serde_json::Value::Object(mut map) => {
            map.remove("$schema");
            Arc::new(map)
        }
        _ => Arc::new(schema.clone()),
    }
}

/// The input schema of `T`, descriptions kept: the lead fills these fields.
pub fn lean_input_schema<T: schemars::JsonSchema + 'static>() -> Arc<JsonObject> {
    match schema_for_input::<T>() {
        Ok(schema) => lean(&schema, true),
        Err(e) => {
            // Our own types; the tests list every tool's schema.
            tracing::error!(
                "the input schema of {} is invalid: {e}",
                std::any::type_name::<T>()
            );
            rmcp::handler::server::common::schema_for_empty_input()
        }
    }
}

/// The output schema of `T` without descriptions: the field names and the
/// tool's description say enough about what comes back.
pub fn lean_output_schema<T: schemars::JsonSchema + 'static>() -> Arc<JsonObject> {
    lean(&schema_for_output::<T>(), false)
}

/// How deep `$ref`s are followed; our types nest a few levels, and a type
/// that referred to itself would otherwise be inlined forever.
const MAX_DEPTH: usize = 16;

/// Rewrites `schema` (as schemars writes it) into the portable subset:
/// `$ref`s inlined, nullable unions and type lists collapsed to their one
/// type, `const` alternatives made an `enum`, `true` (any value) made `{}`,
/// `additionalProperties` and null defaults dropped.
pub fn portable(schema: &mut Value) {
    let defs = match schema.as_object_mut() {
        Some(root) => {
            let mut defs = Map::new();
            for key in ["$defs", "definitions"] {
                if let Some(Value::Object(found)) = root.remove(key) {
                    defs.extend(found);
                }
            }
            defs
        }
        None => Map::new(),
    };
    resolve(schema, &defs, 0);
}

fn resolve(node: &mut Value, defs: &Map<String, Value>, depth: usize) {
    if depth >= MAX_DEPTH {
        return;
    }
    if matches!(node, Value::Bool(true)) {
        *node = Value::Object(Map::new());
    }
    let Value::Object(map) = node else { return };
    // Until nothing changes: an inlined definition may itself hold a `$ref`
    // or a union.
    for _ in 0..MAX_DEPTH {
        let mut changed = false;
        if let Some(Value::String(target)) = map.get("$ref").cloned() {
            let name = target
                .strip_prefix("#/$defs/")
                .or_else(|| target.strip_prefix("#/definitions/"));
            if let Some(Value::Object(def)) = name.and_then(|n| defs.get(n)) {
                map.remove("$ref");
                // The referring schema's own keys (its description) win;
                // the definition's description is about the type, not the
                // field, and would repeat in every place it is used.
                for (key, value) in def {
                    if key != "description" {
                        map.entry(key.clone()).or_insert_with(|| value.clone());
                    }
                }
                changed = true;
            }
        }
        for key in ["anyOf", "oneOf"] {
            let Some(Value::Array(branches)) = map.get(key) else {
                continue;
            };
            let branches: Vec<Value> = branches
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                .cloned()
                .collect();
            if let [only] = branches.as_slice() {
                map.remove(key);
                if let Value::Object(inner) = only {
                    for (k, v) in inner {
                        if k != "description" || !map.contains_key(k) {
                            map.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                }
                changed = true;
            } else if let Some((ty, values)) = const_alternatives(&branches) {
                map.remove(key);
                map.insert("type".into(), ty);
                map.insert("enum".into(), Value::Array(values));
                changed = true;
            }
        }
        if let Some(Value::Array(types)) = map.get("type") {
            let types: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
            if let [one] = types.as_slice() {
                let one = (*one).clone();
                map.insert("type".into(), one);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    map.remove("additionalProperties");
    if map.get("default") == Some(&Value::Null) {
        map.remove("default");
    }
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        for child in properties.values_mut() {
            resolve(child, defs, depth + 1);
        }
    }
    if let Some(items) = map.get_mut("items") {
        resolve(items, defs, depth + 1);
    }
}

/// `[{const: a, type: T}, {const: b, type: T}…]` (a Rust enum whose
/// variants have doc comments) as `(T, [a, b…])`.
fn const_alternatives(branches: &[Value]) -> Option<(Value, Vec<Value>)> {
    let mut ty = None;
    let mut values = Vec::with_capacity(branches.len());
    for branch in branches {
        let value = branch.get("const")?;
        let this = branch.get("type")?;
        if ty.get_or_insert(this) != &this {
            return None;
        }
        values.push(value.clone());
    }
    Some((ty?.clone(), values))
}

/// The keywords a portable schema may use.
#[cfg(test)]
const SUBSET_KEYWORDS: &[&str] = &[
    "type",
    "description",
    "enum",
    "properties",
    "required",
    "items",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "title",
];

/// The scalar types a portable schema may name.
#[cfg(test)]
const SUBSET_TYPES: &[&str] = &["object", "array", "string", "integer", "number", "boolean"];

/// What in `schema` is outside the portable subset, each with its path
/// (empty: nothing). `any_ok`: a schema with no `type` (any JSON value,
/// such as a completion payload) is allowed — in output schemas, which
/// describe what comes back and which models never fill in.
#[cfg(test)]
pub fn subset_problems(schema: &Value, any_ok: bool) -> Vec<String> {
    let mut problems = Vec::new();
    check(schema, "#", any_ok, &mut problems);
    problems
}

#[cfg(test)]
fn check(node: &Value, path: &str, any_ok: bool, problems: &mut Vec<String>) {
    let Value::Object(map) = node else {
        problems.push(format!("{path}: not a schema object: {node}"));
        return;
    };
    for key in map.keys() {
        if !SUBSET_KEYWORDS.contains(&key.as_str()) {
            problems.push(format!("{path}: keyword `{key}`"));
        }
    }
    match map.get("type") {
        Some(Value::String(ty)) if SUBSET_TYPES.contains(&ty.as_str()) => {
            if ty == "array" && !map.contains_key("items") {
                problems.push(format!("{path}: an array without `items`"));
            }
        }
        Some(other) => problems.push(format!("{path}: `type` is {other}, not one scalar type")),
        None if any_ok && !map.contains_key("properties") && !map.contains_key("items") => {}
        None => problems.push(format!("{path}: no `type`")),
    }
    if let Some(values) = map.get("enum") {
        let ok = values
            .as_array()
            .is_some_and(|v| !v.is_empty() && v.iter().all(Value::is_string));
        if !ok {
            problems.push(format!("{path}: `enum` is not a list of strings"));
        }
    }
    let properties = map.get("properties").and_then(Value::as_object);
    if let Some(required) = map.get("required") {
        let names = required.as_array().map(Vec::as_slice).unwrap_or_default();
        for name in names {
            let known = name
                .as_str()
                .is_some_and(|n| properties.is_some_and(|p| p.contains_key(n)));
            if !known {
                problems.push(format!("{path}: `required` names {name}, not a property"));
            }
        }
    }
    if let Some(properties) = properties {
        for (name, child) in properties {
            check(
                child,
                &format!("{path}/properties/{name}"),
                any_ok,
                problems,
            );
        }
    }
    if let Some(items) = map.get("items") {
        check(items, &format!("{path}/items"), any_ok, problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_schemars_writes_becomes_the_portable_subset() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        enum Kind {
            /// A doc comment makes schemars write a `oneOf` of `const`s.
            Alpha,
            /// Another.
            Beta,
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Inner {
            name: Option<String>,
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        #[schemars(deny_unknown_fields)]
        struct In {
            /// The ids.
            ids: Option<Vec<String>>,
            count: Option<u32>,
            kind: Option<Kind>,
            kinds: Vec<Kind>,
            inner: Option<Inner>,
            env: Option<std::collections::BTreeMap<String, String>>,
            any: serde_json::Value,
        }
        let before = serde_json::to_value(schemars::schema_for!(In)).unwrap();
        assert!(!subset_problems(&before, false).is_empty());
        let schema = serde_json::Value::Object((*lean_input_schema::<In>()).clone());
        assert_eq!(
            subset_problems(&schema, true),
            Vec::<String>::new(),
            "{schema}"
        );
        let p = &schema["properties"];
        assert_eq!(p["ids"]["type"], "array", "{schema}");
        assert_eq!(p["ids"]["items"]["type"], "string");
        assert_eq!(p["ids"]["description"], "The ids.");
        assert_eq!(p["count"]["type"], "integer");
        assert_eq!(p["kind"]["type"], "string");
        assert_eq!(p["kind"]["enum"], serde_json::json!(["Alpha", "Beta"]));
        assert_eq!(
            p["kinds"]["items"]["enum"],
            serde_json::json!(["Alpha", "Beta"])
        );
        assert_eq!(p["inner"]["properties"]["name"]["type"], "string");
        assert_eq!(p["env"], serde_json::json!({"type": "object"}));
        assert_eq!(schema["required"], serde_json::json!(["kinds", "any"]));
        // Only an output may hold a value of any type.
        assert!(!subset_problems(&schema, false).is_empty());
    }

    #[test]
    fn the_checker_names_what_is_outside_the_subset() {
        let cases = [
            (
                serde_json::json!({"type": ["string", "null"]}),
                "not one scalar type",
            ),
            (serde_json::json!({"$ref": "#/$defs/X"}), "`$ref`"),
            (
                serde_json::json!({"anyOf": [{"type": "string"}]}),
                "`anyOf`",
            ),
            (serde_json::json!({"type": "array"}), "without `items`"),
            (
                serde_json::json!({"type": "object", "required": ["x"]}),
                "not a property",
            ),
            (serde_json::json!({"type": "string", "enum": [1]}), "`enum`"),
        ];
        for (schema, needle) in cases {
            let problems = subset_problems(&schema, false).join("; ");
            assert!(problems.contains(needle), "{schema}: {problems}");
        }
        // A type that refers to itself ends, whatever it leaves.
        let mut looped = serde_json::json!({
            "$ref": "#/$defs/L",
            "$defs": {"L": {"type": "object", "properties": {"next": {"$ref": "#/$defs/L"}}}}
        });
        portable(&mut looped);
    }

    #[test]
    fn output_schemas_lose_descriptions_but_keep_fields_named_description() {
        #[derive(serde::Serialize, schemars::JsonSchema)]
        struct Out {
            /// Said once.
            description: String,
            /// Said twice.
            other: Vec<u8>,
        }
        let schema = serde_json::Value::Object((*lean_output_schema::<Out>()).clone());
        assert!(!schema.to_string().contains("uint8"), "{schema}");
        let text = schema.to_string();
        assert!(!text.contains("Said"), "{text}");
        assert!(schema["properties"]["description"].is_object(), "{text}");
        assert!(schema["properties"]["other"].is_object(), "{text}");
        assert!(schema.get("$schema").is_none());
    }
}
