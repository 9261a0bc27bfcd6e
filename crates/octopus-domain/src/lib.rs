//! The Octopus domain: what an order is, how money is represented, which status changes are
//! legal, how a merchant request is validated and how it is signed.
//!
//! Nothing in this crate performs I/O (no clock, no network, no database): every other crate
//! builds on these types, and tests can exercise the rules without starting anything.

pub mod account;
pub mod callback;
pub mod channel;
pub mod country;
pub mod decision;
pub mod device;
pub mod fields;
pub mod ids;
pub mod invisible;
pub mod language;
pub mod ledger;
pub mod merchant;
pub mod money;
pub mod operator;
pub mod order;
pub mod payee;
pub mod promptpay;
pub mod request;
pub mod risk;
pub mod routing;
pub mod secret_box;
pub mod signing;
pub mod thai_bank;
pub mod transfer;
pub mod upi;

pub use channel::Channel;
pub use fields::{FieldError, RequestFields};
pub use merchant::{ApiCredential, KeyPolicy, Merchant, Mode};
pub use money::{Amount, AmountError, Currency};
pub use order::{
    AccountingStatus, AccountingType, IllegalTransition, NotifyStatus, Order, OrderEvent,
    PaymentStatus, StatusChange, TransactionType,
};
pub use payee::{PayeeError, PayeeMethod};
pub use request::{OrderRequest, ResponseType, ValidationError};
pub use thai_bank::{ThaiBank, UnknownThaiBank};

/// Milliseconds since the Unix epoch. The domain never reads the clock; callers pass times in.
pub type Timestamp = i64;
