//! Who may run the gateway, decided once: the operators' roles and what each role may do, the
//! sign-in rules (an email's form, a password's length, when failures lock an account, when an
//! idle session ends) and what the audit log records. The server hashes passwords, checks TOTP
//! codes and stores sessions; it asks these functions what is allowed.

use std::fmt;
use std::str::FromStr;

use crate::Timestamp;

/// An operator's role (../shared/BRIEF.md, "Consoles and the admin API").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything.
    Admin,
    /// Money: refunds, suspense, manual confirmation, payouts, fees, the ledger.
    Finance,
    /// Orders and callbacks: read, resend.
    Support,
    /// Read only.
    Viewer,
    /// A merchant's user (invited by an operator): the merchant console, its own merchant's
    /// data only — never an operator permission.
    Merchant,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Finance,
        Role::Support,
        Role::Viewer,
        Role::Merchant,
    ];
    /// The roles of the gateway's own operators.
    pub const OPERATORS: [Role; 4] = [Role::Admin, Role::Finance, Role::Support, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Finance => "finance",
            Role::Support => "support",
            Role::Viewer => "viewer",
            Role::Merchant => "merchant",
        }
    }

    /// The roles that move money or change the gateway sign in with a TOTP code too; a
    /// merchant user does (its API keys move the merchant's money).
    pub fn needs_totp(self) -> bool {
        matches!(self, Role::Admin | Role::Finance | Role::Merchant)
    }

    /// Whether the role may do `action`: the one table of permissions.
    pub fn allows(self, action: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Finance => matches!(
                action,
                ReadOrders | ReadMoney | MoveMoney | ManageFees | ResendCallbacks | ReadSetup
            ),
            Role::Support => matches!(action, ReadOrders | ResendCallbacks | ReadSetup),
            Role::Viewer => matches!(action, ReadOrders | ReadMoney | ReadSetup),
            Role::Merchant => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = OperatorError;
    fn from_str(s: &str) -> Result<Role, OperatorError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| OperatorError::Role(s.trim().to_string()))
    }
}

/// What an operator may be allowed to do (`Role::allows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Orders, their history, upstream exchanges and callback attempts.
    ReadOrders,
    /// Balances, ledger entries, suspense, the payout queue.
    ReadMoney,
    /// Refunds, manual confirmation, suspense assignment, payout approval and settlement.
    MoveMoney,
    /// Fee schedules.
    ManageFees,
    /// Sending a callback again.
    ResendCallbacks,
    /// Merchants, channels, accounts, devices, blocklists and rules, as they are set up.
    ReadSetup,
    /// Changing merchants, keys, channels, accounts, devices, blocklists and rules.
    ManageSetup,
    /// Operators and the audit log.
    ManageOperators,
}

/// Why an operator's details are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    #[error("unknown role '{0}' (admin, finance, support, viewer or merchant)")]
    Role(String),
    #[error("'{0}' is not an email address")]
    Email(String),
    #[error("a password needs at least {MIN_PASSWORD} characters")]
    ShortPassword,
}

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
/// Failed sign-ins within [`FAILURE_WINDOW_MS`] that lock an account.
pub const MAX_FAILURES: usize = 5;
/// The window failed sign-ins are counted over: 15 minutes.
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// How long a locked account stays locked: 15 minutes.
pub const LOCKED_FOR_MS: i64 = 15 * 60 * 1000;
/// How far back failed sign-ins matter: a lock can be decided by failures this old.
pub const FAILURE_LOOKBACK_MS: i64 = FAILURE_WINDOW_MS + LOCKED_FOR_MS;
/// A session unused this long has ended: 30 minutes.
pub const IDLE_TIMEOUT_MS: i64 = 30 * 60 * 1000;
/// A session's last use is written at most this often (every request would be a write), so
/// an idle session ends between 29 and 30 minutes after its last use.
pub const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// An email address as an operator's name: trimmed, lower case, one `@` with text on both
/// sides, no spaces, control or invisible characters (two names that look alike are one).
pub fn normalize_email(email: &str) -> Result<String, OperatorError> {
    let e = email.trim().to_lowercase();
    let valid = matches!(e.split_once('@'), Some((local, domain))
        if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && crate::invisible::first_invisible(&e).is_none()
        && e.len() <= 254;
    if valid {
        Ok(e)
    } else {
        Err(OperatorError::Email(email.trim().to_string()))
    }
}

/// A password long enough to be set (counted in characters, not bytes).
pub fn check_password(password: &str) -> Result<(), OperatorError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(OperatorError::ShortPassword);
    }
    Ok(())
}

/// Until when an account is locked, given the times of its failed sign-ins (any order): from
/// the [`MAX_FAILURES`]th failure within [`FAILURE_WINDOW_MS`], for [`LOCKED_FOR_MS`]. `None`
/// when it is not locked at `now`.
pub fn locked_until(failures: &[Timestamp], now: Timestamp) -> Option<Timestamp> {
    let mut times: Vec<Timestamp> = failures.to_vec();
    times.sort_unstable();
    times
        .windows(MAX_FAILURES)
        .filter(|w| w[MAX_FAILURES - 1] - w[0] < FAILURE_WINDOW_MS)
        .map(|w| w[MAX_FAILURES - 1] + LOCKED_FOR_MS)
        .filter(|until| now < *until)
        .max()
}

/// Whether a sign-in attempt at `now` may check its password, given the email's failures
/// since `now - FAILURE_LOOKBACK_MS` **including this attempt's own** (recorded as a failure
/// before the check, so attempts made at once count against each other). `Err` is until when
/// the account is locked. The attempts before this one decide: the sixth within the window is
/// refused, as is any attempt while a lock is in force.
pub fn attempt_allowed(failures: &[Timestamp], now: Timestamp) -> Result<(), Timestamp> {
    let mut before: Vec<Timestamp> = failures.to_vec();
    // This attempt's own record (the last at `now`) is not one of its reasons.
    if let Some(own) = before.iter().rposition(|t| *t == now) {
        before.remove(own);
    }
    match locked_until(&before, now) {
        Some(until) => Err(until),
        None => Ok(()),
    }
}

/// Whether a session last used at `last_seen` has ended by `now` (idle too long).
pub fn session_ended(last_seen: Timestamp, now: Timestamp) -> bool {
    now - last_seen >= IDLE_TIMEOUT_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_has_its_permissions() {
        use Permission::*;
        let all = [
            ReadOrders,
            ReadMoney,
            MoveMoney,
            ManageFees,
            ResendCallbacks,
            ReadSetup,
            ManageSetup,
            ManageOperators,
        ];
        let allowed = |r: Role| all.into_iter().filter(|p| r.allows(*p)).collect::<Vec<_>>();
        assert_eq!(allowed(Role::Admin), all.to_vec());
        assert_eq!(
            allowed(Role::Finance),
            vec![
                ReadOrders,
                ReadMoney,
                MoveMoney,
                ManageFees,
                ResendCallbacks,
                ReadSetup
            ]
        );
        assert_eq!(
            allowed(Role::Support),
            vec![ReadOrders, ResendCallbacks, ReadSetup]
        );
        assert_eq!(
            allowed(Role::Viewer),
            vec![ReadOrders, ReadMoney, ReadSetup]
        );
        assert_eq!(
            allowed(Role::Merchant),
            vec![],
            "no operator permission at all"
        );
        assert!(Role::Admin.needs_totp() && Role::Finance.needs_totp());
        assert!(Role::Merchant.needs_totp());
        assert!(!Role::Support.needs_totp() && !Role::Viewer.needs_totp());
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!(
            "root".parse::<Role>(),
            Err(OperatorError::Role("root".into()))
        );
    }

    #[test]
    fn emails_and_passwords_are_checked() {
        assert_eq!(
            normalize_email("  Ops@Example.COM ").unwrap(),
            "ops@example.com"
        );
        for bad in [
            "",
            "ops",
            "@example.com",
            "ops@",
            "a b@example.com",
            "a@b@c",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert_eq!(check_password("short"), Err(OperatorError::ShortPassword));
        assert!(check_password("twelve chars").is_ok());
        // characters, not bytes
        assert!(check_password("ñññññññññññ").is_err());
    }

    #[test]
    fn five_failures_in_fifteen_minutes_lock_for_fifteen_minutes() {
        let min = 60 * 1000;
        let four: Vec<i64> = (0..4).map(|i| i * min).collect();
        assert_eq!(locked_until(&four, 5 * min), None);
        let five: Vec<i64> = (0..5).map(|i| i * min).collect();
        assert_eq!(locked_until(&five, 4 * min), Some(19 * min));
        assert_eq!(locked_until(&five, 19 * min - 1), Some(19 * min));
        assert_eq!(
            locked_until(&five, 19 * min),
            None,
            "unlocked after 15 minutes"
        );
        // Spread over more than 15 minutes: no lock.
        let spread: Vec<i64> = (0..5).map(|i| i * 4 * min).collect();
        assert_eq!(locked_until(&spread, 16 * min), None);
        // An attempt is judged by those before it: the sixth in the window is refused, the
        // fifth is checked.
        let with_own = |mut f: Vec<i64>, now: i64| {
            f.push(now);
            attempt_allowed(&f, now)
        };
        assert_eq!(with_own(four.clone(), 4 * min + 1), Ok(()));
        assert_eq!(with_own(five.clone(), 5 * min), Err(19 * min));
        // Failures at 0, 1, 2, 3 and 14 minutes lock until 29: still locked at 20, which a
        // look-back of only 15 minutes would miss.
        let late = vec![0, min, 2 * min, 3 * min, 14 * min];
        assert_eq!(with_own(late, 20 * min), Err(29 * min));
        assert!(FAILURE_LOOKBACK_MS >= 29 * min);
        assert!(!session_ended(0, 30 * min - 1));
        assert!(session_ended(0, 30 * min));
    }
}
