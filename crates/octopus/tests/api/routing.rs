//! Routing orders to channels, on both backends: channels are configured in the database and
//! picked up by a running server; an order goes to a channel that takes it (type, country,
//! currency, payment code, amount range), the lowest priority first and by weight among
//! equals; the decision is recorded in `distribute_rules`; with no channel that takes it the
//! merchant gets 422 naming what did not match, and nothing is stored.

use std::collections::BTreeMap;

use octopus_client::NewOrder;
use octopus_domain::Currency;
use rust_decimal::Decimal;

use crate::helpers::{channel, spawn_app, Backend};

fn rules(json: &str) -> serde_json::Value {
    serde_json::from_str(json).expect("distribute_rules is JSON")
}

async fn orders_go_to_the_sandbox_channel_a_gateway_starts_with(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let created = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "r-1",
            "10.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    assert_eq!(created.payment.channel, "sandbox");
    let order = app.client.get_order("r-1").await.unwrap();
    let decision = rules(&order.distribute_rules);
    assert_eq!(decision["chosen"], "sandbox");
    assert_eq!(decision["candidates"], serde_json::json!(["sandbox"]));
}

async fn no_channel_that_takes_the_order_is_a_422_naming_why_and_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let mut mm = channel("mm-wave", "sandbox");
    mm.countries = vec!["MM".into()];
    mm.currencies = vec![Currency::parse("mmk").unwrap()];
    mm.payments = vec!["wavepay".into()];
    mm.max_amount = Some(Decimal::new(1_000_000, 0));
    app.save_channels(vec![mm]).await;
    app.set_channel_enabled("sandbox", false).await;

    let ok = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "r-mm",
            "6000.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    assert_eq!(ok.payment.channel, "mm-wave");
    let decision = rules(&app.client.get_order("r-mm").await.unwrap().distribute_rules);
    assert_eq!(decision["skipped"]["sandbox"], "disabled");

    for (id, amount, currency, payment, country, why) in [
        (
            "r-thb",
            "100.00",
            "thb",
            "wavepay",
            "myanmar",
            "mm-wave: currency thb not served",
        ),
        (
            "r-kbz",
            "100.00",
            "mmk",
            "kbzpay",
            "myanmar",
            "mm-wave: payment kbzpay not served",
        ),
        (
            "r-th",
            "100.00",
            "mmk",
            "wavepay",
            "thailand",
            "mm-wave: country TH not served",
        ),
        (
            "r-big",
            "1000000.01",
            "mmk",
            "wavepay",
            "myanmar",
            "mm-wave: amount above 1000000",
        ),
    ] {
        let order = NewOrder::deposit(&m.merchant_uid, id, amount, currency, payment, country);
        let answer = app
            .client
            .post_signed("/octopus/api/order/new", &order.to_fields())
            .await
            .unwrap();
        let (status, body) = (answer.status, answer.body);
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["result"], "error");
        let text = body["data"].as_str().unwrap();
        assert!(text.starts_with("No channel available ("), "{text}");
        assert!(
            text.contains(why) && text.contains("sandbox: disabled"),
            "{text}"
        );
        assert!(
            app.client.get_order(id).await.is_err(),
            "nothing stored for {id}"
        );
    }
}

async fn priorities_come_first_and_weights_split_the_rest(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let mut heavy = channel("heavy", "sandbox");
    heavy.weight = 70;
    let mut light = channel("light", "sandbox");
    light.weight = 30;
    let mut backup = channel("backup", "sandbox");
    backup.priority = 500;
    app.save_channels(vec![heavy, light, backup]).await;
    app.set_channel_enabled("sandbox", false).await;

    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for i in 0..1000 {
        let created = app
            .client
            .create_order(&NewOrder::deposit(
                &m.merchant_uid,
                &format!("w-{i}"),
                "10.00",
                "mmk",
                "wavepay",
                "myanmar",
            ))
            .await
            .unwrap();
        *counts.entry(created.payment.channel).or_default() += 1;
    }
    // 70% of 1,000 has a standard deviation of about 14.5: ±60 is beyond four of them.
    assert!((640..=760).contains(&counts["heavy"]), "{counts:?}");
    assert_eq!(
        counts.get("backup"),
        None,
        "a lower priority only when the others cannot"
    );
    assert_eq!(counts["heavy"] + counts["light"], 1000);
    let decision = rules(&app.client.get_order("w-0").await.unwrap().distribute_rules);
    assert_eq!(
        decision["candidates"].as_array().unwrap().last().unwrap(),
        "backup"
    );

    // Without the first priority, the backup takes the orders.
    app.set_channel_enabled("heavy", false).await;
    app.set_channel_enabled("light", false).await;
    let created = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "w-backup",
            "10.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    assert_eq!(created.payment.channel, "backup");
}

async fn a_channels_default_ttl_applies_when_the_merchant_sends_none(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let mut short = channel("short", "sandbox");
    short.default_ttl = Some(90);
    short.priority = 1;
    app.save_channels(vec![short]).await;
    app.client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "t-1",
            "10.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    let order = app.client.get_order("t-1").await.unwrap();
    assert_eq!(
        (order.channel.as_str(), order.ttl.as_str()),
        ("short", "90")
    );
    let mut with_ttl =
        NewOrder::deposit(&m.merchant_uid, "t-2", "10.00", "mmk", "wavepay", "myanmar");
    with_ttl.ttl = Some("600".into());
    app.client.create_order(&with_ttl).await.unwrap();
    assert_eq!(app.client.get_order("t-2").await.unwrap().ttl, "600");
}

/// Channels for one merchant only, and a channel's daily limit: when it would be passed, the
/// order goes to the next channel, and with none left it is refused naming the limit.
async fn merchant_channels_and_daily_limits(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = &app.merchant;
    let other = app.new_merchant("Other Shop").await;
    let mut vip = channel("vip", "sandbox");
    vip.merchants = vec![m.merchant_uid.clone()];
    vip.priority = 1;
    vip.daily_limit = Some(Decimal::new(250, 0));
    app.save_channels(vec![vip]).await;

    let other_client = app.client_for(&other);
    let theirs = other_client
        .create_order(&NewOrder::deposit(
            &other.merchant_uid,
            "dl-o",
            "10.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    assert_eq!(theirs.payment.channel, "sandbox", "vip serves one merchant");
    let theirs_rules = rules(
        &other_client
            .get_order("dl-o")
            .await
            .unwrap()
            .distribute_rules,
    );
    assert_eq!(
        theirs_rules["skipped"]["vip"],
        format!("merchant {} not served", other.merchant_uid)
    );

    let mut channels = Vec::new();
    for i in 0..3 {
        let created = app
            .client
            .create_order(&NewOrder::deposit(
                &m.merchant_uid,
                &format!("dl-{i}"),
                "100.00",
                "mmk",
                "wavepay",
                "myanmar",
            ))
            .await
            .unwrap();
        channels.push(created.payment.channel);
    }
    assert_eq!(
        channels,
        ["vip", "vip", "sandbox"],
        "the third would pass 250 today"
    );
    let decision = rules(&app.client.get_order("dl-2").await.unwrap().distribute_rules);
    assert_eq!(decision["skipped"]["vip"], "daily limit of 250 reached");

    // A failed order does not count towards the limit.
    crate::helpers::simulate(
        &app.client.get_order("dl-0").await.unwrap().payment_url,
        "failed",
    )
    .await;
    // The test server counts a channel's volume from storage for every order (`test_config`).
    let created = app
        .client
        .create_order(&NewOrder::deposit(
            &m.merchant_uid,
            "dl-3",
            "100.00",
            "mmk",
            "wavepay",
            "myanmar",
        ))
        .await
        .unwrap();
    assert_eq!(created.payment.channel, "vip");

    app.set_channel_enabled("sandbox", false).await;
    let order = NewOrder::deposit(
        &m.merchant_uid,
        "dl-4",
        "100.00",
        "mmk",
        "wavepay",
        "myanmar",
    );
    let answer = app
        .client
        .post_signed("/octopus/api/order/new", &order.to_fields())
        .await
        .unwrap();
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.body["data"],
        "No channel available (sandbox: disabled; vip: daily limit of 250 reached)"
    );
}

crate::on_both_backends!(
    merchant_channels_and_daily_limits,
    orders_go_to_the_sandbox_channel_a_gateway_starts_with,
    no_channel_that_takes_the_order_is_a_422_naming_why_and_stores_nothing,
    priorities_come_first_and_weights_split_the_rest,
    a_channels_default_ttl_applies_when_the_merchant_sends_none,
);
