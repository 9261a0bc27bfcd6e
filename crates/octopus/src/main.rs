//! The `octopus` binary: `serve` runs the gateway; `merchant`, `fee`, `ledger`, `callback`, `order` and
//! `bench` are the operator's and the merchant developer's tools around it.

mod accounts;
mod backup;
mod bench;
mod callback;
mod channel;
mod cli;
mod fee;
mod ledger;
mod merchant;
mod operator;
mod order;
mod risk;
mod serve;

use clap::Parser;

/// mimalloc: the gateway allocates many small, short-lived buffers per request; glibc's
/// allocator cost about a fifth of the CPU of order creation (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use cli::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Backup(args) => backup::run(args),
        Command::Merchant(args) => merchant::run(args).await,
        Command::Order(args) => order::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Fee(args) => fee::run(args).await,
        Command::Ledger(args) => ledger::run(args).await,
        Command::Callback(args) => callback::run(args).await,
        Command::Channel(args) => channel::run(args).await,
        Command::Account(args) => accounts::run_account(args).await,
        Command::Device(args) => accounts::run_device(args).await,
        Command::Suspense(args) => accounts::run_suspense(args).await,
        Command::Payout(args) => accounts::run_payout(args).await,
        Command::Key(args) => risk::run_key(args).await,
        Command::Blocklist(args) => risk::run_blocklist(args).await,
        Command::Velocity(args) => risk::run_velocity(args).await,
        Command::Review(args) => risk::run_review(args).await,
        Command::Operator(args) => operator::run(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
