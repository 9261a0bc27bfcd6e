//! The second factor of a sign-in: TOTP codes (RFC 6238 as authenticator apps make them:
//! SHA-1, 6 digits, 30-second steps, one step early or late accepted) and recovery codes for a
//! lost phone. Enrolment hands out a secret with its `otpauth://` URL and QR code, sealed with
//! the master key for the confirmation to bring back; the secret is stored (sealed) only once a
//! code made from it is confirmed. A code is good once: the step it matched is taken in the
//! database (`Operators::take_totp_step`), recovery codes are stored as SHA-256 and used up.

use octopus_domain::secret_box::MasterKey;
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};

/// The issuer authenticator apps show next to the code.
const ISSUER: &str = "Octopus";
/// Seconds per code.
const STEP_SECONDS: u64 = 30;
/// Random bytes of a secret (160 bits, as RFC 4226 recommends).
const SECRET_BYTES: usize = 20;
/// Recovery codes handed out at enrolment.
pub const RECOVERY_CODES: usize = 10;
/// What an enrolment blob is sealed for (so no other sealed value passes as one).
const ENROLMENT_PREFIX: &str = "totp-enrolment:";

/// What an operator enrols with: the secret to type in, the URL a QR code shows, and the
/// sealed enrolment the confirmation sends back.
#[derive(Debug, Clone)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_url: String,
    pub enrolment: String,
}

fn totp(secret: Vec<u8>, account: &str) -> Option<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECONDS,
        secret,
        Some(ISSUER.to_string()),
        account.to_string(),
    )
    .ok()
}

/// How long an enrolment may wait for its confirmation: 10 minutes.
pub const ENROLMENT_MS: i64 = 10 * 60 * 1000;

/// A new secret for the operator `operator_id` (`account`: its email, shown by the app),
/// made at `now`.
pub fn enrolment(master_key: &MasterKey, operator_id: i64, account: &str, now: i64) -> Enrolment {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let totp = totp(secret, account).expect("a 160-bit secret and an email make a TOTP");
    let base32 = totp.get_secret_base32();
    Enrolment {
        enrolment: master_key.seal(&format!("{ENROLMENT_PREFIX}{operator_id}:{now}:{base32}")),
        otpauth_url: totp.get_url(),
        secret: base32,
    }
}

/// The base32 secret an enrolment blob holds, if it was made for `operator_id` and less than
/// [`ENROLMENT_MS`] before `now`.
pub fn opened_enrolment(
    master_key: &MasterKey,
    operator_id: i64,
    sealed: &str,
    now: i64,
) -> Option<String> {
    let opened = master_key.open(sealed).ok()?;
    let rest = opened.expose_secret().strip_prefix(ENROLMENT_PREFIX)?;
    let (id, rest) = rest.split_once(':')?;
    let (made, secret) = rest.split_once(':')?;
    let made: i64 = made.parse().ok()?;
    let fresh = (0..ENROLMENT_MS).contains(&(now - made));
    (id == operator_id.to_string() && fresh).then(|| secret.to_string())
}

/// The time step a 6-digit `code` matches for the base32 `secret` at `now_ms` (this step, or
/// one before or after for a clock a little off), compared in constant time; `None` if none.
pub fn matching_step(secret: &str, code: &str, now_ms: i64) -> Option<i64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .ok()?;
    let totp = totp(bytes, "")?;
    let now = u64::try_from(now_ms).ok()? / 1000;
    let step = now / STEP_SECONDS;
    let mut found = None;
    for candidate in [step.saturating_sub(1), step, step + 1] {
        let expected = totp.generate(candidate * STEP_SECONDS);
        if same_bytes(expected.as_bytes(), code.as_bytes()) {
            found = Some(candidate as i64);
        }
    }
    found
}

/// The code an authenticator app shows for `secret` at `now_ms` (for tests and the simulator
/// of an operator's phone).
pub fn code_at(secret: &str, now_ms: i64) -> Option<String> {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .ok()?;
    Some(totp(bytes, "")?.generate(u64::try_from(now_ms).ok()? / 1000))
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Fresh recovery codes (`xxxx-xxxx-xxxx`, lower-case base32: 60 bits each).
pub fn recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 12];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                .collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// What a recovery code is stored as: the SHA-256 of its characters, case and dashes ignored.
pub fn recovery_code_hash(code: &str) -> String {
    let normalized: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_one_either_side_only() {
        let (key, _) = MasterKey::generate();
        let e = enrolment(&key, 7, "ops@example.com", 0);
        assert!(e
            .otpauth_url
            .starts_with("otpauth://totp/Octopus:ops%40example.com?"));
        let now = 1_790_000_000_000;
        let code = code_at(&e.secret, now).unwrap();
        let step = now / 1000 / 30;
        assert_eq!(matching_step(&e.secret, &code, now), Some(step));
        assert_eq!(matching_step(&e.secret, &code, now + 30_000), Some(step));
        assert_eq!(matching_step(&e.secret, &code, now - 30_000), Some(step));
        assert_eq!(matching_step(&e.secret, &code, now + 90_000), None);
        assert_eq!(matching_step(&e.secret, "12345", now), None);
        assert_eq!(matching_step(&e.secret, "abcdef", now), None);
    }

    #[test]
    fn an_enrolment_opens_for_its_operator_only_and_not_for_long() {
        let (key, _) = MasterKey::generate();
        let at = 1_790_000_000_000;
        let e = enrolment(&key, 7, "ops@example.com", at);
        let open = |id, blob: &str, now| opened_enrolment(&key, id, blob, now);
        assert_eq!(open(7, &e.enrolment, at + 1000), Some(e.secret.clone()));
        assert_eq!(open(8, &e.enrolment, at), None);
        // Ten minutes later it has expired.
        assert_eq!(open(7, &e.enrolment, at + ENROLMENT_MS), None);
        // Another sealed value is no enrolment.
        assert_eq!(open(7, &key.seal(&e.secret), at), None);
        let (other, _) = MasterKey::generate();
        assert_eq!(opened_enrolment(&other, 7, &e.enrolment, at), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_ignoring_case_and_dashes() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        assert_eq!(codes[0].len(), 14);
        assert_eq!(
            recovery_code_hash(&codes[0]),
            recovery_code_hash(&codes[0].to_uppercase().replace('-', " "))
        );
        assert_ne!(recovery_code_hash(&codes[0]), recovery_code_hash(&codes[1]));
    }
}
