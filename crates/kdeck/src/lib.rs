//! kdeck: day-2 operations, project tasks, stacks and diagnosis for Kubernetes
//! clusters, with a sandbox cluster built in. The binary is a thin layer over this
//! library.

pub mod ai;
pub mod cli;
pub mod cluster;
pub mod diagnose;
pub mod error;
pub mod interrupt;
pub mod lint;
pub mod llm;
pub mod ops;
pub mod project;
pub mod redact;
pub mod render;
pub mod sandboxes;
pub mod stack;
pub mod taskfile;
pub mod tasks;
pub mod ui;
