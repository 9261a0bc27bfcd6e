//! Channels as the operator sets them up — `octopus channel add|list|disable|enable` and the
//! admin API's channels — in one place: the operator's words read into a checked `Channel`
//! (lists of countries, currencies, types, payments; decimal limits; a connector that builds
//! from the settings and credentials), credentials sealed by the master key before they are
//! stored and shown by name only, and every change audited with the channel before and
//! after. Every node reads the channels again every second (`routing::Channels`), so a change
//! applies to the orders created after it.

use std::collections::BTreeMap;
use std::str::FromStr;

use octopus_connectors::registry::{self, Setup};
use octopus_domain::channel::ChannelError;
use octopus_domain::secret_box::MasterKey;
use octopus_domain::{Channel, Timestamp, TransactionType};
use octopus_storage::{ChannelSetup, ChannelStore, Operators, StorageError};
use serde_json::{json, Value};

use crate::services::operators::Actor;
use crate::services::routing::{open_credentials, seal_credentials};
use crate::services::setup::{self, invalid, not_found, Missing, SetupError};

/// A channel as the operator writes it. Empty lists take anything.
#[derive(Debug, Clone)]
pub struct ChannelInput {
    /// 1 to 64 of `a-z 0-9 _ -`.
    pub code: String,
    /// The connector kind (`sandbox`, `paykassma`, `accounts`).
    pub kind: String,
    /// Merchant uids served.
    pub merchants: Vec<String>,
    /// `income`, `expense`.
    pub types: Vec<String>,
    /// Countries by name or ISO code.
    pub countries: Vec<String>,
    pub currencies: Vec<String>,
    /// Payment codes (kept in lower case).
    pub payments: Vec<String>,
    pub min: Option<String>,
    pub max: Option<String>,
    /// Seconds a deposit may stay open when the merchant sends no ttl.
    pub ttl: Option<i64>,
    pub priority: i32,
    pub weight: u32,
    pub daily_limit: Option<String>,
    pub settings: BTreeMap<String, String>,
    /// The credentials; `None` keeps those of the channel it replaces (none for a new one).
    pub credentials: Option<BTreeMap<String, String>>,
    pub enabled: bool,
}

impl ChannelInput {
    /// A channel of `kind` that takes everything, as `channel add CODE --kind KIND` makes it.
    pub fn new(code: &str, kind: &str) -> ChannelInput {
        ChannelInput {
            code: code.to_string(),
            kind: kind.to_string(),
            merchants: vec![],
            types: vec![],
            countries: vec![],
            currencies: vec![],
            payments: vec![],
            min: None,
            max: None,
            ttl: None,
            priority: 100,
            weight: 1,
            daily_limit: None,
            settings: BTreeMap::new(),
            credentials: None,
            enabled: true,
        }
    }
}

fn channel_error(e: ChannelError) -> SetupError {
    let field = match e {
        ChannelError::Code => "code",
        ChannelError::Weight => "weight",
        ChannelError::AmountRange => "min",
        ChannelError::NotPositive => "min, max, daily_limit",
    };
    invalid(field, e)
}

fn trimmed(items: &[String]) -> impl Iterator<Item = &str> {
    items.iter().map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// The channel `input` describes with these credentials, checked: its fields, and that its
/// connector builds from its settings and credentials.
pub fn parse_channel(
    input: &ChannelInput,
    master_key: &MasterKey,
    credentials: &BTreeMap<String, String>,
    now: Timestamp,
) -> Result<Channel, SetupError> {
    let countries = trimmed(&input.countries)
        .map(|c| {
            octopus_domain::country::normalize(c)
                .map(str::to_string)
                .ok_or_else(|| invalid("countries", format!("unknown country {c:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let currencies = trimmed(&input.currencies)
        .map(|c| setup::currency("currencies", c))
        .collect::<Result<Vec<_>, _>>()?;
    let transaction_types = trimmed(&input.types)
        .map(|t| {
            TransactionType::from_str(t)
                .map_err(|_| invalid("types", format!("income or expense, not {t:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (field, items) in [
        ("merchants", &input.merchants),
        ("payments", &input.payments),
    ] {
        for item in items {
            setup::plain(field, item)?;
        }
    }
    for (name, value) in &input.settings {
        setup::plain("settings", name)?;
        setup::plain("settings", value)?;
    }
    if input.ttl.is_some_and(|t| t <= 0) {
        return Err(invalid("ttl", "must be a positive number of seconds"));
    }
    let channel = Channel {
        code: input.code.trim().to_string(),
        kind: input.kind.trim().to_string(),
        enabled: input.enabled,
        merchants: trimmed(&input.merchants).map(str::to_string).collect(),
        transaction_types,
        countries,
        currencies,
        payments: trimmed(&input.payments).map(str::to_lowercase).collect(),
        min_amount: setup::optional_decimal("min", input.min.as_deref())?,
        max_amount: setup::optional_decimal("max", input.max.as_deref())?,
        default_ttl: input.ttl,
        priority: input.priority,
        weight: input.weight,
        daily_limit: setup::optional_decimal("daily_limit", input.daily_limit.as_deref())?,
        settings: input.settings.clone(),
        sealed_credentials: seal_credentials(master_key, credentials),
        created_at: now,
        updated_at: now,
    };
    channel.validate().map_err(channel_error)?;
    // The connector must build from these settings before they are stored.
    registry::build(
        &channel.kind,
        &Setup {
            channel: &channel.code,
            settings: &channel.settings,
            credentials,
            sandbox_payout_delay: Default::default(),
        },
    )
    .map_err(|e| invalid("kind", e))?;
    Ok(channel)
}

/// The names of a channel's credentials (never their values).
pub fn credential_names(master_key: &MasterKey, c: &Channel) -> Vec<String> {
    open_credentials(master_key, &c.sealed_credentials)
        .map(|m| m.into_keys().collect())
        .unwrap_or_else(|_| vec!["(cannot be opened with this master key)".to_string()])
}

/// A channel as the CLI prints it and the admin API answers it: everything but the
/// credentials' values.
pub fn channel_view(c: &Channel, credential_names: &[String]) -> Value {
    json!({
        "code": c.code,
        "kind": c.kind,
        "enabled": c.enabled,
        "merchants": c.merchants,
        "types": c.transaction_types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "countries": c.countries,
        "currencies": c.currencies.iter().map(|c| c.code()).collect::<Vec<_>>(),
        "payments": c.payments,
        "min": c.min_amount.map(|d| d.to_string()),
        "max": c.max_amount.map(|d| d.to_string()),
        "ttl": c.default_ttl,
        "priority": c.priority,
        "weight": c.weight,
        "daily_limit": c.daily_limit.map(|d| d.to_string()),
        "settings": c.settings,
        "credentials": credential_names,
    })
}

async fn existing<S: ChannelStore + ?Sized>(
    storage: &S,
    code: &str,
) -> Result<Option<Channel>, SetupError> {
    Ok(storage
        .channels()
        .await?
        .into_iter()
        .find(|c| c.code == code.trim()))
}

/// Every channel.
pub async fn list<S: ChannelStore + ?Sized>(
    storage: &S,
    master_key: &MasterKey,
) -> Result<Vec<Value>, SetupError> {
    Ok(storage
        .channels()
        .await?
        .iter()
        .map(|c| channel_view(c, &credential_names(master_key, c)))
        .collect())
}

/// Adds the channel, or replaces the one with its code; audited as `channel.save` with the
/// channel before (none: null) and after, credentials by name.
pub async fn save_by<S>(
    storage: &S,
    master_key: &MasterKey,
    actor: &Actor,
    input: &ChannelInput,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: ChannelStore + ChannelSetup + Operators + ?Sized,
{
    let before = existing(storage, &input.code).await?;
    let credentials = match (&input.credentials, &before) {
        (Some(given), _) => given.clone(),
        (None, Some(old)) => open_credentials(master_key, &old.sealed_credentials)
            .map_err(|_| invalid("credentials", "the stored ones cannot be opened: give them"))?,
        (None, None) => BTreeMap::new(),
    };
    let channel = parse_channel(input, master_key, &credentials, now)?;
    let saved = storage.save_channel(channel).await?;
    let names: Vec<String> = credentials.keys().cloned().collect();
    let after = channel_view(&saved, &names);
    let before = before.map_or(Value::Null, |c| {
        channel_view(&c, &credential_names(master_key, &c))
    });
    setup::audit(
        storage,
        actor,
        "channel.save",
        &saved.code,
        &before,
        &after,
        now,
    )
    .await?;
    Ok(after)
}

/// Takes a channel out of routing (its open orders still finish) or puts it back; audited as
/// `channel.disable` / `channel.enable`. Without the master key (the CLI can disable a channel
/// without it) the credentials' names are not shown (`null`).
pub async fn set_enabled_by<S>(
    storage: &S,
    master_key: Option<&MasterKey>,
    actor: &Actor,
    code: &str,
    enabled: bool,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: ChannelStore + ChannelSetup + Operators + ?Sized,
{
    let code = setup::named(Missing::Channel, code)?;
    let before = existing(storage, code)
        .await?
        .ok_or_else(|| not_found(Missing::Channel, code))?;
    let after = storage
        .set_channel_enabled(code, enabled, now)
        .await
        .map_err(|e| match e {
            StorageError::NotFound => not_found(Missing::Channel, code),
            other => other.into(),
        })?;
    let view = |c: &Channel| match master_key {
        Some(key) => channel_view(c, &credential_names(key, c)),
        None => {
            let mut v = channel_view(c, &[]);
            v["credentials"] = Value::Null;
            v
        }
    };
    let action = if enabled {
        "channel.enable"
    } else {
        "channel.disable"
    };
    let after = view(&after);
    setup::audit(storage, actor, action, code, &view(&before), &after, now).await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(input: &ChannelInput) -> String {
        let (key, _) = MasterKey::generate();
        match parse_channel(input, &key, &BTreeMap::new(), 0) {
            Err(SetupError::Invalid(details)) => details,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_channel_is_read_from_the_operators_words() {
        let (key, _) = MasterKey::generate();
        let mut input = ChannelInput::new("mm-wave", "sandbox");
        input.countries = vec!["myanmar".into(), " ".into()];
        input.currencies = vec!["MMK".into()];
        input.payments = vec!["WavePay".into()];
        input.types = vec!["income".into()];
        input.min = Some("1000".into());
        let credentials: BTreeMap<String, String> =
            [("secret".to_string(), "s3cret".to_string())].into();
        let channel = parse_channel(&input, &key, &credentials, 5).unwrap();
        assert_eq!(channel.countries, vec!["MM"]);
        assert_eq!(channel.payments, vec!["wavepay"]);
        assert_eq!(channel.transaction_types, vec![TransactionType::Income]);
        assert!(!channel.sealed_credentials.contains("s3cret"));
        let shown = channel_view(&channel, &credential_names(&key, &channel));
        assert_eq!(shown["credentials"], json!(["secret"]));
        assert!(!shown.to_string().contains("s3cret"));

        for (change, field) in [
            (
                ChannelInput {
                    code: "Bad Code".into(),
                    ..input.clone()
                },
                "code:",
            ),
            (
                ChannelInput {
                    kind: "nope".into(),
                    ..input.clone()
                },
                "kind:",
            ),
            (
                ChannelInput {
                    currencies: vec!["zzz".into()],
                    ..input.clone()
                },
                "currencies:",
            ),
            (
                ChannelInput {
                    countries: vec!["Atlantis".into()],
                    ..input.clone()
                },
                "countries:",
            ),
            (
                ChannelInput {
                    types: vec!["both".into()],
                    ..input.clone()
                },
                "types:",
            ),
            (
                ChannelInput {
                    max: Some("10".into()),
                    ..input.clone()
                },
                "min:",
            ),
            (
                ChannelInput {
                    ttl: Some(0),
                    ..input.clone()
                },
                "ttl:",
            ),
            (
                ChannelInput {
                    daily_limit: Some("lots".into()),
                    ..input.clone()
                },
                "daily_limit:",
            ),
        ] {
            let details = refusal(&change);
            assert!(details.starts_with(field), "{field} {details}");
        }
    }
}
