//! Channels as storage keeps them: the operator's configured routes to upstream providers.
//! Every node reads them, and the volume routed to each, to route orders ([`ChannelStore`]);
//! the operator's tools change them ([`ChannelSetup`]). Both backends store a channel as one
//! [`ChannelRow`](crate::ChannelRow).

use async_trait::async_trait;
use octopus_domain::{Channel, Timestamp};
use rust_decimal::Decimal;

use crate::Result;

/// What routing reads: the channels and what each took today.
#[async_trait]
pub trait ChannelStore: Send + Sync + 'static {
    /// Every channel, by priority then code.
    async fn channels(&self) -> Result<Vec<Channel>>;

    /// The sum of the amounts of a channel's orders created since `since` that did not fail
    /// or get rejected (its volume, for a daily limit).
    async fn channel_volume(&self, channel: &str, since: Timestamp) -> Result<Decimal>;
}

/// How the operator sets channels up.
#[async_trait]
pub trait ChannelSetup: Send + Sync + 'static {
    /// Adds a channel, or replaces the one with its code (keeping when it was created).
    async fn save_channel(&self, channel: Channel) -> Result<Channel>;

    /// Enables or disables a channel (`NotFound` when there is none with this code).
    async fn set_channel_enabled(
        &self,
        code: &str,
        enabled: bool,
        at: Timestamp,
    ) -> Result<Channel>;
}
