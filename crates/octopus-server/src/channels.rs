//! Channels and routing. A channel is one configured route to an upstream (a connector plus
//! its settings). Until operator-managed channels arrive, the gateway has one built-in
//! channel, `sandbox`. Every routing decision is recorded as JSON in the order's
//! `distribute_rules`.

use std::sync::Arc;
use std::time::Duration;

use octopus_connectors::{Connector, SandboxConnector};
use octopus_domain::OrderRequest;
use serde::Serialize;

use crate::error::Error;

/// The code of the built-in sandbox channel.
pub const SANDBOX: &str = "sandbox";

pub struct Channel {
    pub code: String,
    pub connector: Arc<dyn Connector>,
}

/// What `distribute_rules` records.
#[derive(Serialize)]
struct Decision<'a> {
    rule: &'static str,
    requested_channel: &'a str,
    candidates: Vec<&'a str>,
    chosen: &'a str,
    failovers: Vec<&'a str>,
}

/// The routing decision for one order.
pub struct Route<'a> {
    pub channel: &'a Channel,
    /// JSON recorded in `distribute_rules`.
    pub decision: String,
}

pub struct Channels {
    channels: Vec<Channel>,
}

impl Channels {
    /// The built-in set: the sandbox channel only.
    pub fn sandbox_only(payout_delay: Duration) -> Self {
        Channels {
            channels: vec![Channel {
                code: SANDBOX.to_string(),
                connector: Arc::new(SandboxConnector::new(payout_delay)),
            }],
        }
    }

    pub fn get(&self, code: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.code == code)
    }

    /// Chooses the channel of a new order.
    pub fn route(&self, request: &OrderRequest) -> Result<Route<'_>, Error> {
        let candidates: Vec<&Channel> = self.channels.iter().collect();
        let chosen = candidates
            .first()
            .ok_or_else(|| Error::Refused("No channel available".into()))?;
        let decision = Decision {
            rule: "default",
            requested_channel: &request.channel,
            candidates: candidates.iter().map(|c| c.code.as_str()).collect(),
            chosen: &chosen.code,
            failovers: Vec::new(),
        };
        let decision = serde_json::to_string(&decision).expect("a routing decision serializes");
        Ok(Route { channel: chosen, decision })
    }
}
