//! The ingress address: an HTTP/1.1 listener on `127.0.0.1:<port>` that serves
//! the cluster's Ingresses the way ingress-nginx does (see [`routes`] for which
//! backend a request reaches, [`proxy`] for how it is passed on).
//!
//! It serves the Ingresses of the IngressClass `nginx` — which the sandbox
//! creates at start (controller `k8s.io/ingress-nginx`, the default class) — and
//! of any class whose controller is `k8s.io/ingress-nginx`, and Ingresses without
//! a class (or with the old annotation `kubernetes.io/ingress.class: nginx`).
//! As with the DefaultIngressClass admission plugin, an Ingress created without a
//! class gets `ingressClassName` of the default class.

pub mod proxy;
pub mod routes;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::resources::ResourceKey;
use crate::rest::{Rest, WriteOptions};
use crate::store::Store;
use routes::Routes;

/// The IngressClass the sandbox creates.
pub const CLASS: &str = "nginx";
pub const CONTROLLER: &str = "k8s.io/ingress-nginx";
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

fn ingresses() -> ResourceKey {
    ResourceKey::new("networking.k8s.io", "ingresses")
}

fn classes() -> ResourceKey {
    ResourceKey::new("networking.k8s.io", "ingressclasses")
}

/// Creates the IngressClass `nginx` (the default class) unless it exists.
pub fn ensure_class(rest: &Rest) {
    let Some(info) = rest.catalogue.find("networking.k8s.io", "v1", "ingressclasses") else { return };
    if rest.store.get(&classes(), &(String::new(), CLASS.to_string())).is_some() {
        return;
    }
    let class = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {"name": CLASS, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
            "labels": {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/instance": "ingress-nginx", "app.kubernetes.io/component": "controller"}},
        "spec": {"controller": CONTROLLER},
    });
    let _ = rest.create(&info, None, class, &WriteOptions::default());
}

/// The DefaultIngressClass admission plugin: an Ingress created without a class
/// (neither `ingressClassName` nor the old annotation) gets the default class, the
/// newest one marked default.
pub fn admit(store: &Store, ingress: &mut Value) {
    if ingress["spec"]["ingressClassName"].is_string() || ingress["metadata"]["annotations"][CLASS_ANNOTATION].is_string() || !ingress["spec"].is_object() {
        return;
    }
    let (all, _) = store.list(&classes(), None, None, |_| true);
    let default = all
        .iter()
        .map(|e| e.value())
        .filter(|c| c["metadata"]["annotations"][DEFAULT_CLASS_ANNOTATION] == "true")
        .max_by_key(|c| c["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string());
    if let Some(name) = default.as_ref().and_then(|c| c["metadata"]["name"].as_str()) {
        ingress["spec"]["ingressClassName"] = json!(name);
    }
}

/// Whether the ingress address serves `ingress`, given the IngressClasses.
pub fn served(ingress: &Value, classes: &[Value]) -> bool {
    match ingress["spec"]["ingressClassName"].as_str() {
        Some(name) => name == CLASS || classes.iter().any(|c| c["metadata"]["name"] == name && c["spec"]["controller"] == CONTROLLER),
        None => ingress["metadata"]["annotations"][CLASS_ANNOTATION].as_str().is_none_or(|a| a == CLASS),
    }
}

/// The Ingresses the address serves, as stored now.
pub fn served_ingresses(store: &Store) -> Vec<Value> {
    let class_list: Vec<Value> = store.list(&classes(), None, None, |_| true).0.iter().map(|e| e.value()).collect();
    store
        .list(&ingresses(), None, None, |_| true)
        .0
        .iter()
        .map(|e| e.value())
        .filter(|i| i["metadata"]["deletionTimestamp"].is_null() && served(i, &class_list))
        .collect()
}

/// The routes, rebuilt only when an Ingress or IngressClass changed.
struct Cached {
    /// (uid, resourceVersion) of every Ingress and IngressClass they were built from.
    from: Vec<(String, u64)>,
    routes: Arc<Routes>,
}

struct State {
    rest: Rest,
    cache: Mutex<Option<Cached>>,
}

impl State {
    fn routes(&self) -> Arc<Routes> {
        let versions = |key: &ResourceKey| -> Vec<(String, u64)> {
            self.rest.store.list(key, None, None, |_| true).0.iter().map(|e| (e.index.uid.clone(), e.index.rv)).collect()
        };
        let mut from = versions(&ingresses());
        from.extend(versions(&classes()));
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cached) = cache.as_ref().filter(|c| c.from == from) {
            return cached.routes.clone();
        }
        let routes = Arc::new(Routes::build(&served_ingresses(&self.rest.store)));
        *cache = Some(Cached { from, routes: routes.clone() });
        routes
    }
}

/// Binds the ingress address `127.0.0.1:port` (0: a free port).
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await
}

/// Serves the ingress address until the task is dropped (which ends its connections too).
pub async fn serve(rest: Rest, listener: TcpListener) {
    let state = Arc::new(State { rest, cache: Mutex::new(None) });
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, peer)) = accepted else { continue };
                let _ = tcp.set_nodelay(true);
                let local = tcp.local_addr().unwrap_or(peer);
                connections.spawn(connection(state.clone(), tcp, peer, local));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connection(state: Arc<State>, tcp: tokio::net::TcpStream, peer: SocketAddr, local: SocketAddr) {
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let state = state.clone();
        async move {
            let routes = state.routes();
            // A bug costs one request a 500, never the connection or the listener.
            let answer = std::panic::AssertUnwindSafe(proxy::handle(&state.rest, &routes, request, peer, local)).catch_unwind().await;
            Ok::<_, Infallible>(answer.unwrap_or_else(|_| proxy::page(500)))
        }
    });
    let _ =
        hyper::server::conn::http1::Builder::new().keep_alive(true).title_case_headers(true).serve_connection(TokioIo::new(tcp), service).with_upgrades().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_ingresses_are_served() {
        let other = json!({"metadata": {"name": "traefik"}, "spec": {"controller": "traefik.io/ingress-controller"}});
        let mine = json!({"metadata": {"name": "public"}, "spec": {"controller": CONTROLLER}});
        let classes = [other, mine];
        let ingress =
            |class: Value, annotation: Value| json!({"metadata": {"annotations": {CLASS_ANNOTATION: annotation}}, "spec": {"ingressClassName": class}});
        assert!(served(&ingress(json!("nginx"), Value::Null), &classes));
        assert!(served(&ingress(json!("public"), Value::Null), &classes));
        assert!(!served(&ingress(json!("traefik"), Value::Null), &classes));
        assert!(served(&ingress(Value::Null, Value::Null), &classes));
        assert!(served(&ingress(Value::Null, json!("nginx")), &classes));
        assert!(!served(&ingress(Value::Null, json!("traefik")), &classes));
    }
}
