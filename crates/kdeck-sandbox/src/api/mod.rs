//! The HTTP side of the API server: authentication, routing of Kubernetes REST paths,
//! content negotiation, and the handlers that call the REST layer.

mod admin;
mod attach;
pub mod auth;
pub mod body;
mod channels;
pub mod discovery;
mod exec;
mod list_body;
mod logs;
pub mod metrics;
mod portforward;
pub mod protobuf;
mod proxy;
mod query;
pub mod strategic_merge;
pub mod table;
mod watch;

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, Request, Response, header};
use serde_json::{Value, json};

use self::body::{Body, error_response, json_response};
use self::query::Query;
use crate::resources::ResourceInfo;
use crate::rest::patch::PatchKind;
use crate::rest::{ApiError, DeleteOptions, Deletion, ListQuery, Propagation, Rest, Subresource, WriteOptions};
use auth::{Tokens, User};

/// How long a writer's answer waits for its change to reach the disk.
const DURABLE_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Shared state of the HTTP server.
pub struct ApiServer {
    pub rest: Rest,
    pub tokens: Tokens,
    /// `host:port` clients reach the server at, for `/api`'s serverAddressByClientCIDRs.
    pub address: String,
    /// Faults to inject into resource requests (see [`crate::faults`]).
    pub faults: crate::faults::Faults,
}

/// A request for a resource, parsed from its path.
struct Target {
    info: ResourceInfo,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
    /// The deprecated `/watch/` path prefix.
    watch_path: bool,
}

impl ApiServer {
    pub async fn handle(self: Arc<Self>, req: Request<crate::api::body::RequestBody>) -> Response<Body> {
        // A request that changed the store is answered once its changes are durable: the
        // store notes the resourceVersion of each change this request makes.
        let (response, changed) = crate::store::tracking_changes(self.route(req)).await;
        if changed > 0
            && let Err(err) = self.durable(changed).await
        {
            return error_response(&err);
        }
        response.unwrap_or_else(|err| error_response(&err))
    }

    async fn durable(&self, rv: u64) -> Result<(), ApiError> {
        match tokio::time::timeout(DURABLE_WITHIN, self.rest.store.durable(rv)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(crate::store::JournalError::Closed)) => {
                Err(ApiError::new(503, "ServiceUnavailable", "the sandbox is shutting down; the change may not be kept"))
            }
            Ok(Err(e)) => Err(ApiError::internal(format!("the change was made but cannot be kept: {e}"))),
            Err(_) => Err(ApiError::new(504, "Timeout", "the change was made but not written to disk in time; it may not be kept")),
        }
    }

    async fn route(&self, req: Request<crate::api::body::RequestBody>) -> Result<Response<Body>, ApiError> {
        let path = req.uri().path().to_string();
        let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(query::percent_decode).collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        // Health and version are public, as on a real cluster.
        match segs.as_slice() {
            ["healthz" | "livez" | "readyz", ..] => return Ok(text_response("ok")),
            ["version"] => return Ok(json_response(200, &discovery::version())),
            _ => {}
        }
        let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let user = self.tokens.user(authorization, &self.rest.store).ok_or_else(ApiError::unauthorized)?;
        if segs.first() == Some(&admin::PREFIX) {
            return admin::serve(self, req, &user, &segs[1..]).await;
        }
        let catalogue = &self.rest.catalogue;
        if req.method() != Method::GET && matches!(segs.first(), None | Some(&"openapi")) {
            return Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource"));
        }
        let aggregated = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).and_then(discovery::aggregated_version);
        match segs.as_slice() {
            [] => return Ok(json_response(200, &discovery::root_paths(catalogue))),
            ["openapi", "v2"] => return Ok(openapi_v2(&req)),
            ["openapi", "v3", ..] => return Ok(json_response(200, &discovery::openapi_v3())),
            ["api" | "apis"] if req.method() == Method::GET && aggregated.is_some() => {
                let version = aggregated.unwrap_or("v2");
                let mut response = json_response(200, &discovery::aggregated(catalogue, segs[0] == "api", version));
                if let Ok(media) = http::HeaderValue::from_str(&discovery::aggregated_media_type(version)) {
                    response.headers_mut().insert(header::CONTENT_TYPE, media);
                }
                response.headers_mut().insert(header::VARY, http::HeaderValue::from_static("Accept"));
                return Ok(response);
            }
            ["api"] if req.method() == Method::GET => return Ok(json_response(200, &discovery::core_versions(&self.address))),
            ["apis"] if req.method() == Method::GET => return Ok(json_response(200, &discovery::group_list(catalogue))),
            ["apis", group] if req.method() == Method::GET => {
                return discovery::group(catalogue, group).map(|g| json_response(200, &g)).ok_or_else(not_found_path);
            }
            ["api", version] if req.method() == Method::GET => {
                return discovery::resource_list(catalogue, "", version).map(|l| json_response(200, &l)).ok_or_else(not_found_path);
            }
            ["apis", group, version] if req.method() == Method::GET => {
                return discovery::resource_list(catalogue, group, version).map(|l| json_response(200, &l)).ok_or_else(not_found_path);
            }
            _ => {}
        }
        // The proxy subresources take the rest of the path as theirs.
        if let ["api", "v1", "namespaces", ns, kind @ ("services" | "pods"), id, "proxy", ..] = segs.as_slice() {
            let info = catalogue.find("", "v1", kind).ok_or_else(not_found_path)?;
            let verb = proxy::verb(req.method());
            if !auth::allows(user.role, verb, "") {
                return Err(forbidden(&user, verb, &info, Some(ns), Some(id), Some("proxy")));
            }
            return proxy::serve(&self.rest, req, ns, kind, id).await;
        }
        // The node proxy reaches the kubelet: its health and its stats summary.
        if let ["api", "v1", "nodes", node, "proxy", path @ ..] = segs.as_slice() {
            let info = catalogue.find("", "v1", "nodes").ok_or_else(not_found_path)?;
            let verb = proxy::verb(req.method());
            if !auth::allows(user.role, verb, "") {
                return Err(forbidden(&user, verb, &info, None, Some(node), Some("proxy")));
            }
            let node = node.split_once(':').map_or(*node, |(name, _)| name);
            self.rest.get(&info, None, node)?;
            return match (req.method(), path) {
                (&Method::GET, ["stats", "summary"]) => {
                    metrics::summary(&self.rest, node).map(|s| json_response(200, &s)).ok_or_else(|| ApiError::not_found(&info, node))
                }
                (&Method::GET, ["healthz"]) => Ok(text_response("ok")),
                _ => Err(not_found_path()),
            };
        }
        let (group, version, rest) = match segs.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return Err(not_found_path()),
        };
        let target = self.parse_target(group, version, rest).ok_or_else(not_found_path)?;
        let query = Query::parse(req.uri().query().unwrap_or_default());
        self.serve_resource(req, user, target, query).await
    }

    fn parse_target(&self, group: &str, version: &str, mut rest: &[&str]) -> Option<Target> {
        let catalogue = &self.rest.catalogue;
        let watch_path = rest.first() == Some(&"watch");
        if watch_path {
            rest = &rest[1..];
        }
        let mut namespace = None;
        if rest.len() >= 3
            && rest[0] == "namespaces"
            && let Some(info) = catalogue.find(group, version, rest[2]).filter(|i| i.namespaced)
        {
            namespace = Some(rest[1].to_string());
            let rest = &rest[2..];
            return (rest.len() <= 3).then(|| Target {
                info,
                namespace,
                name: rest.get(1).map(|s| s.to_string()),
                subresource: rest.get(2).map(|s| s.to_string()),
                watch_path,
            });
        }
        let info = catalogue.find(group, version, rest.first()?)?;
        if rest.len() > 3 {
            return None;
        }
        if info.namespaced {
            namespace = None;
        }
        Some(Target { info, namespace, name: rest.get(1).map(|s| s.to_string()), subresource: rest.get(2).map(|s| s.to_string()), watch_path })
    }

    async fn serve_resource(&self, req: Request<crate::api::body::RequestBody>, user: User, target: Target, query: Query) -> Result<Response<Body>, ApiError> {
        let Target { info, namespace, name, subresource, watch_path } = target;
        let ns = namespace.as_deref();
        let method = req.method().clone();
        // exec, attach and portforward arrive as a GET or POST upgraded (WebSocket, or
        // SPDY for portforward); each is a create of its subresource.
        let streaming = subresource.as_deref().filter(|s| matches!(*s, "exec" | "attach" | "portforward"));
        if let Some(sub) = streaming.filter(|_| info.group.is_empty() && info.plural == "pods" && matches!(method, Method::GET | Method::POST)) {
            if !auth::allows(user.role, "create", &info.group) {
                return Err(forbidden(&user, "create", &info, ns, name.as_deref(), Some(sub)));
            }
            let (ns, name) = (ns.unwrap_or_default(), name.as_deref().unwrap_or_default());
            return match sub {
                "exec" => exec::serve(&self.rest, req, ns, name, &query).await,
                "attach" => attach::serve(&self.rest, req, ns, name, &query).await,
                _ => portforward::serve(&self.rest, req, ns, name, &query).await,
            };
        }
        let verb = match (&method, &name) {
            (&Method::GET, None) if watch_path || query.flag("watch") => "watch",
            (&Method::GET, None) => "list",
            (&Method::GET, Some(_)) if watch_path => "watch",
            (&Method::GET, Some(_)) => "get",
            (&Method::POST, _) => "create",
            (&Method::PUT, Some(_)) => "update",
            (&Method::PATCH, Some(_)) => "patch",
            (&Method::DELETE, None) => "deletecollection",
            (&Method::DELETE, Some(_)) => "delete",
            _ => return Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource")),
        };
        if !(info.verbs.contains(&verb) || verb == "create" && subresource.is_some()) {
            return Err(ApiError::method_not_allowed("the server does not allow this method on the requested resource"));
        }
        if !auth::allows(user.role, verb, &info.group) {
            return Err(forbidden(&user, verb, &info, ns, name.as_deref(), subresource.as_deref()));
        }
        if info.group == metrics::GROUP {
            let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
            return Ok(match name {
                Some(name) => self.render_one(&info, metrics::get(&self.rest, &info, ns, &name)?, accept, &query),
                None => self.render_values(&info, metrics::list(&self.rest, &info, ns, &list_query(&info, &query)?)?, accept, &query),
            });
        }
        // Injected faults: only here, so discovery, health, exec and /kdeck are never faulted.
        let log = info.group.is_empty() && info.plural == "pods" && subresource.as_deref() == Some("log") && verb == "get";
        let stream = verb == "watch" || log && query.flag("follow");
        let stream_fault = match self.faults.before(&info.plural, verb, stream).await {
            Ok(stream_fault) => stream_fault,
            Err(response) => return Ok(response),
        };
        if log {
            return logs::serve(&self.rest, ns.unwrap_or_default(), name.as_deref().unwrap_or_default(), &query, stream_fault);
        }
        // TokenRequest: `kubectl create token`, and what the kubelet asks for.
        if verb == "create" && info.group.is_empty() && info.plural == "serviceaccounts" && subresource.as_deref() == Some("token") {
            let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            let request = body::decode(&content_type, &body::collect(req.into_body()).await?)?;
            let answer = crate::serviceaccount::request::create(&self.rest, ns.unwrap_or_default(), name.as_deref().unwrap_or_default(), request)?;
            return Ok(json_response(201, &answer));
        }
        let sub = match subresource.as_deref() {
            None => Subresource::Main,
            Some("status") if info.has_subresource("status") => Subresource::Status,
            Some("scale") if info.has_subresource("scale") => Subresource::Scale,
            Some(other) if info.has_subresource(other) => {
                return Err(ApiError::method_not_allowed(format!("the {other} subresource of {} is not served by this sandbox yet", info.plural)));
            }
            Some(other) => return Err(ApiError::new(404, "NotFound", format!("the server could not find the requested resource ({} {other})", info.plural))),
        };
        let write = WriteOptions { dry_run: query.dry_run()?, field_manager: query.get("fieldManager").map(str::to_string), force: query.flag("force") };
        let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        match verb {
            "get" => {
                let name = name.unwrap_or_default();
                let obj = if sub == Subresource::Scale {
                    crate::rest::scale_of(&info, &self.rest.get(&info, ns, &name)?)?
                } else {
                    self.rest.get(&info, ns, &name)?
                };
                Ok(self.render_one(&info, obj, &accept, &query))
            }
            "list" => {
                let list_query = list_query(&info, &query)?;
                let listing = self.rest.list_fresh(&info, ns, &list_query).await?;
                Ok(self.render_list(&info, listing, &accept, &query))
            }
            "watch" => {
                let mut list_query = list_query(&info, &query)?;
                if let Some(name) = &name {
                    list_query.fields = crate::rest::selector::FieldSelector::parse(&format!("metadata.name={name}"), &[]).map_err(ApiError::bad_request)?;
                }
                let table = matches!(Representation::of(&accept), Representation::Table)
                    .then(|| watch::TableView { columns: printer_columns(&info), include: include_object(&query) });
                watch::serve(&self.rest, &info, ns, list_query, &query, stream_fault, table)
            }
            "create" => {
                let bytes = body::collect(req.into_body()).await?;
                let obj = body::decode(&content_type, &bytes)?;
                if auth::is_self_review(&info.group) {
                    return Ok(json_response(201, &self.review(&user, &info, obj)));
                }
                if subresource.is_some() {
                    return Err(ApiError::method_not_allowed(format!("creating {} is not served by this sandbox yet", subresource.unwrap_or_default())));
                }
                let created = self.rest.create(&info, ns, obj, &write)?;
                Ok(json_response(201, &created))
            }
            "update" => {
                let bytes = body::collect(req.into_body()).await?;
                let obj = body::decode(&content_type, &bytes)?;
                let updated = self.rest.update(&info, ns, &name.unwrap_or_default(), obj, sub, &write)?;
                Ok(json_response(200, &self.maybe_scale(&info, sub, updated)?))
            }
            "patch" => {
                let kind = PatchKind::from_content_type(&content_type).ok_or_else(|| ApiError::unsupported_media_type(&content_type))?;
                let bytes = body::collect(req.into_body()).await?;
                let (obj, created) =
                    self.rest.patch(&info, ns, &name.unwrap_or_default(), crate::rest::patch::PatchRequest { kind, body: &bytes }, sub, &write)?;
                Ok(json_response(if created { 201 } else { 200 }, &self.maybe_scale(&info, sub, obj)?))
            }
            "delete" => {
                let bytes = body::collect(req.into_body()).await?;
                let opts = delete_options(&query, &content_type, &bytes)?;
                match self.rest.delete_reporting(&info, ns, &name.unwrap_or_default(), &opts)? {
                    // Gone at once: a Status naming what went, unless the kind's registry
                    // returns the deleted object (see rest::strategy).
                    Deletion::Removed(obj) if !crate::rest::strategy::returns_deleted_object(&info) => {
                        let meta = &obj["metadata"];
                        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
                        let status = crate::rest::status::deleted(&text(&meta["name"]), &info.group, &info.plural, &text(&meta["uid"]));
                        Ok(body::raw_json_response(200, status))
                    }
                    done => Ok(json_response(200, &done.into_object())),
                }
            }
            "deletecollection" => {
                let bytes = body::collect(req.into_body()).await?;
                let opts = delete_options(&query, &content_type, &bytes)?;
                let list_query = list_query(&info, &query)?;
                let items = self.rest.delete_collection(&info, ns, &list_query, &opts)?;
                let list = json!({"kind": format!("{}List", info.kind), "apiVersion": info.api_version(), "metadata": {"resourceVersion": self.rest.store.resource_version().to_string()}, "items": items});
                Ok(json_response(200, &list))
            }
            _ => Err(ApiError::method_not_allowed("unsupported verb")),
        }
    }

    fn maybe_scale(&self, info: &ResourceInfo, sub: Subresource, obj: Value) -> Result<Value, ApiError> {
        if sub == Subresource::Scale { crate::rest::scale_of(info, &obj) } else { Ok(obj) }
    }

    fn review(&self, user: &User, info: &ResourceInfo, obj: Value) -> Value {
        match info.plural.as_str() {
            "selfsubjectrulesreviews" => auth::rules_review(user, obj),
            "selfsubjectreviews" => auth::self_subject(user, obj),
            _ => auth::review_access(user, obj),
        }
    }

    fn render_one(&self, info: &ResourceInfo, obj: Value, accept: &str, query: &Query) -> Response<Body> {
        match Representation::of(accept) {
            Representation::Table => {
                let columns = printer_columns(info);
                let table = table::build(
                    &info.group,
                    &info.plural,
                    &[&obj],
                    columns.as_deref(),
                    include_object(query),
                    json!({"resourceVersion": obj["metadata"]["resourceVersion"]}),
                    SystemTime::now(),
                );
                json_response(200, &table)
            }
            Representation::Metadata => json_response(200, &partial_metadata(&obj)),
            Representation::Object => json_response(200, &obj),
        }
    }

    /// A list of objects that are not stored (computed on the request).
    fn render_values(&self, info: &ResourceInfo, items: Vec<Value>, accept: &str, query: &Query) -> Response<Body> {
        let meta = json!({});
        match Representation::of(accept) {
            Representation::Table => {
                let refs: Vec<&Value> = items.iter().collect();
                json_response(200, &table::build(&info.group, &info.plural, &refs, None, include_object(query), meta, SystemTime::now()))
            }
            Representation::Metadata => {
                let items: Vec<Value> = items.iter().map(partial_metadata).collect();
                json_response(200, &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items}))
            }
            Representation::Object => {
                json_response(200, &json!({"kind": format!("{}List", info.kind), "apiVersion": info.api_version(), "metadata": meta, "items": items}))
            }
        }
    }

    fn render_list(&self, info: &ResourceInfo, listing: crate::rest::Listing, accept: &str, query: &Query) -> Response<Body> {
        let mut meta = json!({"resourceVersion": listing.resource_version.to_string()});
        if let Some(token) = &listing.continue_token {
            meta["continue"] = json!(token);
        }
        if let Some(remaining) = listing.remaining {
            meta["remainingItemCount"] = json!(remaining);
        }
        match Representation::of(accept) {
            Representation::Table => {
                let objects: Vec<Value> = listing.items.iter().map(|e| e.value()).collect();
                let refs: Vec<&Value> = objects.iter().collect();
                let columns = printer_columns(info);
                json_response(200, &table::build(&info.group, &info.plural, &refs, columns.as_deref(), include_object(query), meta, SystemTime::now()))
            }
            Representation::Metadata => {
                let items: Vec<Value> = listing.items.iter().map(|e| partial_metadata(&e.value())).collect();
                json_response(200, &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items}))
            }
            Representation::Object => {
                let head = json!({"kind": format!("{}List", info.kind), "apiVersion": info.api_version(), "metadata": meta});
                list_body::response(head, listing.items)
            }
        }
    }
}

enum Representation {
    Object,
    Table,
    Metadata,
}

impl Representation {
    /// Picks the first representation in the Accept header that the server can produce.
    fn of(accept: &str) -> Self {
        for media in accept.split(',') {
            let media = media.trim();
            if media.contains("as=Table") && media.contains("g=meta.k8s.io") {
                return Representation::Table;
            }
            if media.contains("as=PartialObjectMetadata") && media.contains("g=meta.k8s.io") {
                return Representation::Metadata;
            }
            if media.starts_with("application/json") || media.starts_with("*/*") || media.starts_with("application/vnd.kubernetes.protobuf") {
                return Representation::Object;
            }
        }
        Representation::Object
    }
}

fn include_object(query: &Query) -> table::RowObject {
    match query.get("includeObject") {
        Some("None") => table::RowObject::None,
        Some("Object") => table::RowObject::Object,
        _ => table::RowObject::Metadata,
    }
}

fn printer_columns(info: &ResourceInfo) -> Option<Vec<table::PrinterColumn>> {
    let custom = info.custom.as_ref()?;
    let text = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    Some(
        custom
            .printer_columns
            .iter()
            .map(|c| table::PrinterColumn {
                name: text(c, "name"),
                type_: text(c, "type"),
                format: text(c, "format"),
                description: text(c, "description"),
                priority: c["priority"].as_i64().unwrap_or(0),
                json_path: text(c, "jsonPath"),
            })
            .collect(),
    )
}

fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

fn list_query(info: &ResourceInfo, query: &Query) -> Result<ListQuery, ApiError> {
    let labels = crate::rest::selector::LabelSelector::parse(query.get("labelSelector").unwrap_or_default()).map_err(ApiError::bad_request)?;
    let allowed = crate::store::index_fields(&info.key());
    let fields = crate::rest::selector::FieldSelector::parse(query.get("fieldSelector").unwrap_or_default(), allowed).map_err(ApiError::bad_request)?;
    // As an int64 query parameter: zero or less is no limit.
    let limit = match query.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => l.parse::<i64>().map_err(|_| ApiError::bad_request(format!("limit must be an integer, got {l:?}")))?,
        None => 0,
    };
    let text = |key: &str| query.get(key).filter(|v| !v.is_empty()).map(str::to_string);
    Ok(ListQuery {
        labels,
        fields,
        limit: usize::try_from(limit).ok().filter(|&l| l > 0),
        continue_token: text("continue"),
        resource_version: text("resourceVersion"),
        resource_version_match: text("resourceVersionMatch"),
        send_initial_events: query.get("sendInitialEvents").is_some(),
    })
}

fn delete_options(query: &Query, content_type: &str, body: &[u8]) -> Result<DeleteOptions, ApiError> {
    let options = if body.is_empty() { json!({}) } else { body::decode(content_type, body)? };
    let mut propagation = options["propagationPolicy"].as_str().or(query.get("propagationPolicy")).map(str::to_string);
    if propagation.is_none() && (options["orphanDependents"] == true || query.get("orphanDependents") == Some("true")) {
        propagation = Some("Orphan".into());
    }
    let propagation = match propagation.as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
    };
    let dry_run = query.dry_run()? || options["dryRun"].as_array().is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        dry_run,
        propagation,
        precondition_uid: options["preconditions"]["uid"].as_str().map(str::to_string),
        precondition_rv: options["preconditions"]["resourceVersion"].as_str().map(str::to_string),
        grace_period: options["gracePeriodSeconds"].as_i64().or_else(|| query.get("gracePeriodSeconds").and_then(|g| g.parse().ok())),
    })
}

fn forbidden(user: &User, verb: &str, info: &ResourceInfo, ns: Option<&str>, name: Option<&str>, sub: Option<&str>) -> ApiError {
    let resource = match sub {
        Some(s) => format!("{}/{s}", info.plural),
        None => info.plural.clone(),
    };
    let what = match name {
        Some(n) => format!("{} \"{n}\"", info.qualified()),
        None => info.qualified(),
    };
    let scope = match ns {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".to_string(),
    };
    let mut err = ApiError::forbidden(format!(
        "{what} is forbidden: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"{}\"{scope}",
        user.name, info.group
    ));
    err.details = Some(json!({"name": name.unwrap_or_default(), "group": info.group, "kind": info.plural}));
    err
}

fn not_found_path() -> ApiError {
    ApiError::new(404, "NotFound", "the server could not find the requested resource")
}

fn text_response(text: &'static str) -> Response<Body> {
    let mut resp = Response::new(body::full(Bytes::from_static(text.as_bytes())));
    resp.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// kubectl asks for the protobuf form of OpenAPI v2; an empty document is valid
/// protobuf and tells it there are no schemas to validate against.
fn openapi_v2(req: &Request<crate::api::body::RequestBody>) -> Response<Body> {
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accept.contains("protobuf") && !accept.starts_with("application/json") {
        let mut resp = Response::new(body::full(Bytes::new()));
        resp.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"));
        return resp;
    }
    json_response(200, &discovery::openapi_v2())
}
