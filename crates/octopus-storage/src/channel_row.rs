//! A channel as both backends store it: one row of plain columns (comma lists, decimal text,
//! settings as JSON). Converting here keeps the two backends from each writing the mapping;
//! the SQL that reads and writes the row is each backend's own, and `rows::channel` reads it
//! back.

use octopus_domain::channel::join_list;
use octopus_domain::Channel;

#[derive(Debug, Clone)]
pub struct ChannelRow {
    pub code: String,
    pub kind: String,
    pub enabled: bool,
    pub merchants: String,
    pub transaction_types: String,
    pub countries: String,
    pub currencies: String,
    pub payments: String,
    pub min_amount: Option<String>,
    pub max_amount: Option<String>,
    pub default_ttl: Option<i64>,
    pub priority: i32,
    pub weight: i32,
    pub daily_limit: Option<String>,
    pub settings: String,
    pub credentials: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ChannelRow {
    pub fn from_channel(c: &Channel) -> ChannelRow {
        ChannelRow {
            code: c.code.clone(),
            kind: c.kind.clone(),
            enabled: c.enabled,
            merchants: join_list(&c.merchants),
            transaction_types: join_list(
                &c.transaction_types
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>(),
            ),
            countries: join_list(&c.countries),
            currencies: join_list(&c.currencies.iter().map(|c| c.code()).collect::<Vec<_>>()),
            payments: join_list(&c.payments),
            min_amount: c.min_amount.map(|d| d.to_string()),
            max_amount: c.max_amount.map(|d| d.to_string()),
            default_ttl: c.default_ttl,
            priority: c.priority,
            weight: c.weight.min(i32::MAX as u32) as i32,
            daily_limit: c.daily_limit.map(|d| d.to_string()),
            settings: serde_json::to_string(&c.settings).expect("a map of strings serializes"),
            credentials: c.sealed_credentials.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}
