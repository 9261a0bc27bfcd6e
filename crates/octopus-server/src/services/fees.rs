//! Fee schedules as order creation reads them: a merchant's schedules are cached for a couple
//! of seconds (a fee changed with the CLI applies to orders created from then on, without a
//! database read per order). The most specific schedule wins: payment method and accounting
//! type, then payment method with any type, then any method with the type, then any; without
//! one the fee is zero.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use octopus_domain::ledger::FeeRule;
use octopus_domain::AccountingType;
use octopus_storage::{FeeSchedule, FeeSchedules};

use crate::error::Error;

/// How long a merchant's schedules are used before they are read again.
const FRESH_FOR: Duration = Duration::from_secs(2);
/// Stands for "any payment method" or "any accounting type" in a schedule.
pub const ANY: &str = "*";

/// A merchant's fee schedules, with when they were read.
type Cached = (Instant, Arc<Vec<FeeSchedule>>);

pub struct FeeBook {
    storage: Arc<dyn FeeSchedules>,
    cached: Mutex<HashMap<i64, Cached>>,
}

impl FeeBook {
    pub fn new(storage: Arc<dyn FeeSchedules>) -> Self {
        FeeBook {
            storage,
            cached: Mutex::new(HashMap::new()),
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
        Ok(pick(&schedules, payment, accounting_type.as_str()))
    }

    async fn schedules(&self, merchant_id: i64) -> Result<Arc<Vec<FeeSchedule>>, Error> {
        if let Some((at, schedules)) = self
            .cached
            .lock()
            .expect("fee cache lock")
            .get(&merchant_id)
        {
            if at.elapsed() < FRESH_FOR {
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

/// The most specific schedule for a payment method and accounting type.
pub fn pick(schedules: &[FeeSchedule], payment: &str, accounting_type: &str) -> FeeRule {
    let candidates = [
        (payment, accounting_type),
        (payment, ANY),
        (ANY, accounting_type),
        (ANY, ANY),
    ];
    candidates
        .iter()
        .find_map(|(p, a)| {
            schedules
                .iter()
                .find(|s| s.payment.eq_ignore_ascii_case(p) && s.accounting_type == *a)
        })
        .map(|s| s.rule.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn schedule(payment: &str, accounting_type: &str, percent: i64) -> FeeSchedule {
        FeeSchedule {
            payment: payment.into(),
            accounting_type: accounting_type.into(),
            rule: FeeRule {
                percent: Decimal::new(percent, 0),
                ..FeeRule::default()
            },
        }
    }

    #[test]
    fn the_most_specific_schedule_wins() {
        let all = vec![
            schedule("*", "*", 1),
            schedule("*", "pay", 2),
            schedule("wavepay", "*", 3),
            schedule("wavepay", "receive", 4),
        ];
        assert_eq!(pick(&all, "wavepay", "receive").percent, Decimal::new(4, 0));
        assert_eq!(
            pick(&all, "WavePay", "recharge").percent,
            Decimal::new(3, 0)
        );
        assert_eq!(pick(&all, "kbz", "pay").percent, Decimal::new(2, 0));
        assert_eq!(pick(&all, "kbz", "settle").percent, Decimal::new(1, 0));
        assert_eq!(pick(&[], "kbz", "settle"), FeeRule::default());
    }
}
