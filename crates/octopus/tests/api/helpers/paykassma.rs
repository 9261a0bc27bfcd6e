//! A Paykassma simulator for a test app: served on port 0, posting back to the app's postback
//! URL of the channel, and a `paykassma` channel of the app pointing at it.

use std::time::Duration;

use octopus_paykassma_sim::{Sim, SimConfig};

use super::TestApp;

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
        channel.sealed_credentials = octopus_server::channels::seal_credentials(&app.master_key, &config.channel_credentials());
        let sim = Sim::new(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(octopus_paykassma_sim::serve(listener, sim.clone()));
        channel.settings = [("api_url".to_string(), url.clone()), ("timeout_ms".to_string(), "700".to_string())].into_iter().collect();
        app.save_channels(vec![channel]).await;
        PkSim { sim }
    }

    /// The simulator's state (JSON).
    pub fn state(&self) -> serde_json::Value {
        self.sim.state()
    }
}
