//! The operator's own receiving accounts: the bank accounts, PromptPay IDs, UPI VPAs and
//! e-wallet numbers a channel of the `accounts` connector kind collects into and pays out
//! from. Which account a new deposit goes to (the least loaded one that fits and is watched by
//! an online device) is decided here, so every node and both backends choose alike.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::money::Currency;
use crate::Timestamp;

/// How a payer pays into an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountMethod {
    /// A bank account: number, holder and (in Thailand) bank code.
    Bank,
    /// A Thai PromptPay ID (mobile, national ID or e-wallet ID), shown as a QR.
    Promptpay,
    /// An Indian UPI VPA (`name@handle`), shown as a QR and a `upi://` link.
    Upi,
    /// An e-wallet number (GCash, bKash, KBZPay, Wavepay, ...).
    Wallet,
}

impl AccountMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountMethod::Bank => "bank",
            AccountMethod::Promptpay => "promptpay",
            AccountMethod::Upi => "upi",
            AccountMethod::Wallet => "wallet",
        }
    }
}

impl fmt::Display for AccountMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountMethod {
    type Err = AccountError;
    fn from_str(s: &str) -> Result<Self, AccountError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "bank" => AccountMethod::Bank,
            "promptpay" => AccountMethod::Promptpay,
            "upi" => AccountMethod::Upi,
            "wallet" => AccountMethod::Wallet,
            _ => return Err(AccountError::Method(s.to_string())),
        })
    }
}

/// What is wrong with an account as the operator described it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("unknown method {0:?} (bank, promptpay, upi or wallet)")]
    Method(String),
    #[error("an account needs a number")]
    Number,
    #[error("an account needs a holder name")]
    Holder,
    #[error("a promptpay account needs --promptpay-id")]
    PromptpayId,
    #[error("a upi account needs --vpa (name@handle)")]
    Vpa,
    #[error("limits must be positive")]
    Limit,
    #[error("{0}")]
    Invalid(String),
}

/// One receiving account of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Octopus's id of the account (`acc_...`), named by devices' reports.
    pub id: String,
    /// The code of the channel (of kind `accounts`) it belongs to.
    pub channel: String,
    pub method: AccountMethod,
    /// Thai bank code (`004`), empty when none.
    pub bank_code: String,
    /// The account or wallet number as the bank writes it.
    pub number: String,
    /// The holder's name, shown to payers.
    pub holder: String,
    pub currency: Currency,
    /// PromptPay ID (method promptpay).
    pub promptpay_id: String,
    /// UPI VPA (method upi).
    pub vpa: String,
    /// The e-wallet's code (method wallet: `gcash`, `bkash`, `kbzpay`, ...), "" when not named.
    pub wallet: String,
    /// Most volume (sum of amounts) the account takes per UTC day.
    pub daily_limit: Option<Decimal>,
    /// Most open deposits at once.
    pub max_open: Option<u32>,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Account {
    /// Checks what the operator gave: a number and a holder, the method's own identifier, and
    /// positive limits.
    pub fn validate(&self) -> Result<(), AccountError> {
        if self.number.trim().is_empty() || self.number.len() > 64 {
            return Err(AccountError::Number);
        }
        if self.holder.trim().is_empty() || self.holder.len() > 128 {
            return Err(AccountError::Holder);
        }
        match self.method {
            AccountMethod::Promptpay if self.promptpay_id.trim().is_empty() => {
                return Err(AccountError::PromptpayId)
            }
            AccountMethod::Upi if !self.vpa.contains('@') => return Err(AccountError::Vpa),
            _ => {}
        }
        if self.daily_limit.is_some_and(|l| l <= Decimal::ZERO) || self.max_open == Some(0) {
            return Err(AccountError::Limit);
        }
        Ok(())
    }
}

/// An account with what it holds now, as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLoad {
    pub account: Account,
    /// Open deposits on it now.
    pub open_orders: u32,
    /// Sum of the amounts of its deposits of this UTC day that did not fail (counted only for
    /// an account with a daily limit; zero otherwise).
    pub volume_today: Decimal,
    /// The last heartbeat of its most recent device, if any device watches it.
    pub last_heartbeat: Option<Timestamp>,
}

/// A device silent for longer than this is offline (heartbeats come every 30 s).
pub const OFFLINE_AFTER_MS: i64 = 90_000;

/// Whether a device last heard at `last_heartbeat` is online at `now`.
pub fn online(last_heartbeat: Option<Timestamp>, now: Timestamp) -> bool {
    last_heartbeat.is_some_and(|at| now - at <= OFFLINE_AFTER_MS)
}

/// The accounts a deposit may go to, best first, and why each other one was passed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChoice {
    /// Account ids in the order to try them (least loaded first).
    pub candidates: Vec<String>,
    /// Account id → why it does not take the order.
    pub skipped: Vec<(String, String)>,
}

/// Chooses among a channel's accounts for a deposit of `amount` in `currency`: those enabled,
/// in the currency, watched by an online device, under their open-order and daily limits;
/// the least loaded first (fewest open orders, then smallest volume today, then id).
pub fn choose(
    accounts: &[AccountLoad],
    currency: Currency,
    amount: Decimal,
    now: Timestamp,
) -> AccountChoice {
    let mut fitting: Vec<&AccountLoad> = Vec::new();
    let mut skipped = Vec::new();
    for load in accounts {
        let a = &load.account;
        let why = if !a.enabled {
            Some("disabled".to_string())
        } else if a.currency != currency {
            Some(format!("currency {} not served", currency.code()))
        } else if !online(load.last_heartbeat, now) {
            Some("no device online".to_string())
        } else if a.max_open.is_some_and(|m| load.open_orders >= m) {
            Some(format!(
                "{} open orders, its limit",
                a.max_open.unwrap_or_default()
            ))
        } else if a
            .daily_limit
            .is_some_and(|l| load.volume_today + amount > l)
        {
            Some(format!(
                "daily limit of {} reached",
                a.daily_limit.unwrap_or_default()
            ))
        } else {
            None
        };
        match why {
            Some(why) => skipped.push((a.id.clone(), why)),
            None => fitting.push(load),
        }
    }
    fitting.sort_by(|x, y| {
        (x.open_orders, x.volume_today, &x.account.id).cmp(&(
            y.open_orders,
            y.volume_today,
            &y.account.id,
        ))
    });
    AccountChoice {
        candidates: fitting.iter().map(|l| l.account.id.clone()).collect(),
        skipped,
    }
}

/// What the payer is shown to pay a deposit on this account: the keys the cashier page reads
/// (`method`, `account_number`, `account_holder`, `bank_code`, `bank_name`, `promptpay_id`,
/// `vpa`, `wallet`), empty values left out.
pub fn pay_to(account: &Account) -> Vec<(String, String)> {
    let mut shown = vec![
        ("method".to_string(), account.method.as_str().to_string()),
        ("account_number".to_string(), account.number.clone()),
        ("account_holder".to_string(), account.holder.clone()),
    ];
    if !account.bank_code.is_empty() {
        shown.push(("bank_code".into(), account.bank_code.clone()));
        if let Ok(bank) = crate::thai_bank::ThaiBank::parse(&account.bank_code) {
            shown.push(("bank_name".into(), bank.name().to_string()));
        }
    }
    if !account.promptpay_id.is_empty() {
        shown.push(("promptpay_id".into(), account.promptpay_id.clone()));
    }
    if !account.vpa.is_empty() {
        shown.push(("vpa".into(), account.vpa.clone()));
    }
    if !account.wallet.is_empty() {
        shown.push(("wallet".into(), account.wallet.clone()));
    }
    shown
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample_account(id: &str) -> Account {
        Account {
            id: id.into(),
            channel: "own".into(),
            method: AccountMethod::Bank,
            bank_code: "004".into(),
            number: "123-4-56789-0".into(),
            holder: "Somchai Jaidee".into(),
            currency: Currency::Thb,
            promptpay_id: String::new(),
            vpa: String::new(),
            wallet: String::new(),
            daily_limit: None,
            max_open: None,
            enabled: true,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn load(id: &str, open: u32, volume: i64, heartbeat: Option<Timestamp>) -> AccountLoad {
        AccountLoad {
            account: sample_account(id),
            open_orders: open,
            volume_today: Decimal::new(volume, 0),
            last_heartbeat: heartbeat,
        }
    }

    #[test]
    fn the_least_loaded_online_account_comes_first() {
        let now = 1_000_000;
        let mut full = load("d", 1, 0, Some(now));
        full.account.max_open = Some(1);
        let mut capped = load("e", 0, 900, Some(now));
        capped.account.daily_limit = Some(Decimal::new(1000, 0));
        let mut off = load("f", 0, 0, Some(now));
        off.account.enabled = false;
        let mut usd = load("g", 0, 0, Some(now));
        usd.account.currency = Currency::Usd;
        let accounts = vec![
            load("a", 2, 0, Some(now)),
            load("b", 1, 500, Some(now - 1_000)),
            load("c", 1, 100, Some(now - OFFLINE_AFTER_MS - 1)),
            full,
            capped,
            off,
            usd,
            load("h", 1, 100, Some(now - OFFLINE_AFTER_MS)),
        ];
        let choice = choose(&accounts, Currency::Thb, Decimal::new(200, 0), now);
        assert_eq!(choice.candidates, vec!["h", "b", "a"]);
        let why: std::collections::BTreeMap<_, _> = choice.skipped.into_iter().collect();
        assert_eq!(why["c"], "no device online");
        assert_eq!(why["d"], "1 open orders, its limit");
        assert_eq!(why["e"], "daily limit of 1000 reached");
        assert_eq!(why["f"], "disabled");
        assert_eq!(why["g"], "currency thb not served");
        assert!(
            !online(None, now),
            "an account no device watches is offline"
        );
    }

    #[test]
    fn accounts_are_checked() {
        let mut a = sample_account("a");
        assert_eq!(a.validate(), Ok(()));
        a.method = AccountMethod::Promptpay;
        assert_eq!(a.validate(), Err(AccountError::PromptpayId));
        a.promptpay_id = "0812345678".into();
        assert_eq!(a.validate(), Ok(()));
        a.method = AccountMethod::Upi;
        assert_eq!(a.validate(), Err(AccountError::Vpa));
        a.vpa = "shop@okaxis".into();
        a.max_open = Some(0);
        assert_eq!(a.validate(), Err(AccountError::Limit));
        assert_eq!("PromptPay".parse(), Ok(AccountMethod::Promptpay));
        assert!("cash".parse::<AccountMethod>().is_err());
    }
}
