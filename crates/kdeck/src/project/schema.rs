//! The JSON Schema of `kdeck.yaml`, generated from [`Config`]. The copy shipped at
//! `schema/kdeck.schema.json` lets editors check the file (yaml-language-server:
//! `# yaml-language-server: $schema=…`); a test keeps it equal to the types.

use super::config::Config;

/// The schema's identifier: a name, not a download location.
pub const SCHEMA_ID: &str = "urn:kdeck:schema:kdeck.yaml";

/// The schema as pretty JSON, ending with a newline.
pub fn generate() -> String {
    let mut schema = schemars::schema_for!(Config);
    schema.insert("$id".to_string(), SCHEMA_ID.into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_schema_is_current() {
        let shipped = include_str!("../../../../schema/kdeck.schema.json");
        assert!(shipped == generate(), "schema/kdeck.schema.json is out of date: regenerate it with `kdeck config schema > schema/kdeck.schema.json`");
    }

    #[test]
    fn schema_describes_the_file() {
        let schema: serde_json::Value = serde_json::from_str(&generate()).unwrap();
        assert_eq!(schema["$id"], SCHEMA_ID);
        assert_eq!(schema["title"], "kdeck project configuration");
        assert_eq!(schema["additionalProperties"], false, "unknown keys are errors");
        for key in ["defaults", "vars", "components", "tasks", "flavors"] {
            assert!(schema["properties"].get(key).is_some(), "{key}");
        }
    }
}
