//! AI operations: one registry of tools ([`tools`]) that `kdeck ask` drives with a
//! model and `kdeck mcp` offers to any AI assistant — reads run, changes are plans
//! applied only after a person confirmed, and everything is redacted first.

pub mod ask;
pub mod mcp;
pub mod rightsize;
pub mod tools;
