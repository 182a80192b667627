//! The ingress controller `up` installs before the stack's own steps
//! (`stack.cluster.ingress`): which provider gets what, and ingress-nginx's
//! upstream manifest — pinned by an immutable URL (a commit of
//! kubernetes/ingress-nginx) and its sha256, downloaded once, verified, kept under
//! `KDECK_HOME`, then applied and waited for as the stack's first step (the
//! stack's apply path and readiness rules: the admission Jobs complete, the
//! controller Deployment available, its Services with endpoints).
//!
//! | provider | `nginx` | `traefik` | `none` / unset |
//! |---|---|---|---|
//! | sandbox | built in (nothing installed) | refused | nothing |
//! | kind | the kind manifest | refused | nothing |
//! | k3d | the cloud manifest; Traefik disabled at creation | k3d's bundled Traefik | nothing (k3d keeps Traefik) |
//! | minikube | its `ingress` addon | refused | nothing |
//! | context | refused (not kdeck's cluster) | refused | nothing |
//!
//! ingress-nginx is retired upstream: best-effort maintenance ended in March 2026,
//! with no releases or fixes after it; the pinned manifests are its last release.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::Api;
use serde::Serialize;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::project::stack::{IngressController, Provider, StackCluster};
use crate::render::{self, RenderedStep};

/// The ingress-nginx controller release the pinned manifests deploy.
pub const VERSION: &str = "v1.15.1";
/// The kubernetes/ingress-nginx commit the manifests are pinned at: the release
/// commit of controller v1.15.1 (2026-03-20).
pub const COMMIT: &str = "dbb11b92ddb77bee9c35e462479129354c84f939";
/// The namespace ingress-nginx's manifests install into.
pub const NAMESPACE: &str = "ingress-nginx";

/// A mirror of the manifest and its checksum (both or neither), instead of the pinned URL.
pub const URL_ENV: &str = "KDECK_INGRESS_NGINX_URL";
pub const SHA256_ENV: &str = "KDECK_INGRESS_NGINX_SHA256";

/// How long a download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// One of ingress-nginx's static manifests, pinned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pinned {
    /// `deploy/static/provider/<variant>/deploy.yaml`: `kind` or `cloud`.
    pub variant: &'static str,
    /// The sha256 of that file at [`COMMIT`].
    pub sha256: &'static str,
}

/// For kind: the controller with host ports 80/443 on a control-plane node.
pub const KIND_MANIFEST: Pinned = Pinned { variant: "kind", sha256: "2a3ae008c8786431115502644e77ab398fdebfb721a5d1195ed3089cde3299df" };
/// For clusters with LoadBalancer Services (k3d's servicelb).
pub const CLOUD_MANIFEST: Pinned = Pinned { variant: "cloud", sha256: "502fddca66b09c20dd48b6d0a792a9671cd663a3a0d2a8bda5ae990d13b6c5b2" };

impl Pinned {
    pub fn url(&self) -> String {
        format!("https://raw.githubusercontent.com/kubernetes/ingress-nginx/{COMMIT}/deploy/static/provider/{}/deploy.yaml", self.variant)
    }
}

/// Where the manifest comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Downloaded once (then read from the cache), and only ever used when its
    /// sha256 is this one.
    Download { url: String, sha256: String },
    /// `stack.cluster.ingressManifest`: a local file, applied as it is.
    File { path: PathBuf, shown: String },
}

/// What `up` installs.
#[derive(Clone, Debug)]
pub struct Install {
    /// `ingress-nginx v1.15.1 (kind manifest)`: the step's title.
    pub title: String,
    pub source: Source,
    /// The manifest kdeck pins for this provider (a local file is compared with it).
    pub pinned: Pinned,
}

/// The manifest, read and verified.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub text: String,
    pub sha256: String,
    /// How it was had: `downloaded, sha256 verified`, `from the cache, sha256 verified`, ….
    pub how: String,
}

/// The ingress controller in `up`'s report (`ingressController` in `-o json`).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressReport {
    /// `ingress-nginx v1.15.1 (kind manifest)`.
    pub controller: String,
    /// The URL, or the local file.
    pub source: String,
    /// The checksum required (a download) or found (a local file).
    pub sha256: String,
    /// `downloaded, sha256 verified`, `from the cache, sha256 verified`,
    /// `would be downloaded (not in the cache)`, `from FILE (the pinned manifest)`, ….
    pub action: String,
}

/// What `up` installs for `cluster.ingress` on `provider`: None when nothing is
/// (unset or `none`, built in, minikube's addon, k3d's Traefik). An ingress a
/// provider cannot have is refused, naming what it can have.
pub fn plan(cluster: &StackCluster, provider: Provider, root: &Path) -> Result<Option<Install>> {
    let wanted = cluster.ingress.unwrap_or(IngressController::None);
    if wanted == IngressController::Traefik && !matches!(provider, Provider::K3d | Provider::Context) {
        let instead = match provider {
            Provider::Sandbox => "the sandbox's ingress is built in and serves the class nginx: ingress: nginx (or leave the key out)",
            Provider::Minikube => "ingress: nginx enables minikube's ingress addon (ingress-nginx)",
            _ => "ingress: nginx installs ingress-nginx; for Traefik, install its Helm chart as a deploy step and set ingress: none",
        };
        return Err(
            Error::usage(format!("stack.cluster.ingress: traefik is k3d's bundled controller; provider {} has no Traefik", provider.name())).hint(instead)
        );
    }
    let pinned = match (provider, wanted) {
        (_, IngressController::None) => None,
        (Provider::Context, wanted) => {
            return Err(Error::usage(format!(
                "stack.cluster.ingress: {}: provider context installs no ingress controller (the cluster is not kdeck's to change)",
                wanted.name()
            ))
            .hint("install it with a deploy step of its own (its manifest or Helm chart) and remove the key, or set ingress: none"));
        }
        (Provider::Kind, IngressController::Nginx) => Some(KIND_MANIFEST),
        (Provider::K3d, IngressController::Nginx) => Some(CLOUD_MANIFEST),
        // The sandbox's is built in, minikube's is its addon, k3d's Traefik is bundled.
        _ => None,
    };
    let Some(pinned) = pinned else {
        if let Some(file) = &cluster.ingress_manifest {
            return Err(Error::usage(format!(
                "stack.cluster.ingressManifest: {file}: kdeck installs no ingress-nginx here (provider {}, ingress: {})",
                provider.name(),
                wanted.name()
            ))
            .hint("the manifest is only used with ingress: nginx on kind or k3d; remove the key"));
        }
        return Ok(None);
    };
    let title = format!("ingress-nginx {VERSION} ({} manifest)", pinned.variant);
    if let Some(file) = &cluster.ingress_manifest {
        let path = super::provider::absolute(root).join(file);
        if !path.is_file() {
            return Err(Error::usage(format!("stack.cluster.ingressManifest: {file} does not exist (relative to {})", root.display()))
                .hint(format!("download {} there, or remove the key to let kdeck download it", pinned.url())));
        }
        let title = format!("ingress-nginx ({file})");
        return Ok(Some(Install { title, source: Source::File { path, shown: file.clone() }, pinned }));
    }
    let source = mirror()?.unwrap_or_else(|| Source::Download { url: pinned.url(), sha256: pinned.sha256.to_string() });
    Ok(Some(Install { title, source, pinned }))
}

/// The namespaces of what kdeck installs for `cluster.ingress` (for the checks:
/// upstream's workloads, not the stack's).
pub fn namespaces(cluster: &StackCluster) -> Vec<String> {
    let installs = cluster.ingress == Some(IngressController::Nginx) && matches!(cluster.provider, Provider::Kind | Provider::K3d);
    if installs { vec![NAMESPACE.to_string()] } else { Vec::new() }
}

/// On k3d, ingress-nginx's LoadBalancer Service needs ports 80 and 443, which the
/// bundled Traefik holds in a cluster created without `--disable=traefik` (one kdeck
/// did not create, or created with another `ingress:`): refused, with the ways out.
pub async fn refuse_conflicts(cluster: &Cluster, provider: Provider) -> Result<()> {
    if provider != Provider::K3d {
        return Ok(());
    }
    let api: Api<Service> = Api::namespaced(cluster.client.clone(), "kube-system");
    let traefik = api.get_opt("traefik").await.map_err(|e| cluster.error("reading Service kube-system/traefik", e))?;
    if traefik.is_some_and(|t| t.metadata.deletion_timestamp.is_none()) {
        return Err(Error::usage(format!(
            "stack.cluster.ingress: nginx, but the k3d cluster (context {}) runs its bundled Traefik, which holds the ports 80 and 443 ingress-nginx needs",
            cluster.context
        ))
        .hint("kdeck disables Traefik only when it creates the cluster: recreate it (kdeck down --delete-cluster, then kdeck up), or set ingress: traefik"));
    }
    Ok(())
}

/// [`URL_ENV`] and [`SHA256_ENV`], when set: a mirror of the manifest.
fn mirror() -> Result<Option<Source>> {
    let get = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    match (get(URL_ENV), get(SHA256_ENV)) {
        (None, None) => Ok(None),
        (Some(url), Some(sha256)) => {
            let sha256 = sha256.trim().to_ascii_lowercase();
            if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(Error::usage(format!("{SHA256_ENV}: {sha256:?} is not a sha256 (64 hexadecimal digits)")));
            }
            super::verify::http::parse_url(&url).map_err(|e| Error::usage(format!("{URL_ENV}: {e}")))?;
            Ok(Some(Source::Download { url, sha256 }))
        }
        _ => Err(Error::usage(format!("{URL_ENV} and {SHA256_ENV} go together: a mirror of the manifest, and the sha256 it must have"))),
    }
}

/// The manifest of `install`: a local file as it is; a download from the cache
/// when it is there (and still has its checksum), else downloaded, verified and
/// cached. A dry run downloads nothing: None when it would have to.
pub async fn fetch(install: &Install, dry_run: bool) -> Result<Option<Fetched>> {
    match &install.source {
        Source::File { path, shown } => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::usage(format!("stack.cluster.ingressManifest: cannot read {shown}: {e}")))?;
            let sha256 = sha256_hex(text.as_bytes());
            let how = if sha256 == install.pinned.sha256 {
                format!("from {shown} (the pinned {VERSION} {} manifest)", install.pinned.variant)
            } else {
                format!("from {shown}, applied as it is (not the pinned {VERSION} {} manifest)", install.pinned.variant)
            };
            Ok(Some(Fetched { text, sha256, how }))
        }
        Source::Download { url, sha256 } => {
            let cached = cache_path(sha256)?;
            if let Ok(bytes) = std::fs::read(&cached) {
                if sha256_hex(&bytes) == *sha256
                    && let Ok(text) = String::from_utf8(bytes)
                {
                    return Ok(Some(Fetched { text, sha256: sha256.clone(), how: "from the cache, sha256 verified".into() }));
                }
                // Damaged: downloaded again below.
                let _ = std::fs::remove_file(&cached);
            }
            if dry_run {
                return Ok(None);
            }
            let bytes = download(url).await?;
            let got = sha256_hex(&bytes);
            if got != *sha256 {
                return Err(Error::failure(format!(
                    "the ingress-nginx manifest downloaded from {url} does not have its pinned checksum: expected sha256 {sha256}, got {got}; refused"
                ))
                .hint("nothing was created, applied or cached")
                .hint("a proxy or mirror that changes files? set stack.cluster.ingressManifest to a copy you trust, or ingress: none"));
            }
            let text = String::from_utf8(bytes).map_err(|_| Error::failure(format!("the manifest from {url} is not UTF-8 text")))?;
            store(&cached, &text)?;
            Ok(Some(Fetched { text, sha256: got, how: "downloaded, sha256 verified".into() }))
        }
    }
}

/// A GET of `url`: the body of a 200; anything else is an error naming the URL
/// and the ways to go on without it.
async fn download(url: &str) -> Result<Vec<u8>> {
    let outcome = tokio::time::timeout(DOWNLOAD_TIMEOUT, super::verify::http::get(url, None, false, concat!("kdeck/", env!("CARGO_PKG_VERSION")))).await;
    let why = match outcome {
        Ok(Ok((200, body, _))) => return Ok(body),
        Ok(Ok((status, _, _))) => format!("the server answered status {status}"),
        Ok(Err(e)) => e.strip_prefix(&format!("{url}: ")).unwrap_or(&e).to_string(),
        Err(_) => format!("no answer within {}s", DOWNLOAD_TIMEOUT.as_secs()),
    };
    Err(Error::failure(format!("cannot download ingress-nginx's manifest from {url}: {why}"))
        .hint("nothing was created or applied")
        .hint("without network access: set stack.cluster.ingress: none (no ingress controller), or download that file elsewhere and set stack.cluster.ingressManifest: PATH (relative to kdeck.yaml)"))
}

/// `$KDECK_HOME/cache/ingress-nginx/<sha256>.yaml`: named by content, so a file
/// there is the one of that checksum (checked again on every read).
pub fn cache_path(sha256: &str) -> Result<PathBuf> {
    Ok(crate::sandboxes::home()?.join("cache").join("ingress-nginx").join(format!("{sha256}.yaml")))
}

/// Writes the verified manifest into the cache (a temporary file renamed: never half a file).
fn store(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::failure(format!("cannot create {}: {e}", dir.display())))?;
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| Error::failure(format!("cannot cache the manifest in {}: {e}", path.display())))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The manifest as the stack's first step: applied and waited for like any other.
pub fn step(install: &Install, fetched: &Fetched) -> Result<RenderedStep> {
    let manifests = render::parse(&fetched.text, &install.title, None)?;
    if manifests.is_empty() {
        return Err(Error::failure(format!("{}: the manifest holds no object", install.title)));
    }
    Ok(RenderedStep { title: install.title.clone(), manifests, helm: None, wait: true })
}

/// The report of `install`, with how its manifest was had (None: not yet).
pub fn report(install: &Install, fetched: Option<&Fetched>) -> IngressReport {
    let (source, sha256) = match &install.source {
        Source::Download { url, sha256 } => (url.clone(), sha256.clone()),
        Source::File { shown, .. } => (shown.clone(), fetched.map(|f| f.sha256.clone()).unwrap_or_default()),
    };
    let action = fetched.map(|f| f.how.clone()).unwrap_or_else(|| "would be downloaded (not in the cache), verified, applied and waited for".into());
    IngressReport { controller: install.title.clone(), source, sha256, action }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(ingress: Option<IngressController>) -> StackCluster {
        StackCluster { ingress, ..Default::default() }
    }

    #[test]
    fn each_provider_gets_what_it_can_have() {
        let root = Path::new(".");
        let nginx = cluster(Some(IngressController::Nginx));
        let kind = plan(&nginx, Provider::Kind, root).unwrap().unwrap();
        assert_eq!(kind.pinned, KIND_MANIFEST);
        assert_eq!(kind.title, "ingress-nginx v1.15.1 (kind manifest)");
        if std::env::var_os(URL_ENV).is_none() {
            assert_eq!(
                kind.source,
                Source::Download {
                    url: "https://raw.githubusercontent.com/kubernetes/ingress-nginx/dbb11b92ddb77bee9c35e462479129354c84f939/deploy/static/provider/kind/deploy.yaml"
                        .into(),
                    sha256: KIND_MANIFEST.sha256.into()
                }
            );
        }
        assert_eq!(plan(&nginx, Provider::K3d, root).unwrap().unwrap().pinned, CLOUD_MANIFEST);
        for provider in [Provider::Sandbox, Provider::Minikube] {
            assert!(plan(&nginx, provider, root).unwrap().is_none(), "{provider:?}: built in or an addon");
        }
        assert!(plan(&cluster(Some(IngressController::Traefik)), Provider::K3d, root).unwrap().is_none(), "k3d keeps its own");
        for provider in [Provider::Sandbox, Provider::Kind, Provider::K3d, Provider::Minikube, Provider::Context] {
            assert!(plan(&cluster(Some(IngressController::None)), provider, root).unwrap().is_none());
            assert!(plan(&cluster(None), provider, root).unwrap().is_none());
        }
    }

    #[test]
    fn what_a_provider_cannot_have_is_refused() {
        let root = Path::new(".");
        for provider in [Provider::Sandbox, Provider::Kind, Provider::Minikube] {
            let e = plan(&cluster(Some(IngressController::Traefik)), provider, root).unwrap_err();
            assert!(e.message.contains(&format!("provider {} has no Traefik", provider.name())), "{}", e.message);
            assert!(!e.hints.is_empty());
        }
        let e = plan(&cluster(Some(IngressController::Nginx)), Provider::Context, root).unwrap_err();
        assert!(e.message.contains("provider context installs no ingress controller"), "{}", e.message);
        let mut with_file = cluster(Some(IngressController::Nginx));
        with_file.ingress_manifest = Some("ingress.yaml".into());
        let e = plan(&with_file, Provider::Minikube, root).unwrap_err();
        assert!(e.message.starts_with("stack.cluster.ingressManifest: ingress.yaml: kdeck installs no ingress-nginx here"), "{}", e.message);
        let e = plan(&with_file, Provider::Kind, root).unwrap_err();
        assert!(e.message.contains("ingress.yaml does not exist"), "{}", e.message);
    }

    #[test]
    fn checksums_are_lower_case_hex() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
