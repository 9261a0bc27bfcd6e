//! A Paykassma simulator for a test app: served on port 0, posting back to the app's postback
//! URL of the channel, and a `paykassma` channel of the app pointing at it.

use std::time::Duration;

use octopus_paykassma_sim::{Sim, SimConfig};

use super::TestApp;

/// A simulator for gateway processes on `db` (not an in-process app): served on port 0 with
/// `config` (its postback URL naming the node, or the balancer in front of the nodes), and
/// the channel `code` (Myanmar, mmk) pointing at it added with the real CLI, with `more`
/// arguments of `octopus channel add` (`--setting name=value`, `--priority N`, ...).
pub async fn start_for_processes(
    db: &super::TestDb,
    code: &str,
    config: SimConfig,
    more: &[&str],
) -> Sim {
    let credentials = serde_json::to_string(&config.channel_credentials()).unwrap();
    let sim = Sim::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(octopus_paykassma_sim::serve(listener, sim.clone()));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), credentials).unwrap();
    let api_url = format!("api_url={sim_url}");
    let mut args = vec![
        "channel",
        "add",
        code,
        "--kind",
        "paykassma",
        "--countries",
        "MM",
        "--currencies",
        "mmk",
        "--setting",
        &api_url,
        "--credentials-file",
        file.path().to_str().unwrap(),
    ];
    args.extend(more);
    super::accounts::octopus_on(db, None, &args);
    sim
}

pub struct PkSim {
    pub sim: Sim,
}

impl PkSim {
    /// Starts a simulator and adds the channel `code` (Myanmar, mmk, wavepay) at `priority`.
    pub async fn start(app: &TestApp, code: &str, priority: i32) -> PkSim {
        let config = SimConfig {
            postback_url: format!("{}/octopus/postback/{code}", app.base_url),
            postback_retry: Duration::from_millis(100),
            timeout_sleep: Duration::from_secs(3),
            ..SimConfig::default()
        };
        let mut channel = super::channel(code, "paykassma");
        channel.priority = priority;
        channel.countries = vec!["MM".into()];
        channel.currencies = vec![octopus_domain::Currency::parse("mmk").unwrap()];
        channel.payments = vec!["wavepay".into()];
        channel.sealed_credentials = octopus_server::services::routing::seal_credentials(
            &app.master_key,
            &config.channel_credentials(),
        );
        let sim = Sim::new(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(octopus_paykassma_sim::serve(listener, sim.clone()));
        channel.settings = [
            ("api_url".to_string(), url.clone()),
            ("timeout_ms".to_string(), "700".to_string()),
        ]
        .into_iter()
        .collect();
        app.save_channels(vec![channel]).await;
        PkSim { sim }
    }

    /// The simulator's state (JSON).
    pub fn state(&self) -> serde_json::Value {
        self.sim.state()
    }

    /// Posts a postback of the test's own making to the app's channel `code`, validly signed:
    /// `transactions` are the raw JSON texts of its transactions (so an amount goes exactly as
    /// written), `direction` is left out when `None`. Returns the HTTP status and the body.
    pub async fn post_postback(
        &self,
        app: &TestApp,
        code: &str,
        direction: Option<&str>,
        transactions: &[String],
    ) -> (u16, String) {
        let answer = self
            .postback_request(app, code, direction, transactions)
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    /// The request [`PkSim::post_postback`] sends, to send later or read every header of.
    pub fn postback_request(
        &self,
        app: &TestApp,
        code: &str,
        direction: Option<&str>,
        transactions: &[String],
    ) -> reqwest::RequestBuilder {
        let additional_data = format!("[{}]", transactions.join(","));
        let direction = direction
            .map(|d| format!(r#""direction":"{d}","#))
            .unwrap_or_default();
        let body = format!(
            r#"{{"wallet_type":"wavepay","amount":6000,"currency_code":"MMK","label":"x",{direction}"created_datetime":"2026-11-21 10:00:00","access_key":"{}","signature":"{}","additional_data":{additional_data}}}"#,
            self.sim.postback_access_key(),
            self.sim.postback_signature(&additional_data),
        );
        super::http()
            .post(format!("{}/octopus/postback/{code}", app.base_url))
            .header("Content-Type", "application/json")
            .body(body)
    }
}

/// A deposit transaction as Paykassma lists it in a postback (its fields as in the provider's
/// document), for `order_uid` (`null` when empty), with `amount` as raw JSON text.
pub fn deposit_transaction(transaction_id: &str, order_uid: &str, amount: &str) -> String {
    let order = if order_uid.is_empty() {
        "null".to_string()
    } else {
        format!("\"{order_uid}\"")
    };
    format!(
        r#"{{"activated_datetime":"2026-11-21 10:00:00","exchanger_identifier":null,"comment":"","amount":{amount},"currency_code":"MMK","wallet_type":"wavepay","stockpiling_id":963,"transaction_id":"{transaction_id}","transaction_type":1,"plugin_custom_order_id":{order},"withdrawal_id":null,"withdrawal_status":null,"account_number":"","account_name":"","account_email":"","bank_details":{{"bank_code":"","branch_code":""}}}}"#
    )
}

/// A withdrawal transaction as Paykassma lists it in a postback: `status` 1 success, 5 fail.
pub fn withdrawal_transaction(withdrawal_id: &str, amount: &str, status: u8) -> String {
    format!(
        r#"{{"activated_datetime":"","exchanger_identifier":"","comment":"","amount":"{amount}","currency_code":"MMK","wallet_type":"wavepay","stockpiling_id":null,"transaction_id":"","transaction_type":null,"plugin_custom_order_id":"","withdrawal_id":"{withdrawal_id}","withdrawal_status":{status},"account_number":"01642234663","account_name":"","account_email":"","bank_details":{{"bank_code":null,"branch_code":null}}}}"#
    )
}
