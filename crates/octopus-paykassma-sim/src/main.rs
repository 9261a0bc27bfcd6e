//! `octopus-paykassma-sim`: the Paykassma simulator as a process (see the library for what it
//! does). Example:
//!
//!   octopus-paykassma-sim --listen 127.0.0.1:9400 \
//!       --postback-url http://127.0.0.1:8080/octopus/postback/pk-mm

use std::time::Duration;

use clap::Parser;
use octopus_paykassma_sim::{Sim, SimConfig};

#[derive(Parser)]
#[command(version, about = "A Paykassma API simulator with fault injection")]
struct Args {
    #[arg(long, env = "PKSIM_LISTEN", default_value = "127.0.0.1:9400")]
    listen: String,
    /// The gateway's postback URL of the channel.
    #[arg(long, env = "PKSIM_POSTBACK_URL")]
    postback_url: String,
    #[arg(long, env = "PKSIM_PLUGIN_SECRET", default_value = "plugin-secret")]
    plugin_secret: String,
    #[arg(
        long,
        env = "PKSIM_POSTBACK_ACCESS_KEY",
        default_value = "FQ9jMwrNSkFbyMNqYFf6Ed4xeKmjHK"
    )]
    postback_access_key: String,
    #[arg(
        long,
        env = "PKSIM_POSTBACK_PRIVATE_KEY",
        default_value = "postback-private-key"
    )]
    postback_private_key: String,
    #[arg(
        long,
        env = "PKSIM_WITHDRAWAL_KEY",
        default_value = "withdrawal-private-key"
    )]
    withdrawal_key: String,
    /// sha1-concat or hmac-sha256.
    #[arg(long, default_value = "sha1-concat")]
    withdrawal_signature: String,
    /// Seconds between repeats of an unacknowledged postback.
    #[arg(long, default_value_t = 5.0)]
    postback_retry: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = SimConfig {
        plugin_secret: args.plugin_secret,
        postback_access_key: args.postback_access_key,
        postback_private_key: args.postback_private_key,
        withdrawal_key: args.withdrawal_key,
        withdrawal_signature: args.withdrawal_signature,
        postback_url: args.postback_url,
        postback_retry: Duration::from_secs_f64(args.postback_retry.max(0.05)),
        ..SimConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!("Paykassma simulator on http://{}", listener.local_addr()?);
    octopus_paykassma_sim::serve(listener, Sim::new(config)).await?;
    Ok(())
}
