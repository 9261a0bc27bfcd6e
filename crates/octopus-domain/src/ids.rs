//! Identifiers Octopus hands out. `payment_uid` is unguessable (UUIDv7: time-ordered, which
//! keeps database indexes append-only, with 74 random bits); merchant UIDs, API keys and API
//! secrets are random alphanumerics from the operating system's generator.

use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use rand::Rng;

/// A new unguessable order identifier (32 lowercase hex characters): a UUIDv7 of `now`
/// whose 74 random bits come from the thread's CSPRNG (ChaCha, seeded by the OS).
pub fn new_payment_uid(now: crate::Timestamp) -> String {
    let random: [u8; 10] = rand::thread_rng().gen();
    uuid::Builder::from_unix_timestamp_millis(now.max(0) as u64, &random)
        .into_uuid()
        .simple()
        .to_string()
}

fn random_alphanumeric(len: usize) -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A new merchant UID (`M` followed by 15 alphanumerics).
pub fn new_merchant_uid() -> String {
    format!("M{}", random_alphanumeric(15))
}

/// A new API key (`OC-Key`): public, names the key.
pub fn new_api_key() -> String {
    format!("ock_{}", random_alphanumeric(24))
}

/// A new API key of a merchant's book: live keys as [`new_api_key`], test keys marked
/// `ock_test_` so a person reading one knows it moves no real money.
pub fn new_api_key_for(mode: crate::Mode) -> String {
    match mode {
        crate::Mode::Live => new_api_key(),
        crate::Mode::Test => format!("ock_test_{}", random_alphanumeric(24)),
    }
}

/// A new API secret: 40 alphanumerics (about 238 bits).
pub fn new_api_secret() -> String {
    random_alphanumeric(40)
}

/// A new own account id (`acc_` and 12 alphanumerics), named by devices' reports.
pub fn new_account_id() -> String {
    format!("acc_{}", random_alphanumeric(12))
}

/// A new device id (`dev_` and 16 alphanumerics): public, sent in `X-Octopus-Device`.
pub fn new_device_id() -> String {
    format!("dev_{}", random_alphanumeric(16))
}

/// A new device secret: 40 alphanumerics, shown once.
pub fn new_device_secret() -> String {
    random_alphanumeric(40)
}

/// A new transfer uid (`tr_` and a time-ordered unguessable id).
pub fn new_transfer_uid(now: crate::Timestamp) -> String {
    format!("tr_{}", new_payment_uid(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_well_formed() {
        let a = new_payment_uid(1_795_235_496_123);
        let b = new_payment_uid(1_795_235_496_123);
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert_eq!(&a[12..13], "7", "a version 7 UUID");
        assert!(new_payment_uid(1_795_235_496_124) > a, "time-ordered");
        assert!(new_api_key().starts_with("ock_"));
        assert_eq!(new_api_secret().len(), 40);
        assert_ne!(new_api_secret(), new_api_secret());
    }
}
