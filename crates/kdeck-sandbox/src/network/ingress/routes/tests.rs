//! The matcher against the behaviour ingress-nginx documents (ingress path
//! matching, rewrite) and its source shows (`updateServerLocations`, the sort).

use serde_json::{Value, json};

use super::*;

fn ingress(name: &str, created: &str, annotations: Value, rules: Value) -> Value {
    json!({"metadata": {"name": name, "namespace": "default", "creationTimestamp": created, "annotations": annotations}, "spec": {"rules": rules}})
}

fn rule(host: Option<&str>, paths: &[(&str, &str, &str)]) -> Value {
    let paths: Vec<Value> =
        paths.iter().map(|(path, kind, svc)| json!({"path": path, "pathType": kind, "backend": {"service": {"name": svc, "port": {"number": 80}}}})).collect();
    let mut rule = json!({"http": {"paths": paths}});
    if let Some(host) = host {
        rule["host"] = json!(host);
    }
    rule
}

/// The Service a request reaches (`404` for the default backend) and the rewritten URI.
fn reach(routes: &Routes, host: &str, path: &str) -> (String, Option<String>) {
    let route = routes.find(host, path);
    let name = match route.backend {
        Backend::Service { name, .. } => name,
        Backend::Default => "404".into(),
        Backend::Unsupported(why) => why,
    };
    (name, route.rewritten)
}

fn to(svc: &str) -> (String, Option<String>) {
    (svc.to_string(), None)
}

#[test]
fn exact_prefix_and_implementation_specific_without_regular_expressions() {
    let routes = Routes::build(&[ingress(
        "paths",
        "2026-01-01T00:00:00Z",
        json!({}),
        json!([rule(
            None,
            &[
                ("/foo", "Prefix", "prefix"),
                ("/exact", "Exact", "exact"),
                ("/impl", "ImplementationSpecific", "impl"),
                ("/api", "Prefix", "api"),
                ("/api/v2", "Prefix", "v2")
            ]
        )]),
    )]);
    for (path, svc) in [
        ("/foo", "prefix"),
        ("/foo/", "prefix"),
        ("/foo/bar?x=1", "prefix"),
        ("/foobar", "404"),
        ("/exact", "exact"),
        ("/exact/", "404"),
        ("/impl", "impl"),
        ("/implementation", "impl"),
        ("/api/v2/users", "v2"),
        ("/api/v1", "api"),
        ("/FOO", "404"),
        ("/", "404"),
        ("/x/../foo/./bar", "prefix"),
        ("//foo", "prefix"),
        ("/%66oo", "prefix"),
    ] {
        assert_eq!(reach(&routes, "anything", path), to(svc), "{path}");
    }
}

#[test]
fn hosts_exact_wildcard_and_the_catch_all() {
    let routes = Routes::build(&[
        ingress("a", "2026-01-01T00:00:00Z", json!({}), json!([rule(Some("app.example.com"), &[("/", "Prefix", "app")])])),
        ingress("b", "2026-01-01T00:00:01Z", json!({}), json!([rule(Some("*.example.com"), &[("/", "Prefix", "wild")])])),
        ingress("c", "2026-01-01T00:00:02Z", json!({}), json!([rule(None, &[("/shop", "Prefix", "shop")])])),
    ]);
    assert_eq!(reach(&routes, "app.example.com", "/x"), to("app"));
    assert_eq!(reach(&routes, "APP.Example.com:8080", "/x"), to("app"));
    assert_eq!(reach(&routes, "blog.example.com", "/x"), to("wild"));
    assert_eq!(reach(&routes, "a.b.example.com", "/shop"), to("shop"), "a wildcard matches one label only");
    assert_eq!(reach(&routes, "example.com", "/shop"), to("shop"));
    // A host that has a server never falls through to the catch-all's paths.
    assert_eq!(reach(&routes, "blog.example.com", "/shop"), to("wild"));
    assert_eq!(reach(&routes, "other", "/nothing"), to("404"));
}

#[test]
fn rewrite_target_with_capture_groups() {
    let routes = Routes::build(&[ingress(
        "rewrite",
        "2026-01-01T00:00:00Z",
        json!({REWRITE_TARGET: "/$2", USE_REGEX: "true"}),
        json!([rule(Some("rewrite.bar.com"), &[("/something(/|$)(.*)", "ImplementationSpecific", "http-svc")])]),
    )]);
    let go = |path: &str| reach(&routes, "rewrite.bar.com", path);
    // The examples of ingress-nginx's rewrite documentation.
    assert_eq!(go("/something"), ("http-svc".into(), Some("/".into())));
    assert_eq!(go("/something/"), ("http-svc".into(), Some("/".into())));
    assert_eq!(go("/something/new"), ("http-svc".into(), Some("/new".into())));
    assert_eq!(go("/something/new?a=1&b=2"), ("http-svc".into(), Some("/new?a=1&b=2".into())));
    assert_eq!(go("/SOMETHING/x"), ("http-svc".into(), Some("/x".into())), "case-insensitive");
    assert_eq!(go("/somethingelse"), to("404"));
    assert_eq!(go("/some thing/x"), to("404"));
    let target = Routes::build(&[ingress("plain", "2026-01-01T00:00:00Z", json!({REWRITE_TARGET: "/"}), json!([rule(None, &[("/app", "Prefix", "app")])]))]);
    assert_eq!(reach(&target, "h", "/app/deep/path"), ("app".into(), Some("/".into())), "the whole path is replaced");
    assert_eq!(reach(&target, "h", "/application"), ("app".into(), Some("/".into())), "a regular expression ^/app");
}

#[test]
fn one_regex_ingress_turns_every_path_of_its_host_into_a_regular_expression() {
    let routes = Routes::build(&[
        ingress("plain", "2026-01-01T00:00:00Z", json!({}), json!([rule(Some("h"), &[("/foo", "Prefix", "foo"), ("/exact", "Exact", "exact")])])),
        ingress("regex", "2026-01-01T00:00:01Z", json!({USE_REGEX: "true"}), json!([rule(Some("h"), &[("/bar/[0-9]+", "ImplementationSpecific", "bar")])])),
        ingress("elsewhere", "2026-01-01T00:00:02Z", json!({}), json!([rule(Some("other"), &[("/foo", "Prefix", "other")])])),
    ]);
    assert_eq!(reach(&routes, "h", "/FOO/x"), to("foo"));
    assert_eq!(reach(&routes, "h", "/foobar"), to("foo"), "the Exact twin of a Prefix is ^/foo now");
    assert_eq!(reach(&routes, "h", "/exact/more"), to("exact"));
    assert_eq!(reach(&routes, "h", "/bar/42"), to("bar"));
    assert_eq!(reach(&routes, "h", "/bar/x"), to("404"));
    assert_eq!(reach(&routes, "other", "/foobar"), to("404"), "other hosts are not affected");
}

#[test]
fn default_backends_oldest_first_and_bad_expressions() {
    let mut default_only = json!({"metadata": {"name": "d", "namespace": "web", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"defaultBackend": {"service": {"name": "fallback", "port": {"number": 8080}}}}});
    let routes = Routes::build(&[
        default_only.clone(),
        ingress("new", "2026-01-02T00:00:00Z", json!({}), json!([rule(None, &[("/x", "Prefix", "newer")])])),
        ingress("old", "2026-01-01T00:00:00Z", json!({}), json!([rule(None, &[("/x", "Prefix", "older")])])),
    ]);
    assert_eq!(reach(&routes, "h", "/x"), to("older"));
    assert_eq!(reach(&routes, "h", "/elsewhere"), to("fallback"));
    default_only["spec"]["rules"] = json!([rule(Some("site"), &[("/app", "Prefix", "app")])]);
    let routes = Routes::build(&[default_only]);
    assert_eq!(reach(&routes, "site", "/nope"), to("fallback"), "the Ingress's default backend is its hosts' root");
    assert_eq!(reach(&routes, "h", "/nope"), to("404"));
    let routes = Routes::build(&[ingress(
        "bad",
        "2026-01-01T00:00:00Z",
        json!({USE_REGEX: "true"}),
        json!([rule(None, &[("/(?=x)", "ImplementationSpecific", "x"), ("/ok", "Prefix", "ok")])]),
    )]);
    assert_eq!(routes.skipped.len(), 1, "{:?}", routes.skipped);
    assert_eq!(reach(&routes, "h", "/ok"), to("ok"));
}

#[test]
fn nothing_panics_on_odd_hosts_paths_and_targets() {
    let routes = Routes::build(&[
        ingress(
            "r",
            "t",
            json!({REWRITE_TARGET: "$9$$1/$", USE_REGEX: "true"}),
            json!([rule(Some("*."), &[("(", "Exact", "a"), ("", "Prefix", "b"), ("/é(.*)", "Prefix", "c")])]),
        ),
        json!({"metadata": {}, "spec": {"rules": [{"http": {"paths": [{"backend": {}}]}}, {"host": 5}, null]}}),
        json!(null),
    ]);
    for host in ["", ":", "[::1]:80", "*.", "é", "a:b:c"] {
        for path in ["", "/", "?", "/%", "/%zz", "/%C3%A9x", "/../..", "//", "/é/x?y", "x"] {
            let _ = routes.find(host, path);
        }
    }
    assert_eq!(normalize("/a/b/../../../c"), "/c");
    assert_eq!(normalize("/a/"), "/a/");
    assert_eq!(escape("/a b/é"), "/a%20b/%C3%A9");
}
