//! The tools' JSON Schemas, made lean: every tool's schemas are read into
//! the lead's context on every session, and some clients validate them.

use std::sync::Arc;

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

#[cfg(test)]
mod tests {
    use super::*;

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
