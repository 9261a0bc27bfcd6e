//! What operators are shown of orders, their history, callbacks, transfers and ledger entries:
//! one JSON shape each, for the admin API, the consoles and the CLI, and the CSV rows of the
//! exports (one quoting rule: [`csv_field`]).

use octopus_domain::money::format_amount;
use octopus_domain::transfer::Transfer;
use octopus_domain::{Order, OrderEvent};
use octopus_storage::{Callback, CallbackAttempt, CallbackState, MerchantEntry, UpstreamExchange};
use serde_json::{json, Value};

use crate::clock::rfc3339;

/// An order as a list shows it.
pub fn order_summary(o: &Order) -> Value {
    json!({
        "payment_uid": o.payment_uid,
        "merchant_uid": o.merchant_uid,
        "merchant_name": o.merchant_name,
        "merchant_order_id": o.merchant_order_id,
        "transaction_type": o.transaction_type.as_str(),
        "accounting_type": o.accounting_type.as_str(),
        "amount": format_amount(o.amount, o.currency),
        "final_amount": format_amount(o.final_amount, o.currency),
        "fee": o.fee.normalize().to_string(),
        "currency": o.currency.code(),
        "payment": o.payment,
        "channel": o.channel,
        "account": o.account,
        "reference": o.reference,
        "payment_status": o.payment_status.as_str(),
        "payment_fail_reason": o.payment_fail_reason,
        "notify_status": o.notify_status.as_str(),
        "accounting_status": o.accounting_status.as_str(),
        "test": o.test,
        "created_at": rfc3339(o.created_at),
        "updated_at": rfc3339(o.updated_at),
    })
}

/// An order with everything its detail page shows of the order itself.
pub fn order_detail(o: &Order) -> Value {
    let mut v = order_summary(o);
    let extra = json!({
        "from": o.from,
        "from_name": o.from_name,
        "from_bank_name": o.from_bank_name,
        "to": o.to,
        "to_name": o.to_name,
        "to_bank_name": o.to_bank_name,
        "member_id": o.member_id,
        "country": o.country,
        "notify_url": o.notify_url,
        "redirect_url": o.redirect_url,
        "ip": o.ip,
        "notify_fail_reason": o.notify_fail_reason,
        "accounting_fail_reason": o.accounting_fail_reason,
        "expires_at": o.expires_at.map(rfc3339),
        "distribute_rules": serde_json::from_str::<Value>(&o.distribute_rules).unwrap_or_default(),
    });
    if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
        v.extend(extra);
    }
    v
}

/// An order's status changes, its creation first, each with the id of the request that made
/// it (`X-Request-Id`; empty for background work and the CLI).
pub fn status_changes(events: &[OrderEvent]) -> Value {
    events
        .iter()
        .map(|e| {
            json!({
                "at": rfc3339(e.created_at),
                "from": e.from_status.as_str(),
                "to": e.to_status.as_str(),
                "reason": e.reason,
                "request_id": e.request_id,
            })
        })
        .collect()
}

/// An order's exchanges with its upstream (credentials were masked when recorded).
pub fn upstream_exchanges(exchanges: &[UpstreamExchange]) -> Value {
    exchanges
        .iter()
        .map(|e| {
            json!({
                "at": rfc3339(e.at),
                "channel": e.channel,
                "operation": e.operation,
                "request": e.request,
                "http_status": e.http_status,
                "response": e.response,
                "latency_ms": e.latency_ms,
                "error": e.error,
            })
        })
        .collect()
}

/// A callback with its attempts.
pub fn callback(c: &Callback, attempts: &[CallbackAttempt]) -> Value {
    json!({
        "callback_id": c.id,
        "payment_uid": c.payment_uid,
        "notify_url": c.notify_url,
        "state": c.state.as_str(),
        "manual": c.manual,
        "attempts": c.attempts,
        "next_attempt_at": if c.state == CallbackState::Pending { rfc3339(c.next_attempt_at) } else { String::new() },
        "last_error": c.last_error,
        "created_at": rfc3339(c.created_at),
        "body": c.payload,
        "attempt_log": attempts.iter().map(|a| json!({
            "attempt": a.attempt,
            "manual": a.manual,
            "at": rfc3339(a.started_at),
            "http_status": a.http_status,
            "latency_ms": a.latency_ms,
            "error": a.error,
            "response": a.response_head,
        })).collect::<Vec<_>>(),
    })
}

/// A ledger entry as its merchant's books show it.
pub fn ledger_entry(e: &MerchantEntry) -> Value {
    json!({
        "entry_id": e.id,
        "kind": e.kind.as_str(),
        "accounting_type": e.accounting_type.as_str(),
        "currency": e.currency.code(),
        "amount": e.amount.normalize().to_string(),
        "fee": e.fee.normalize().to_string(),
        "available_change": e.available_change.normalize().to_string(),
        "held_change": e.held_change.normalize().to_string(),
        "available_after": e.available_after.map(|d| d.normalize().to_string()),
        "held_after": e.held_after.map(|d| d.normalize().to_string()),
        "payment_uid": e.payment_uid,
        "merchant_order_id": e.merchant_order_id,
        "created_at": rfc3339(e.created_at),
    })
}

/// A transfer an own account received.
pub fn transfer(t: &Transfer) -> Value {
    json!({
        "transfer": t.uid,
        "account": t.account,
        "channel": t.channel,
        "device": t.device,
        "amount": format_amount(t.amount, t.currency),
        "currency": t.currency.code(),
        "reference": t.reference,
        "occurred_at": rfc3339(t.occurred_at),
        "payer_account": t.payer_account,
        "payer_name": t.payer_name,
        "text": t.text,
        "status": t.status.as_str(),
        "payment_uid": t.payment_uid,
        "late": t.late,
        "reason": t.reason,
        "return_reference": t.return_reference,
        "created_at": rfc3339(t.created_at),
    })
}

/// One CSV field, quoted when it holds a separator, a quote or a line break; a leading
/// formula character is neutralised (spreadsheets run `=`, `+`, `-`, `@` as formulas) unless
/// the field is a plain number (`-120.00`, `+66812345678` stay numbers).
pub fn csv_field(value: &str) -> String {
    let number = {
        let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
        !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && digits.bytes().filter(|b| *b == b'.').count() <= 1
    };
    let value = if !number && value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// A CSV line of `fields`.
pub fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line: String = fields
        .iter()
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// The header of the orders export.
pub const ORDERS_CSV_HEADER: &str = "created_at,payment_uid,merchant_uid,merchant_order_id,\
transaction_type,amount,final_amount,fee,currency,payment,channel,payment_status,notify_status,\
accounting_status,test,reference\n";

/// An order as a line of the orders export.
pub fn order_csv(o: &Order) -> String {
    csv_line(&[
        rfc3339(o.created_at),
        o.payment_uid.clone(),
        o.merchant_uid.clone(),
        o.merchant_order_id.clone(),
        o.transaction_type.as_str().into(),
        format_amount(o.amount, o.currency),
        format_amount(o.final_amount, o.currency),
        o.fee.normalize().to_string(),
        o.currency.code().into(),
        o.payment.clone(),
        o.channel.clone(),
        o.payment_status.as_str().into(),
        o.notify_status.as_str().into(),
        o.accounting_status.as_str().into(),
        o.test.to_string(),
        o.reference.clone(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-1,5"), "\"'-1,5\"");
        assert_eq!(csv_field("-120.00"), "-120.00", "a debit stays a number");
        assert_eq!(csv_field("+66812345678"), "+66812345678");
        assert_eq!(csv_field("+1+cmd|x"), "'+1+cmd|x");
        assert_eq!(csv_field("-"), "'-");
        assert_eq!(csv_line(&["a", "b\nc"]), "a,\"b\nc\"\n");
    }
}
