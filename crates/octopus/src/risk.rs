//! `octopus key|blocklist|velocity|review` and `octopus payout in-review|approve|reject`:
//! merchant safety administered straight on the database, like `channel` (a running gateway
//! sees keys within a second, blocklists at once, rules and thresholds within its cache time).

use anyhow::{anyhow, bail, Context};
use octopus_domain::merchant::{format_allowlist, parse_allowlist};
use octopus_domain::money::{format_amount, Amount};
use octopus_domain::risk::{self, BlockKind, Subject, VelocityRule};
use octopus_domain::{Currency, Merchant, Mode, TransactionType};
use octopus_server::clock::{now_ms, rfc3339};
use octopus_server::services::{merchants, risk as risk_service};
use octopus_storage::{BlockEntry, NewBlockEntry, Storage, StoredApiKey};
use serde_json::{json, Value};

use crate::cli::{
    BlocklistArgs, BlocklistCommand, KeyArgs, KeyCommand, ReviewArgs, ReviewCommand, VelocityArgs,
    VelocityCommand,
};

/// How many rows a list prints at most.
const LIST_LIMIT: u32 = 100_000;

async fn merchant(storage: &dyn Storage, uid: &str) -> anyhow::Result<Merchant> {
    storage
        .merchant_by_uid(uid.trim())
        .await?
        .ok_or_else(|| anyhow!("no merchant with uid {uid}"))
}

/// The merchant id of an entry or threshold: 0 for operator-wide.
async fn scope(storage: &dyn Storage, uid: Option<&str>) -> anyhow::Result<i64> {
    match uid {
        None => Ok(0),
        Some(uid) => Ok(merchant(storage, uid).await?.id),
    }
}

fn expiry(expires_in: Option<&str>, now: i64) -> anyhow::Result<Option<i64>> {
    expires_in
        .map(|text| risk::parse_duration_ms(text).map(|ms| now + ms))
        .transpose()
        .map_err(|e| anyhow!("--expires-in: {e}"))
}

fn key_json(k: &StoredApiKey) -> Value {
    json!({
        "api_key": k.api_key,
        "mode": k.merchant.mode.as_str(),
        "label": k.label,
        "created_at": rfc3339(k.created_at),
        "expires_at": k.expires_at.map(rfc3339),
        "last_used_at": k.last_used_at.map(rfc3339),
        "revoked_at": k.revoked_at.map(rfc3339),
        "allowed_ips": format_allowlist(&k.allowed_ips),
    })
}

pub async fn run_key(args: KeyArgs) -> anyhow::Result<()> {
    match args.command {
        KeyCommand::Create {
            merchant: uid,
            test,
            label,
            expires_in,
            allow_ip,
            database,
        } => {
            let (storage, master_key) = crate::serve::open(&database).await?;
            let now = now_ms();
            let m = merchant(storage.as_ref(), &uid).await?;
            let allowed = parse_allowlist(allow_ip.as_deref().unwrap_or(""))?;
            let mode = if test { Mode::Test } else { Mode::Live };
            let until = expiry(expires_in.as_deref(), now)?;
            let key =
                merchants::add_key(storage.as_ref(), &master_key, &m, mode, &label, until, now)
                    .await?;
            if !allowed.is_empty() {
                storage
                    .set_api_key_allowlist(&key.api_key, &allowed)
                    .await?;
            }
            println!("{}", serde_json::to_string(&key)?);
        }
        KeyCommand::List {
            merchant: uid,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let m = merchant(storage.as_ref(), &uid).await?;
            for k in storage.api_keys_of(m.id).await? {
                println!("{}", key_json(&k));
            }
        }
        KeyCommand::Revoke { api_key, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            if !storage.revoke_api_key(&api_key, now_ms()).await? {
                bail!("no such API key, or it is revoked already");
            }
            println!("{}", json!({"api_key": api_key, "revoked": true}));
        }
        KeyCommand::Rotate {
            api_key,
            expires_in,
            database,
        } => {
            let (storage, master_key) = crate::serve::open(&database).await?;
            let now = now_ms();
            let until = expiry(Some(&expires_in), now)?.expect("a duration was given");
            let key =
                merchants::rotate_key(storage.as_ref(), &master_key, &api_key, until, now).await?;
            println!("{}", serde_json::to_string(&key)?);
        }
        KeyCommand::Allow {
            api_key,
            ip,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let allowed = parse_allowlist(&ip)?;
            if !storage.set_api_key_allowlist(&api_key, &allowed).await? {
                bail!("no such API key, or it is revoked");
            }
            println!(
                "{}",
                json!({"api_key": api_key, "allowed_ips": format_allowlist(&allowed)})
            );
        }
    }
    Ok(())
}

fn block_json(e: &BlockEntry) -> Value {
    json!({
        "id": e.id,
        "kind": e.kind.as_str(),
        "value": e.value,
        "merchant": e.merchant_uid,
        "reason": e.reason,
        "author": e.author,
        "created_at": rfc3339(e.created_at),
        "expires_at": e.expires_at.map(rfc3339),
    })
}

/// An entry as the operator writes it, checked and normalized.
fn new_entry(
    merchant_id: i64,
    kind: &str,
    value: &str,
    reason: &str,
    expires_in: Option<&str>,
    author: &str,
    now: i64,
) -> anyhow::Result<NewBlockEntry> {
    let kind: BlockKind = kind.parse()?;
    let value = risk::normalize(kind, value).map_err(|e| anyhow!("--value: {e}"))?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 256 || reason.chars().any(char::is_control) {
        bail!("--reason must say why, in at most 256 characters on one line");
    }
    Ok(NewBlockEntry {
        merchant_id,
        kind,
        value,
        reason: reason.to_string(),
        author: author.to_string(),
        created_at: now,
        expires_at: expiry(expires_in, now)?,
    })
}

pub async fn run_blocklist(args: BlocklistArgs) -> anyhow::Result<()> {
    match args.command {
        BlocklistCommand::Add {
            kind,
            value,
            merchant: uid,
            reason,
            expires_in,
            actor,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let merchant_id = scope(storage.as_ref(), uid.as_deref()).await?;
            let now = now_ms();
            let entry = new_entry(
                merchant_id,
                &kind,
                &value,
                &reason,
                expires_in.as_deref(),
                &actor.name(),
                now,
            )?;
            storage.add_blocks(vec![entry.clone()]).await?;
            let stored = BlockEntry {
                id: 0,
                merchant_id,
                kind: entry.kind,
                value: entry.value,
                reason: entry.reason,
                author: entry.author,
                created_at: now,
                expires_at: entry.expires_at,
                merchant_uid: uid.clone().unwrap_or_default(),
            };
            let mut shown = block_json(&stored);
            shown.as_object_mut().expect("an object").remove("id");
            println!("{shown}");
        }
        BlocklistCommand::Remove {
            kind,
            value,
            merchant: uid,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let merchant_id = scope(storage.as_ref(), uid.as_deref()).await?;
            let kind: BlockKind = kind.parse()?;
            let value = risk::normalize(kind, &value).map_err(|e| anyhow!("--value: {e}"))?;
            if !storage.remove_block(merchant_id, kind, &value).await? {
                bail!("no such entry");
            }
            println!(
                "{}",
                json!({"kind": kind.as_str(), "value": value, "removed": true})
            );
        }
        BlocklistCommand::List {
            merchant: uid,
            operator_wide,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let which = match (uid.as_deref(), operator_wide) {
                (Some(_), true) => bail!("--merchant and --operator-wide exclude each other"),
                (Some(uid), false) => Some(merchant(storage.as_ref(), uid).await?.id),
                (None, true) => Some(0),
                (None, false) => None,
            };
            for e in storage.blocks(which, LIST_LIMIT).await? {
                println!("{}", block_json(&e));
            }
        }
        BlocklistCommand::Import {
            file,
            actor,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let entries = import(storage.as_ref(), &text, &actor.name(), now_ms()).await?;
            let count = storage.add_blocks(entries).await?;
            println!("{}", json!({"imported": count}));
        }
    }
    Ok(())
}

/// The entries of a CSV text (header `kind,value,reason[,merchant][,expires_in]`), every line
/// checked before any is stored.
async fn import(
    storage: &dyn Storage,
    text: &str,
    author: &str,
    now: i64,
) -> anyhow::Result<Vec<NewBlockEntry>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| anyhow!("the file is empty"))?;
    let columns: Vec<String> = csv_fields(header)
        .into_iter()
        .map(|c| c.trim().to_lowercase())
        .collect();
    let at = |name: &str| columns.iter().position(|c| c == name);
    let (Some(kind_at), Some(value_at), Some(reason_at)) = (at("kind"), at("value"), at("reason"))
    else {
        bail!("the header must name the columns kind, value and reason (merchant and expires_in are optional)");
    };
    let (merchant_at, expires_at) = (at("merchant"), at("expires_in"));
    let mut merchants = std::collections::HashMap::new();
    let mut entries = Vec::new();
    for (number, line) in lines {
        let fields = csv_fields(line);
        let field = |i: Option<usize>| {
            i.and_then(|i| fields.get(i))
                .map(|f| f.trim().to_string())
                .unwrap_or_default()
        };
        let line_error = |e: anyhow::Error| anyhow!("line {}: {e}", number + 1);
        let uid = field(merchant_at);
        let merchant_id = if uid.is_empty() {
            0
        } else if let Some(id) = merchants.get(&uid) {
            *id
        } else {
            let id = merchant(storage, &uid).await.map_err(line_error)?.id;
            merchants.insert(uid.clone(), id);
            id
        };
        let expires_in = field(expires_at);
        let entry = new_entry(
            merchant_id,
            &field(Some(kind_at)),
            &field(Some(value_at)),
            &field(Some(reason_at)),
            (!expires_in.is_empty()).then_some(expires_in.as_str()),
            author,
            now,
        )
        .map_err(line_error)?;
        entries.push(entry);
    }
    Ok(entries)
}

/// The fields of one CSV line (double quotes around a field, `""` inside one).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn rule_json(r: &VelocityRule) -> Value {
    json!({
        "id": r.id,
        "subject": r.subject.as_str(),
        "type": r.transaction_type.map(|t| match t {
            TransactionType::Income => "deposit",
            TransactionType::Expense => "payout",
        }),
        "window_seconds": r.window_seconds,
        "max_orders": r.max_orders,
        "max_volume": r.max_volume.map(|v| v.to_string()),
        "currency": r.currency.map(|c| c.code()),
    })
}

fn currency(text: &str) -> anyhow::Result<Currency> {
    Currency::parse(text).ok_or_else(|| anyhow!("unknown currency {text}"))
}

pub async fn run_velocity(args: VelocityArgs) -> anyhow::Result<()> {
    match args.command {
        VelocityCommand::Add {
            merchant: uid,
            subject,
            r#type,
            window,
            max_orders,
            max_volume,
            currency: code,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let m = merchant(storage.as_ref(), &uid).await?;
            let subject: Subject = subject.parse()?;
            let transaction_type = match r#type.as_deref() {
                None => None,
                Some("deposit") => Some(TransactionType::Income),
                Some("payout") => Some(TransactionType::Expense),
                Some(other) => bail!("--type must be deposit or payout, not {other}"),
            };
            let window_ms =
                risk::parse_duration_ms(&window).map_err(|e| anyhow!("--window: {e}"))?;
            let currency = code.as_deref().map(currency).transpose()?;
            let max_volume = match (&max_volume, currency) {
                (Some(text), Some(c)) => Some(
                    Amount::parse(text, c)
                        .map_err(|e| anyhow!("--max-volume: {e}"))?
                        .value(),
                ),
                (Some(_), None) => bail!("--max-volume needs --currency"),
                (None, _) => None,
            };
            if max_orders == Some(0) {
                bail!("--max-orders must be at least 1");
            }
            let mut rule = VelocityRule {
                id: 0,
                merchant_id: m.id,
                subject,
                transaction_type,
                window_seconds: window_ms / 1000,
                max_orders,
                max_volume,
                currency,
            };
            rule.check()?;
            rule.id = storage.add_velocity_rule(rule.clone(), now_ms()).await?;
            println!("{}", rule_json(&rule));
        }
        VelocityCommand::List { database } => {
            let storage = crate::serve::open_storage(&database).await?;
            for r in storage.velocity_rules().await? {
                println!("{}", rule_json(&r));
            }
        }
        VelocityCommand::Remove { id, database } => {
            let storage = crate::serve::open_storage(&database).await?;
            if !storage.remove_velocity_rule(id).await? {
                bail!("no velocity rule {id}");
            }
            println!("{}", json!({"id": id, "removed": true}));
        }
    }
    Ok(())
}

pub async fn run_review(args: ReviewArgs) -> anyhow::Result<()> {
    match args.command {
        ReviewCommand::Set {
            currency: code,
            above,
            merchant: uid,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let merchant_id = scope(storage.as_ref(), uid.as_deref()).await?;
            let c = currency(&code)?;
            let above = Amount::parse(&above, c)
                .map_err(|e| anyhow!("--above: {e}"))?
                .value();
            storage
                .set_review_threshold(merchant_id, c, Some(above), now_ms())
                .await?;
            println!(
                "{}",
                json!({"merchant": uid, "currency": c.code(), "above": format_amount(above, c)})
            );
        }
        ReviewCommand::Clear {
            currency: code,
            merchant: uid,
            database,
        } => {
            let storage = crate::serve::open_storage(&database).await?;
            let merchant_id = scope(storage.as_ref(), uid.as_deref()).await?;
            let c = currency(&code)?;
            storage
                .set_review_threshold(merchant_id, c, None, now_ms())
                .await?;
            println!(
                "{}",
                json!({"merchant": uid, "currency": c.code(), "cleared": true})
            );
        }
        ReviewCommand::List { database } => {
            let storage = crate::serve::open_storage(&database).await?;
            for t in storage.review_thresholds().await? {
                println!(
                    "{}",
                    json!({
                        "merchant_id": t.merchant_id,
                        "currency": t.currency.code(),
                        "above": format_amount(t.above, t.currency),
                    })
                );
            }
        }
    }
    Ok(())
}

/// `octopus payout in-review`.
pub async fn in_review(storage: &dyn Storage) -> anyhow::Result<()> {
    for o in storage.payouts_in_review(LIST_LIMIT).await? {
        println!(
            "{}",
            json!({
                "payment_uid": o.payment_uid,
                "merchant_uid": o.merchant_uid,
                "merchant_order_id": o.merchant_order_id,
                "amount": format_amount(o.amount, o.currency),
                "currency": o.currency.code(),
                "channel": o.channel,
                "to": o.to,
                "to_name": o.to_name,
                "test": o.test,
                "created_at": rfc3339(o.created_at),
            })
        );
    }
    Ok(())
}

/// `octopus payout approve|reject`.
pub async fn decide(
    storage: &dyn Storage,
    payment_uid: &str,
    approve: bool,
    by: &str,
    reason: &str,
) -> anyhow::Result<()> {
    let result = if approve {
        risk_service::approve(storage, payment_uid, by, reason, now_ms()).await
    } else {
        risk_service::reject(storage, payment_uid, by, reason, now_ms()).await
    };
    let order = result.map_err(|e| anyhow!("{}", e.data()))?;
    println!(
        "{}",
        json!({
            "payment_uid": order.payment_uid,
            "payment_status": order.payment_status.as_str(),
            "payment_fail_reason": order.payment_fail_reason,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::csv_fields;

    #[test]
    fn csv_fields_keep_quoted_commas() {
        assert_eq!(
            csv_fields(r#"payer_name,"Doe, ""J""",fraud"#),
            vec!["payer_name", r#"Doe, "J""#, "fraud"]
        );
        assert_eq!(csv_fields("a,,b"), vec!["a", "", "b"]);
    }
}
