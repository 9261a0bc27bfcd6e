//! Which payee check applies to a payout paid from the operator's own accounts, chosen from
//! the order's payment code and country, then checked by the domain's rules
//! (`octopus_domain::payee`). Only channels that pay this way call it, so a seed document's
//! example on the sandbox is never refused by it.

use octopus_domain::payee::{self, PayeeMethod};
use octopus_domain::{OrderRequest, TransactionType};

/// The method that pays a payout of this payment code in this country.
pub fn method_for(payment: &str, country_code: &str, to: &str) -> PayeeMethod {
    match payment.to_ascii_lowercase().as_str() {
        "upi" => PayeeMethod::Upi,
        "bkash" => PayeeMethod::Bkash,
        "nagad" => PayeeMethod::Nagad,
        "gcash" => PayeeMethod::Gcash,
        _ => match country_code {
            // An Indian payee is a VPA when it has a handle, else an account with its IFSC.
            "IN" if to.contains('@') => PayeeMethod::Upi,
            "IN" => PayeeMethod::IndianBank,
            "TH" => PayeeMethod::ThaiBank,
            _ => PayeeMethod::Other,
        },
    }
}

/// Whether an own-accounts channel can pay this payout (deposits always pass); the reason is
/// the 400's details, naming the field.
pub fn accepts(request: &OrderRequest) -> Result<(), String> {
    if request.transaction_type != TransactionType::Expense {
        return Ok(());
    }
    let method = method_for(&request.payment, request.country_code, &request.to);
    payee::check(method, &request.to, &request.to_bank_name).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_follows_the_payment_code_then_the_country() {
        assert_eq!(method_for("UPI", "IN", "x"), PayeeMethod::Upi);
        assert_eq!(method_for("india", "IN", "shop@okaxis"), PayeeMethod::Upi);
        assert_eq!(
            method_for("india", "IN", "1234567890"),
            PayeeMethod::IndianBank
        );
        assert_eq!(
            method_for("thailand", "TH", "1234567890"),
            PayeeMethod::ThaiBank
        );
        assert_eq!(method_for("gcash", "PH", "09171234567"), PayeeMethod::Gcash);
        assert_eq!(method_for("bkash", "BD", "01712345678"), PayeeMethod::Bkash);
        assert_eq!(method_for("wavepay", "MM", "09123"), PayeeMethod::Other);
    }
}
