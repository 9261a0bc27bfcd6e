//! Fee schedules as order creation reads them: a merchant's schedules are cached for a couple
//! of seconds (`ServerConfig::cache_fresh_for`; a fee changed with the CLI applies to orders
//! created from then on, without a database read per order). Which schedule applies is the
//! domain's rule (`ledger::fee_rule_for`).
//!
//! The operator sets schedules with [`set_by`] (the CLI's `fee set` and the admin API):
//! the operator's words read into a checked `FeeSchedule` once ([`parse_schedule`]), the
//! change audited with the schedule of that scope before and after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use octopus_domain::ledger::{self, FeeRule, FeeSchedule};
use octopus_domain::{AccountingType, Timestamp};
use octopus_storage::{FeeSchedules, Merchants, Operators};
use serde_json::{json, Value};

use crate::error::Error;
use crate::services::operators::Actor;
use crate::services::setup::{self, invalid, SetupError};

/// A merchant's fee schedules, with when they were read.
type Cached = (Instant, Arc<Vec<FeeSchedule>>);

pub struct FeeBook {
    storage: Arc<dyn FeeSchedules>,
    cached: Mutex<HashMap<i64, Cached>>,
    /// How long a merchant's schedules are used before they are read again.
    fresh_for: Duration,
}

impl FeeBook {
    pub fn new(storage: Arc<dyn FeeSchedules>, fresh_for: Duration) -> Self {
        FeeBook {
            storage,
            cached: Mutex::new(HashMap::new()),
            fresh_for,
        }
    }

    /// The fee rule of a new order.
    pub async fn rule_for(
        &self,
        merchant_id: i64,
        payment: &str,
        accounting_type: AccountingType,
    ) -> Result<FeeRule, Error> {
        let schedules = self.schedules(merchant_id).await?;
        Ok(ledger::fee_rule_for(&schedules, payment, accounting_type))
    }

    async fn schedules(&self, merchant_id: i64) -> Result<Arc<Vec<FeeSchedule>>, Error> {
        if let Some((at, schedules)) = self
            .cached
            .lock()
            .expect("fee cache lock")
            .get(&merchant_id)
        {
            if at.elapsed() < self.fresh_for {
                return Ok(Arc::clone(schedules));
            }
        }
        let schedules = Arc::new(self.storage.fee_rules(merchant_id).await?);
        self.cached
            .lock()
            .expect("fee cache lock")
            .insert(merchant_id, (Instant::now(), Arc::clone(&schedules)));
        Ok(schedules)
    }
}

/// A fee schedule as the operator writes it: a payment method or `*`, an accounting type or
/// `*`, the percent of the amount plus a fixed part, kept between a minimum and an optional
/// maximum (decimals as text, in the order's currency).
#[derive(Debug, Clone)]
pub struct FeeInput {
    pub payment: String,
    pub accounting_type: String,
    pub percent: String,
    pub fixed: String,
    pub min: String,
    pub max: Option<String>,
}

impl Default for FeeInput {
    fn default() -> Self {
        FeeInput {
            payment: "*".into(),
            accounting_type: "*".into(),
            percent: "0".into(),
            fixed: "0".into(),
            min: "0".into(),
            max: None,
        }
    }
}

/// The schedule `input` describes, checked (`FeeRule::new`, `FeeSchedule::parse`).
pub fn parse_schedule(input: &FeeInput) -> Result<FeeSchedule, SetupError> {
    let rule = FeeRule::new(
        setup::decimal("percent", &input.percent)?,
        setup::decimal("fixed", &input.fixed)?,
        setup::decimal("min", &input.min)?,
        setup::optional_decimal("max", input.max.as_deref())?,
    )
    .map_err(|e| SetupError::Invalid(e.0))?;
    setup::plain("payment", &input.payment)?;
    let payment = ledger::Scope::payment(&input.payment).map_err(|e| invalid("payment", e.0))?;
    let accounting_type = ledger::Scope::accounting_type(input.accounting_type.trim())
        .map_err(|e| invalid("accounting_type", e.0))?;
    Ok(FeeSchedule {
        payment,
        accounting_type,
        rule,
    })
}

/// A schedule as the CLI prints it and the admin API answers it.
pub fn schedule_view(merchant_uid: &str, schedule: &FeeSchedule) -> Value {
    let rule = &schedule.rule;
    json!({
        "merchant_uid": merchant_uid,
        "payment": schedule.payment.as_stored(),
        "accounting_type": schedule.accounting_type.as_stored(),
        "percent": rule.percent.normalize().to_string(),
        "fixed": rule.fixed.normalize().to_string(),
        "min": rule.minimum.normalize().to_string(),
        "max": rule.maximum.map(|m| m.normalize().to_string()),
    })
}

/// The merchant `uid`'s schedules.
pub async fn schedules<S: Merchants + FeeSchedules + ?Sized>(
    storage: &S,
    uid: &str,
) -> Result<Vec<Value>, SetupError> {
    let m = setup::merchant(storage, uid).await?;
    Ok(storage
        .fee_rules(m.id)
        .await?
        .iter()
        .map(|s| schedule_view(&m.uid, s))
        .collect())
}

/// Sets (replaces) the merchant `uid`'s schedule of `input`'s scope; audited as `fee.set`
/// with the schedule of that scope before (none: null) and after.
pub async fn set_by<S>(
    storage: &S,
    actor: &Actor,
    uid: &str,
    input: &FeeInput,
    now: Timestamp,
) -> Result<Value, SetupError>
where
    S: Merchants + FeeSchedules + Operators + ?Sized,
{
    let schedule = parse_schedule(input)?;
    let m = setup::merchant(storage, uid).await?;
    let before = storage
        .fee_rules(m.id)
        .await?
        .into_iter()
        .find(|s| s.payment == schedule.payment && s.accounting_type == schedule.accounting_type)
        .map_or(Value::Null, |s| schedule_view(&m.uid, &s));
    storage.set_fee_rule(m.id, &schedule, now).await?;
    let after = schedule_view(&m.uid, &schedule);
    let target = format!(
        "{} {}/{}",
        m.uid,
        schedule.payment.as_stored(),
        schedule.accounting_type.as_stored()
    );
    setup::audit(storage, actor, "fee.set", &target, &before, &after, now).await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_is_read_once_and_a_bad_one_names_what_is_wrong() {
        let input = FeeInput {
            payment: "WavePay".into(),
            accounting_type: "receive".into(),
            percent: "1.5".into(),
            fixed: "0.50".into(),
            max: Some("10".into()),
            ..FeeInput::default()
        };
        let schedule = parse_schedule(&input).unwrap();
        assert_eq!(
            schedule_view("M1", &schedule),
            json!({"merchant_uid": "M1", "payment": "wavepay", "accounting_type": "receive",
                "percent": "1.5", "fixed": "0.5", "min": "0", "max": "10"})
        );
        let refusal = |input: FeeInput| match parse_schedule(&input) {
            Err(SetupError::Invalid(details)) => details,
            other => panic!("{other:?}"),
        };
        let percent = |p: &str| FeeInput {
            percent: p.into(),
            ..FeeInput::default()
        };
        assert_eq!(refusal(percent("-1")), "percent must not be negative");
        assert!(refusal(percent("1e3")).starts_with("percent:"));
        assert!(refusal(FeeInput {
            accounting_type: "gift".into(),
            ..FeeInput::default()
        })
        .starts_with("accounting_type:"));
        assert!(refusal(FeeInput {
            max: Some("x".into()),
            ..FeeInput::default()
        })
        .starts_with("max:"));
    }
}
