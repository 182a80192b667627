//! The kdeck sandbox: a Kubernetes-API-compatible server with a simulated control
//! plane, used as the default local cluster and by every end-to-end test.
//!
//! Layers, from the wire inwards:
//! - [`api`]: HTTP — authentication, routing, discovery, watch streams, tables, protobuf.
//! - [`rest`]: the generic REST logic — validation, defaulting, patches, deletion.
//! - [`store`]: objects, resourceVersions, change fan-out, persistence.
//! - [`controllers`]: scheduler, ReplicaSets, Deployments, Endpoints, garbage
//!   collection, namespace deletion, CRD registration.
//! - [`kubelet`]: the simulated kubelet: pod lifecycle and logs.
//! - [`network`]: what answers on a pod's port, and the ways to reach it.
//! - [`serviceaccount`]: pods' ServiceAccount tokens: admission, issuing, TokenRequest.
//! - [`faults`]: fault injection (429, 500, 503, slow, dropped connections, cut watches).

pub mod api;
pub mod controllers;
pub mod cron;
pub mod faults;
mod fsutil;
pub mod kubelet;
pub mod md5;
pub mod network;
pub mod quantity;
pub mod resources;
pub mod rest;
pub mod scenarios;
mod server;
pub mod serviceaccount;
pub mod store;
pub mod time;
pub mod tls;

pub use server::{Credentials, Sandbox, SandboxConfig, SandboxError};
