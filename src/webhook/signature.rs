//! `X-Hub-Signature-256`: HMAC-SHA256 over the raw body, compared in constant
//! time (hmac's `verify_slice`), against every configured secret so secrets can be rotated.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::settings::Secret;

type HmacSha256 = Hmac<Sha256>;

/// True if `header` (`sha256=<hex>`) is a valid signature of `body` under any of `secrets`.
/// No secrets configured → false: baton never accepts unsigned deliveries.
pub fn verify(secrets: &[Secret], header: Option<&str>, body: &[u8]) -> bool {
    let Some(sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(sig) else {
        return false;
    };
    // Every secret is tried (no early exit), so timing does not reveal which one matched.
    let mut ok = false;
    for secret in secrets {
        let Ok(mut mac) = HmacSha256::new_from_slice(secret.expose().as_bytes()) else {
            continue;
        };
        mac.update(body);
        ok |= mac.verify_slice(&expected).is_ok();
    }
    ok
}

/// `sha256=<hex>` for `body` under `secret` (used by tests and the fake GitHub).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_against_any_configured_secret() {
        let body = br#"{"zen":"Keep it logically awesome."}"#;
        let secrets = [Secret::new("new"), Secret::new("old")];
        assert!(verify(&secrets, Some(&sign("old", body)), body));
        assert!(verify(&secrets, Some(&sign("new", body)), body));
        assert!(!verify(&secrets, Some(&sign("other", body)), body));
        assert!(!verify(&secrets, None, body));
        assert!(!verify(&secrets, Some("sha256=zz"), body));
        assert!(!verify(&secrets, Some("sha1=abcd"), body));
        assert!(!verify(&[], Some(&sign("", body)), body));
        let mut tampered = body.to_vec();
        tampered[3] ^= 1;
        assert!(!verify(&secrets, Some(&sign("new", body)), &tampered));
    }
}
