//! The routing decision of an order, as `distribute_rules` records it: which rule chose which
//! channel, the candidates in the order they are tried, the failovers and why every other
//! channel did not take the order. The server decides it; storage writes it as JSON.

use std::collections::BTreeMap;

use serde::Serialize;

/// What `distribute_rules` records for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutingDecision {
    /// The rule that decided (`channels`: the configured channels, by priority and weight).
    pub rule: &'static str,
    /// The channel the merchant asked for ("" when none).
    pub requested_channel: String,
    /// The channels that take the order, in the order they are tried.
    pub candidates: Vec<String>,
    pub chosen: String,
    /// Channels tried before the chosen one, and why they failed.
    pub failovers: Vec<Failover>,
    /// Why each other channel did not take it.
    pub skipped: BTreeMap<String, String>,
    /// For a channel of the operator's own accounts: which account took the order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountDecision>,
}

/// Which of a channel's own accounts took an order, among which, and why the others did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountDecision {
    /// The accounts that fit, least loaded first (the order they were tried in).
    pub candidates: Vec<String>,
    pub chosen: String,
    /// Account id → why it did not take the order.
    pub skipped: BTreeMap<String, String>,
}

/// A channel tried before the chosen one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failover {
    pub channel: String,
    pub reason: String,
}

impl RoutingDecision {
    /// The decision as the JSON object stored in `distribute_rules`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a routing decision serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_names_every_part_of_the_decision() {
        let decision = RoutingDecision {
            rule: "channels",
            requested_channel: String::new(),
            candidates: vec!["a".into(), "b".into()],
            chosen: "b".into(),
            failovers: vec![Failover {
                channel: "a".into(),
                reason: "refused".into(),
            }],
            skipped: [("c".to_string(), "currency".to_string())]
                .into_iter()
                .collect(),
            account: None,
        };
        assert_eq!(
            decision.to_json(),
            r#"{"rule":"channels","requested_channel":"","candidates":["a","b"],"chosen":"b","failovers":[{"channel":"a","reason":"refused"}],"skipped":{"c":"currency"}}"#
        );
    }
}
