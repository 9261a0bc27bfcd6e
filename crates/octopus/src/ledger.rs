//! `octopus ledger verify`: proves every balance from the journal. Recomputes each account
//! from its postings, checks that every entry balances, that cached balances match, that no
//! merchant balance is negative and that every order has exactly the entries its status calls
//! for; prints a summary and exits non-zero on any violation.

use crate::cli::{LedgerArgs, LedgerCommand};

pub async fn run(args: LedgerArgs) -> anyhow::Result<()> {
    match args.command {
        LedgerCommand::Verify { database } => {
            let storage = crate::serve::open_storage(&database).await?;
            let report = storage.verify_ledger().await?;
            println!(
                "ledger of {}: {} entries, {} postings, {} accounts, {} orders",
                database.describe(),
                report.entries,
                report.postings,
                report.accounts,
                report.orders
            );
            for (account, balance) in &report.balances {
                println!(
                    "  {:<40} {}",
                    account.key(),
                    octopus_domain::money::format_places(*balance, 6)
                );
            }
            if report.is_sound() {
                println!(
                    "OK: every entry balances, every cached balance matches its postings, no merchant \
                     balance is negative, every order has exactly the entries its status calls for"
                );
                Ok(())
            } else {
                for v in &report.violations {
                    println!("VIOLATION: {v}");
                }
                anyhow::bail!("the ledger has {} violation(s)", report.violations.len())
            }
        }
    }
}
