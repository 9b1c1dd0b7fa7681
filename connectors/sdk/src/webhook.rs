//! Webhook verification helpers: HMAC-SHA256 over the raw body, compared in
//! constant time, in the base64 and hex encodings channels use.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The largest webhook body the listener reads by default (1 MiB); larger
/// ones are refused with 413 before they are read whole.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 over several parts, as if concatenated (e.g. URL + body).
pub fn hmac_sha256_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Base64 (standard alphabet, padded) of an HMAC-SHA256.
pub fn sign_base64(key: &[u8], message: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(key, message))
}

/// Lower-case hex of an HMAC-SHA256.
pub fn sign_hex(key: &[u8], message: &[u8]) -> String {
    hex::encode(hmac_sha256(key, message))
}

/// Compares two digests in constant time.
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Checks a base64 signature header against the expected digest. Padding and
/// surrounding white space do not matter: the decoded digests are compared.
pub fn verify_base64(expected: &[u8; 32], header: &str) -> bool {
    let trimmed = header.trim().trim_end_matches('=');
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed);
    match decoded {
        Ok(sig) => digests_equal(expected, &sig),
        Err(_) => false,
    }
}

/// Checks a hex signature header (either case) against the expected digest.
pub fn verify_hex(expected: &[u8; 32], header: &str) -> bool {
    match hex::decode(header.trim()) {
        Ok(sig) => digests_equal(expected, &sig),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from shared/specs/shopify/WEBHOOKS.md.
    #[test]
    fn shopify_vectors_verify() {
        let d = hmac_sha256(b"kitties are cute", br#"{"foo": "bar"}"#);
        assert!(verify_base64(
            &d,
            "whZTLhA7huY97fFO2wQU8i6CSxBGsM289q1MWkxqp2g="
        ));
        assert!(verify_base64(
            &d,
            "whZTLhA7huY97fFO2wQU8i6CSxBGsM289q1MWkxqp2g=\n"
        ));
        let d = hmac_sha256(b"API_SECRET_KEY", b"{}");
        assert!(verify_base64(
            &d,
            "+ihUB5l+D7QrohDEi/6NcBcJRyKssyWqos13LmnsBbs="
        ));
        // Re-serialised JSON is a different body.
        let d = hmac_sha256(b"kitties are cute", br#"{"foo":"bar"}"#);
        assert!(!verify_base64(
            &d,
            "whZTLhA7huY97fFO2wQU8i6CSxBGsM289q1MWkxqp2g="
        ));
    }

    #[test]
    fn garbage_and_truncated_signatures_fail() {
        let d = hmac_sha256(b"k", b"body");
        assert!(!verify_base64(&d, ""));
        assert!(!verify_base64(&d, "not base64!"));
        let full = sign_base64(b"k", b"body");
        assert!(verify_base64(&d, &full));
        assert!(!verify_base64(&d, &full[..20]));
        let hexsig = sign_hex(b"k", b"body");
        assert!(verify_hex(&d, &hexsig));
        assert!(verify_hex(&d, &hexsig.to_uppercase()));
        assert!(!verify_hex(&d, &hexsig[..62]));
    }

    #[test]
    fn parts_equal_the_concatenation() {
        assert_eq!(
            hmac_sha256_parts(b"k", &[b"ab", b"cd"]),
            hmac_sha256(b"k", b"abcd")
        );
    }
}
