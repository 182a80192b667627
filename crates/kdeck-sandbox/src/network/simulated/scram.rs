//! SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL runs it — the server side, and
//! the [`client`] side:
//! no channel binding (the simulated server has no TLS), the user name of the
//! SCRAM message ignored (the startup packet's counts), 4096 iterations. The
//! password is used as given (PostgreSQL's SASLprep changes only non-ASCII ones).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::{digest, hmac, pbkdf2};

const ITERATIONS: u32 = 4096;

/// A SCRAM message that breaks the protocol: PostgreSQL's `malformed SCRAM message`.
#[derive(Debug, PartialEq)]
pub struct Malformed(pub String);

/// Where an exchange stands after the client's first message.
pub struct Exchange {
    salted: [u8; 32],
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

fn malformed(detail: impl Into<String>) -> Malformed {
    Malformed(detail.into())
}

/// The value of attribute `name` (`r=…`) at the front of `part`.
fn attribute(part: Option<&str>, name: char) -> Result<&str, Malformed> {
    let part = part.ok_or_else(|| malformed(format!("Expected attribute \"{name}\" but found end of string.")))?;
    part.strip_prefix(name)
        .and_then(|p| p.strip_prefix('='))
        .ok_or_else(|| malformed(format!("Expected attribute \"{name}\" but found \"{}\".", part.chars().next().unwrap_or(' '))))
}

impl Exchange {
    /// Takes the client-first-message; answers the server-first-message. `password`
    /// None (no such role, or no password) still runs the exchange, which then fails,
    /// as PostgreSQL's mock authentication does.
    pub fn start(client_first: &str, password: Option<&str>) -> Result<(Exchange, String), Malformed> {
        let mut parts = client_first.splitn(3, ',');
        let binding = parts.next().unwrap_or_default();
        match binding {
            "n" | "y" => {}
            p if p.starts_with("p=") => {
                return Err(malformed("The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data."));
            }
            _ => return Err(malformed("Unexpected channel-binding flag")),
        }
        let authzid = parts.next().ok_or_else(|| malformed("Unexpected end of message"))?;
        if !authzid.is_empty() {
            return Err(malformed("client uses authorization identity, but it is not supported"));
        }
        let bare = parts.next().ok_or_else(|| malformed("Unexpected end of message"))?;
        let mut attributes = bare.split(',');
        let first = attributes.next();
        if first.is_some_and(|a| a.starts_with("m=")) {
            return Err(malformed("client requires an unsupported SCRAM extension"));
        }
        attribute(first, 'n')?;
        let client_nonce = attribute(attributes.next(), 'r')?;
        if client_nonce.is_empty() || !client_nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
            return Err(malformed("non-printable characters in SCRAM nonce"));
        }
        let salt: [u8; 16] = rand::random();
        let server_nonce: [u8; 18] = rand::random();
        let nonce = format!("{client_nonce}{}", STANDARD.encode(server_nonce));
        let server_first = format!("r={nonce},s={},i={ITERATIONS}", STANDARD.encode(salt));
        let mut salted = [0u8; 32];
        match password {
            Some(password) => {
                pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, ITERATIONS.try_into().unwrap_or(std::num::NonZeroU32::MIN), &salt, password.as_bytes(), &mut salted)
            }
            // Nothing can prove knowledge of a random key.
            None => salted = rand::random(),
        }
        let exchange =
            Exchange { salted, gs2_header: format!("{binding},{authzid},"), client_first_bare: bare.to_string(), server_first: server_first.clone(), nonce };
        Ok((exchange, server_first))
    }

    /// Takes the client-final-message: Ok(Some(server-final-message)) when the proof
    /// holds, Ok(None) when it does not (a wrong password).
    pub fn finish(&self, client_final: &str) -> Result<Option<String>, Malformed> {
        let (without_proof, proof) = client_final.rsplit_once(",p=").ok_or_else(|| malformed("Expected attribute \"p\" but found end of string."))?;
        let mut attributes = without_proof.split(',');
        let binding = attribute(attributes.next(), 'c')?;
        if STANDARD.decode(binding).ok().as_deref() != Some(self.gs2_header.as_bytes()) {
            return Err(malformed("SCRAM channel binding check failed"));
        }
        if attribute(attributes.next(), 'r')? != self.nonce {
            return Err(malformed("Final nonce does not match."));
        }
        let proof = STANDARD.decode(proof).map_err(|_| malformed("Malformed proof in client-final-message."))?;
        if proof.len() != 32 {
            return Err(malformed("Malformed proof in client-final-message."));
        }
        let auth_message = format!("{},{},{without_proof}", self.client_first_bare, self.server_first);
        let salted = hmac::Key::new(hmac::HMAC_SHA256, &self.salted);
        let client_key = hmac::sign(&salted, b"Client Key");
        let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
        let signature = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, stored_key.as_ref()), auth_message.as_bytes());
        // The client key the proof reveals must hash to the stored key.
        let revealed: Vec<u8> = proof.iter().zip(signature.as_ref()).map(|(p, s)| p ^ s).collect();
        if digest::digest(&digest::SHA256, &revealed).as_ref() != stored_key.as_ref() {
            return Ok(None);
        }
        let server_key = hmac::sign(&salted, b"Server Key");
        let server_signature = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, server_key.as_ref()), auth_message.as_bytes());
        Ok(Some(format!("v={}", STANDARD.encode(server_signature.as_ref()))))
    }
}

/// The client side, as libpq runs it (kdeck's `verify` logs in with it; the
/// server side's tests prove themselves with it).
pub mod client {
    use super::*;

    /// The client proof for `password` (base64) and the server-final-message the
    /// server must then send (`v=…`), from the exchange so far.
    pub fn proof(password: &str, client_first_bare: &str, server_first: &str, client_final_without_proof: &str) -> Option<(String, String)> {
        let mut fields = server_first.split(',');
        let _nonce = fields.next();
        let salt = STANDARD.decode(fields.next()?.strip_prefix("s=")?).ok()?;
        let iterations: u32 = fields.next()?.strip_prefix("i=")?.parse().ok()?;
        let mut salted = [0u8; 32];
        pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, std::num::NonZeroU32::new(iterations)?, &salt, password.as_bytes(), &mut salted);
        let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
        let client_key = hmac::sign(&key, b"Client Key");
        let stored = digest::digest(&digest::SHA256, client_key.as_ref());
        let auth = format!("{client_first_bare},{server_first},{client_final_without_proof}");
        let signature = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, stored.as_ref()), auth.as_bytes());
        let proof: Vec<u8> = client_key.as_ref().iter().zip(signature.as_ref()).map(|(k, s)| k ^ s).collect();
        let server_key = hmac::sign(&key, b"Server Key");
        let verifier = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, server_key.as_ref()), auth.as_bytes());
        Some((STANDARD.encode(proof), format!("v={}", STANDARD.encode(verifier.as_ref()))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(server_password: Option<&str>, client_password: &str) -> Result<Option<String>, Malformed> {
        let (exchange, server_first) = Exchange::start("n,,n=,r=rOprNGfwEbeRWgbNEkqO", server_password)?;
        assert!(server_first.starts_with("r=rOprNGfwEbeRWgbNEkqO") && server_first.ends_with(",i=4096"));
        let nonce = server_first.split(',').next().unwrap_or_default().trim_start_matches("r=");
        let without_proof = format!("c=biws,r={nonce}");
        let (proof, verifier) =
            client::proof(client_password, "n=,r=rOprNGfwEbeRWgbNEkqO", &server_first, &without_proof).expect("a well-formed server-first-message");
        let outcome = exchange.finish(&format!("{without_proof},p={proof}"))?;
        if let Some(server_final) = &outcome {
            assert_eq!(server_final, &verifier, "the server proves it knows the password too");
        }
        Ok(outcome)
    }

    #[test]
    fn the_right_password_passes_and_others_fail() {
        assert!(run(Some("pencil"), "pencil").unwrap().is_some());
        assert_eq!(run(Some("pencil"), "crayon"), Ok(None));
        assert_eq!(run(None, "anything"), Ok(None));
    }

    #[test]
    fn malformed_messages_are_refused() {
        assert!(Exchange::start("p=tls-server-end-point,,n=,r=abc", Some("x")).is_err());
        assert!(Exchange::start("n,a=admin,n=,r=abc", Some("x")).is_err());
        assert!(Exchange::start("n,,n=", Some("x")).is_err());
        assert!(Exchange::start("", Some("x")).is_err());
        let (exchange, _) = Exchange::start("n,,n=,r=abc", Some("x")).unwrap();
        assert!(exchange.finish("c=biws,r=wrong,p=AAAA").is_err());
        assert!(exchange.finish("c=eSws,r=abc,p=AAAA").is_err());
        assert!(exchange.finish("garbage").is_err());
        for input in ["n,,n=,r=\u{1}", "n,,m=x,n=,r=a", ",,,", "n,,n=,r=a,,,,"] {
            let _ = Exchange::start(input, Some("x"));
        }
    }
}
