//! Service account tokens as kube-apiserver issues and checks them: JWTs signed
//! with ES256 by the sandbox's own service account key (`DATA/sa.key`, made on
//! first start and kept, so tokens outlive a restart), carrying the claims a real
//! bound token carries — `iss`, `sub` (`system:serviceaccount:NS:NAME`), `aud`,
//! `exp`, `iat`, `nbf`, `jti` and the private `kubernetes.io` claim naming the
//! namespace, the ServiceAccount, and the pod, node or Secret it is bound to.
//!
//! A token authenticates while its signature holds, its time has not run out (a
//! minute of leeway, as the real validator allows), its audience is the API
//! server's, and the objects it names still exist with the same uid — a deleted
//! and recreated ServiceAccount or pod does not inherit tokens (a pod being
//! deleted keeps them for a minute past its deletion timestamp, as upstream).

use std::io;
use std::path::Path;
use std::sync::OnceLock;

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Map, Value, json};

use super::{AUDIENCE, ISSUER};
use crate::resources::ResourceKey;
use crate::store::Store;

/// The service account signing key's file in the data directory (0600).
pub const KEY_FILE: &str = "sa.key";
/// How far the clocks of issuer and checker may differ.
const LEEWAY: i64 = 60;

/// The signing key.
struct Signer {
    key: EcdsaKeyPair,
    /// The key id in each token's header: the SHA-256 of the public key's
    /// SubjectPublicKeyInfo, base64url (what kube-apiserver uses).
    kid: String,
}

static SIGNER: OnceLock<Signer> = OnceLock::new();

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Signer {
    fn from_pkcs8(der: &[u8]) -> Option<Signer> {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new()).ok()?;
        // The DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte point.
        const SPKI_P256: [u8; 26] = [
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03,
            0x42, 0x00,
        ];
        let spki: Vec<u8> = SPKI_P256.iter().chain(key.public_key().as_ref()).copied().collect();
        let kid = b64(ring::digest::digest(&ring::digest::SHA256, &spki).as_ref());
        Some(Signer { key, kid })
    }

    fn generate() -> io::Result<(Signer, Vec<u8>)> {
        let failed = |what: &str| io::Error::other(format!("cannot {what} the service account signing key"));
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).map_err(|_| failed("generate"))?;
        let der = document.as_ref().to_vec();
        Ok((Signer::from_pkcs8(&der).ok_or_else(|| failed("read"))?, der))
    }
}

fn pem(der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"))
}

/// Loads the signing key from `dir`, making it on first use. The first call wins:
/// one sandbox serves per process.
pub fn init(dir: &Path) -> io::Result<()> {
    let path = dir.join(KEY_FILE);
    let loaded = std::fs::read(&path).ok().and_then(|text| match PrivateKeyDer::from_pem_slice(&text).ok()? {
        PrivateKeyDer::Pkcs8(der) => Signer::from_pkcs8(der.secret_pkcs8_der()),
        _ => None,
    });
    let signer = match loaded {
        Some(signer) => signer,
        None => {
            let (signer, der) = Signer::generate()?;
            crate::fsutil::write_private(&path, pem(&der).as_bytes())?;
            signer
        }
    };
    let _ = SIGNER.set(signer);
    Ok(())
}

/// The signing key; a key of this process only when [`init`] was not called
/// (library tests).
fn signer() -> &'static Signer {
    SIGNER.get_or_init(|| Signer::generate().map(|(s, _)| s).expect("ring generates P-256 keys"))
}

/// What a token is bound to, besides its ServiceAccount: (name, uid).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Binding {
    pub pod: Option<(String, String)>,
    pub secret: Option<(String, String)>,
    /// A pod's node (whose uid may be unknown), or the node the token is bound to.
    pub node: Option<(String, String)>,
}

/// A token's claims, issued for `sa` (the stored ServiceAccount).
pub struct Claims<'a> {
    pub service_account: &'a Value,
    pub binding: Binding,
    pub audiences: Vec<String>,
    /// Unix seconds.
    pub issued_at: i64,
    pub expires_at: i64,
    /// The requested expiry of a token issued for longer (see `request`), Unix seconds.
    pub warn_after: Option<i64>,
}

/// Signs a token with `claims`.
pub fn issue(claims: &Claims) -> String {
    let sa = &claims.service_account["metadata"];
    let namespace = sa["namespace"].as_str().unwrap_or_default();
    let name = sa["name"].as_str().unwrap_or_default();
    let mut private = json!({
        "namespace": namespace,
        "serviceaccount": {"name": name, "uid": sa["uid"]},
    });
    let reference = |(name, uid): &(String, String)| if uid.is_empty() { json!({"name": name}) } else { json!({"name": name, "uid": uid}) };
    for (field, bound) in [("pod", &claims.binding.pod), ("secret", &claims.binding.secret), ("node", &claims.binding.node)] {
        if let Some(bound) = bound {
            private[field] = reference(bound);
        }
    }
    if let Some(warn_after) = claims.warn_after {
        private["warnafter"] = json!(warn_after);
    }
    let payload = json!({
        "aud": claims.audiences,
        "exp": claims.expires_at,
        "iat": claims.issued_at,
        "iss": ISSUER,
        "jti": crate::rest::new_uid(),
        "kubernetes.io": private,
        "nbf": claims.issued_at,
        "sub": super::username(namespace, name),
    });
    let signer = signer();
    let header = json!({"alg": "ES256", "kid": signer.kid});
    let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()));
    // Signing with a valid key and the system's random source does not fail.
    let signature = signer.key.sign(&SystemRandom::new(), signing_input.as_bytes()).map(|s| b64(s.as_ref())).unwrap_or_default();
    format!("{signing_input}.{signature}")
}

/// Who a valid token speaks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub namespace: String,
    pub name: String,
    /// The ServiceAccount's uid.
    pub uid: String,
    /// What the real authenticator puts in `extra`: the credential id (`JTI=…`),
    /// and the pod and node the token is bound to.
    pub extra: Map<String, Value>,
}

/// Whether `token` is shaped like a JWT (three base64url parts), before checking it.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && token.starts_with("eyJ")
}

/// The identity a token proves, or None when it proves nothing (see the module's comment).
pub fn authenticate(token: &str, store: &Store, now: i64) -> Option<Identity> {
    let claims = verified_claims(token)?;
    if claims["iss"] != ISSUER {
        return None;
    }
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let (expires, not_before) = (claims["exp"].as_i64()?, claims["nbf"].as_i64().unwrap_or(0));
    if !audiences.contains(&AUDIENCE) || now > expires + LEEWAY || now + LEEWAY < not_before {
        return None;
    }
    let private = &claims["kubernetes.io"];
    let namespace = private["namespace"].as_str()?;
    let (name, uid) = (private["serviceaccount"]["name"].as_str()?, private["serviceaccount"]["uid"].as_str()?);
    let alive = |plural: &str, ns: &str, reference: &Value| -> Option<Value> {
        let object = store.get(&ResourceKey::new("", plural), &(ns.to_string(), reference["name"].as_str()?.to_string()))?.value();
        let meta = &object["metadata"];
        let deleted_long_ago = meta["deletionTimestamp"].as_str().and_then(crate::time::parse_rfc3339).is_some_and(|at| at + LEEWAY < now);
        (meta["uid"] == reference["uid"] && !deleted_long_ago).then_some(object)
    };
    alive("serviceaccounts", namespace, &private["serviceaccount"])?;
    let mut extra = Map::new();
    if let Some(jti) = claims["jti"].as_str() {
        extra.insert("authentication.kubernetes.io/credential-id".into(), json!([format!("JTI={jti}")]));
    }
    for (field, plural, ns) in [("pod", "pods", namespace), ("secret", "secrets", namespace), ("node", "nodes", "")] {
        let reference = &private[field];
        if !reference.is_object() {
            continue;
        }
        // A pod's node is named for information; only its binding must hold.
        let bound_to_node = field == "node" && !private["pod"].is_object();
        if field != "node" || bound_to_node {
            alive(plural, ns, reference)?;
        }
        if field != "secret" {
            for key in ["name", "uid"] {
                if let Some(value) = reference[key].as_str() {
                    extra.insert(format!("authentication.kubernetes.io/{field}-{key}"), json!([value]));
                }
            }
        }
    }
    Some(Identity { namespace: namespace.to_string(), name: name.to_string(), uid: uid.to_string(), extra })
}

/// The payload of a token whose ES256 signature is the sandbox key's.
fn verified_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let decode = |part: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok();
    let header: Value = serde_json::from_slice(&decode(header)?).ok()?;
    if header["alg"] != "ES256" {
        return None;
    }
    let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, signer().key.public_key().as_ref());
    let signed = &token[..token.len() - signature.len() - 1];
    key.verify(signed.as_bytes(), &decode(signature)?).ok()?;
    serde_json::from_slice(&decode(payload)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::Rest;

    fn rest() -> Rest {
        super::super::test_rest()
    }

    fn create(rest: &Rest, plural: &str, body: Value) -> Value {
        let info = rest.catalogue.find("", "v1", plural).unwrap();
        rest.create(&info, Some("team"), body, &Default::default()).unwrap()
    }

    fn claims(sa: &Value, binding: Binding, expires_at: i64) -> Claims<'_> {
        Claims { service_account: sa, binding, audiences: vec![AUDIENCE.into()], issued_at: 1_000, expires_at, warn_after: None }
    }

    #[test]
    fn a_token_speaks_for_its_service_account_while_what_it_names_exists() {
        let rest = rest();
        let sa = create(&rest, "serviceaccounts", json!({"metadata": {"name": "robot"}}));
        let token = issue(&claims(&sa, Binding::default(), 5_000));
        assert!(looks_like_jwt(&token));
        let who = authenticate(&token, &rest.store, 2_000).expect("a valid token");
        assert_eq!((who.namespace.as_str(), who.name.as_str(), who.uid.as_str()), ("team", "robot", sa["metadata"]["uid"].as_str().unwrap()));
        assert!(who.extra["authentication.kubernetes.io/credential-id"][0].as_str().unwrap().starts_with("JTI="));

        // Out of time (past the leeway), or not yet valid.
        assert!(authenticate(&token, &rest.store, 5_000 + LEEWAY + 1).is_none());
        assert!(authenticate(&token, &rest.store, 1_000 - LEEWAY - 1).is_none());
        // Another audience is not the API server's.
        let mut other = claims(&sa, Binding::default(), 5_000);
        other.audiences = vec!["vault".into()];
        assert!(authenticate(&issue(&other), &rest.store, 2_000).is_none());
        // A changed byte breaks the signature.
        let (head, sig) = token.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        assert!(authenticate(&format!("{head}.{flipped}{}", &sig[1..]), &rest.store, 2_000).is_none());

        // Bound to a pod: only while that very pod exists.
        let pod = create(
            &rest,
            "pods",
            json!({"metadata": {"name": "web"}, "spec": {"serviceAccountName": "robot", "containers": [{"name": "c", "image": "nginx"}]}}),
        );
        let bound =
            Binding { pod: Some(("web".into(), pod["metadata"]["uid"].as_str().unwrap().into())), node: Some(("node-1".into(), String::new())), secret: None };
        let token = issue(&claims(&sa, bound, 5_000));
        let who = authenticate(&token, &rest.store, 2_000).expect("the pod exists");
        assert_eq!(who.extra["authentication.kubernetes.io/pod-name"], json!(["web"]));
        assert_eq!(who.extra["authentication.kubernetes.io/node-name"], json!(["node-1"]));
        let pods = rest.catalogue.find("", "v1", "pods").unwrap();
        rest.delete(&pods, Some("team"), "web", &crate::rest::DeleteOptions { grace_period: Some(0), ..Default::default() }).unwrap();
        assert!(authenticate(&token, &rest.store, 2_000).is_none(), "the pod is gone");

        // A ServiceAccount deleted and made again does not inherit the old tokens.
        let old = issue(&claims(&sa, Binding::default(), 5_000));
        let sas = rest.catalogue.find("", "v1", "serviceaccounts").unwrap();
        rest.delete(&sas, Some("team"), "robot", &Default::default()).unwrap();
        create(&rest, "serviceaccounts", json!({"metadata": {"name": "robot"}}));
        assert!(authenticate(&old, &rest.store, 2_000).is_none());
    }

    #[test]
    fn the_key_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (signer, der) = Signer::generate().unwrap();
        crate::fsutil::write_private(&dir.path().join(KEY_FILE), pem(&der).as_bytes()).unwrap();
        let text = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
        let PrivateKeyDer::Pkcs8(read) = PrivateKeyDer::from_pem_slice(&text).unwrap() else { panic!("PKCS#8") };
        let again = Signer::from_pkcs8(read.secret_pkcs8_der()).unwrap();
        assert_eq!(again.kid, signer.kid);
        assert_eq!(again.key.public_key().as_ref(), signer.key.public_key().as_ref());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
