//! How an order looks to merchants: the payment object of `order/new` and the fields of
//! `order/get`, with every field the merchant documents list (all values are strings, absent
//! ones `""`), plus a few more that the documents allow to follow.

use octopus_domain::money::format_amount;
use octopus_domain::{Order, TransactionType};
use serde::Serialize;

use crate::clock::rfc3339;

#[derive(Debug, Serialize)]
pub struct PaymentView<'a> {
    pub payment_uid: &'a str,
    pub merchant_order_id: &'a str,
    pub merchant_uid: &'a str,
    pub merchant_name: &'a str,
    pub transaction_type: &'static str,
    pub accounting_type: &'static str,
    pub amount: String,
    pub floating_amount: String,
    pub final_amount: String,
    /// The gateway's fee on the order.
    pub fee: String,
    pub currency: &'static str,
    pub country: &'a str,
    pub payment: &'a str,
    pub channel: &'a str,
    pub payment_status: &'static str,
    pub payment_fail_reason: &'a str,
    pub from: &'a str,
    pub from_name: &'a str,
    pub from_bank_name: &'a str,
    pub to: &'a str,
    pub to_name: &'a str,
    pub to_bank_name: &'a str,
    pub merchant_id: &'a str,
    pub response_type: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    /// The routing decision as a JSON text.
    pub distribute_rules: &'a str,
    pub redirect_url: &'a str,
    pub notify_url: &'a str,
    pub notify_status: &'static str,
    pub notify_fail_reason: &'a str,
    pub accounting_status: &'static str,
    pub accounting_fail_reason: &'a str,
    pub signature_key: &'a str,
    pub ttl: String,
    pub float_precision: String,
    pub additional: &'a str,
    pub payment_url: String,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: String,
    /// `"1"` on a test-mode order; live orders have no such field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<&'static str>,
}

/// The cashier page of a deposit (payouts have none).
pub fn payment_url(public_url: &str, order: &Order) -> String {
    match order.transaction_type {
        TransactionType::Income => format!("{public_url}/octopus/pay/{}", order.payment_uid),
        TransactionType::Expense => String::new(),
    }
}

impl<'a> PaymentView<'a> {
    pub fn new(order: &'a Order, public_url: &str) -> Self {
        let c = order.currency;
        PaymentView {
            payment_uid: &order.payment_uid,
            merchant_order_id: &order.merchant_order_id,
            merchant_uid: &order.merchant_uid,
            merchant_name: &order.merchant_name,
            transaction_type: order.transaction_type.as_str(),
            accounting_type: order.accounting_type.as_str(),
            amount: format_amount(order.amount, c),
            floating_amount: format_amount(order.floating_amount, c),
            final_amount: format_amount(order.final_amount, c),
            fee: format_amount(order.fee, c),
            currency: c.code(),
            country: &order.country,
            payment: &order.payment,
            channel: &order.channel,
            payment_status: order.payment_status.as_str(),
            payment_fail_reason: &order.payment_fail_reason,
            from: &order.from,
            from_name: &order.from_name,
            from_bank_name: &order.from_bank_name,
            to: &order.to,
            to_name: &order.to_name,
            to_bank_name: &order.to_bank_name,
            merchant_id: &order.member_id,
            response_type: &order.response_type,
            ip: &order.ip,
            user_agent: &order.user_agent,
            distribute_rules: &order.distribute_rules,
            redirect_url: &order.redirect_url,
            notify_url: &order.notify_url,
            notify_status: order.notify_status.as_str(),
            notify_fail_reason: &order.notify_fail_reason,
            accounting_status: order.accounting_status.as_str(),
            accounting_fail_reason: &order.accounting_fail_reason,
            signature_key: &order.signature_key,
            ttl: order.ttl.map(|t| t.to_string()).unwrap_or_default(),
            float_precision: order.float_precision.to_string(),
            additional: &order.additional,
            payment_url: payment_url(public_url, order),
            created_at: rfc3339(order.created_at),
            updated_at: rfc3339(order.updated_at),
            expires_at: order.expires_at.map(rfc3339).unwrap_or_default(),
            test: order.test.then_some("1"),
        }
    }
}
