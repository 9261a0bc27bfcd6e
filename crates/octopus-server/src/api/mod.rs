//! What merchants and upstream providers call: the merchant API (signed JSON at
//! `/octopus/api/...`, with the API key ring that authenticates it and the shapes an order is
//! answered in) and the providers' postbacks (`/octopus/postback/{channel}`).
//!
//! Handlers here read the request, call the order services (`crate::services`) and answer;
//! they hold no order logic of their own. They may depend on the services, the shared state,
//! the HTTP layer (`crate::http`) and the top-level modules, never on the pages or workers.

pub(crate) mod device;
pub mod keys;
pub(crate) mod merchant;
pub(crate) mod postbacks;
pub(crate) mod views;
