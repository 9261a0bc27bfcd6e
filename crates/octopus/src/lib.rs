//! What the `octopus` binary shares with its integration tests: how a storage backend is
//! opened ([`backend`]), so the tests open their databases exactly as the binary does.

pub mod backend;
