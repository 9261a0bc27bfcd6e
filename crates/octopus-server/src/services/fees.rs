//! Fee schedules as order creation reads them: a merchant's schedules are cached for a couple
//! of seconds (`ServerConfig::cache_fresh_for`; a fee changed with the CLI applies to orders
//! created from then on, without a database read per order). Which schedule applies is the
//! domain's rule (`ledger::fee_rule_for`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use octopus_domain::ledger::{self, FeeRule, FeeSchedule};
use octopus_domain::AccountingType;
use octopus_storage::FeeSchedules;

use crate::error::Error;

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
