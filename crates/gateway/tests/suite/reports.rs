//! Reports, installments and the commission table against the simulator.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use crate::helpers::*;
use chrono::Days;
use sanalpos_gateway::nkolay::codec::now_istanbul;
use sanalpos_gateway::{Gateway, Outcome, ReportQuery, RowStatus, TransactionKind};

#[tokio::test]
async fn report_pages_through_everything_charged() {
    let sim = start_sim().await;
    let gateway = sim.gateway();
    let mut approved = HashSet::new();
    for i in 0..5 {
        let response = gateway
            .sale(&sale("4546711234567894", &format!("{}.00", 10 + i)))
            .await;
        let Outcome::Approved(a) = response.outcome else {
            panic!()
        };
        approved.insert(a.provider_ref);
    }
    // A decline and a charged-but-lost answer are in the provider's records too.
    gateway.sale(&sale("4000000000000515", "1.00")).await;
    gateway.sale(&sale("4000000000009029", "2.00")).await;
    // A sale keyed in on the provider's panel.
    let panel = reqwest::Client::new()
        .post(sim.url(&format!(
            "/_sim/merchants/{}/panel-sales",
            sim.merchant.merchant_no
        )))
        .header("content-type", "application/json")
        .body(serde_json::json!({"amount": "12.50", "card": "5200190006338608"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(panel.status().as_u16(), 201);

    let today = now_istanbul().date_naive();
    let mut query = ReportQuery {
        from: today.checked_sub_days(Days::new(40)).unwrap(),
        to: today,
        page_size: 2,
        cursor: None,
    };
    let mut rows = Vec::new();
    let mut pages = 0;
    loop {
        let page = gateway.report(&query).await.unwrap();
        pages += 1;
        rows.extend(page.rows);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
        assert!(pages < 50, "paging must end");
    }
    assert_eq!(rows.len(), 8, "{rows:#?}");
    assert!(pages >= 4, "two windows and several pages: {pages}");
    let sales: HashSet<_> = rows
        .iter()
        .filter(|r| r.kind == TransactionKind::Sale && r.status == RowStatus::Success)
        .filter_map(|r| r.provider_ref.clone())
        .collect();
    assert!(approved.is_subset(&sales));
    assert_eq!(
        sales.len(),
        7,
        "5 approvals, the lost answer and the panel sale"
    );
    assert!(rows.iter().all(|r| r.masked_pan.is_some()));
    assert!(
        rows.iter().any(|r| r.client_ref.is_none()),
        "the panel sale has no client ref"
    );
}

#[tokio::test]
async fn installments_for_a_known_and_an_unknown_bin() {
    let sim = start_sim().await;
    let gateway = sim.gateway();
    let options = gateway
        .installments("45467112", tl("1000.00"))
        .await
        .unwrap();
    assert!(options.len() > 1, "{options:?}");
    let single = &options[0];
    assert_eq!(single.installments, 1);
    assert_eq!(single.total, tl("1000.00"));
    for option in &options[1..] {
        assert!(option.total >= tl("1000.00"));
        assert_eq!(
            option.surcharge,
            option.total.checked_sub(tl("1000.00")).unwrap()
        );
        assert!(option.monthly.minor() * i64::from(option.installments) <= option.total.minor());
    }
    let unknown = gateway
        .installments("99999999", tl("100.00"))
        .await
        .unwrap();
    assert_eq!(
        unknown.iter().map(|o| o.installments).collect::<Vec<_>>(),
        vec![1]
    );
    assert!(gateway.installments("12", tl("1.00")).await.is_err());

    // A sale in 3 installments charges the surcharge the options announced.
    let three = options
        .iter()
        .find(|o| o.installments == 3)
        .expect("3 installments offered");
    let mut request = sale("4546711234567894", "1000.00");
    request.installments = 3;
    let Outcome::Approved(a) = gateway.sale(&request).await.outcome else {
        panic!()
    };
    assert_eq!(a.authorized_amount, Some(three.total));
    assert_eq!(a.installments, Some(3));
}

#[tokio::test]
async fn commission_table() {
    let sim = start_sim().await;
    let table = sim.gateway().commission_table().await.unwrap();
    assert!(!table.programs.is_empty());
    for program in &table.programs {
        assert!(!program.name.is_empty() && !program.code.is_empty());
        assert!(program.rates.iter().any(|r| r.installments == 1));
        assert!(program.rates.iter().all(|r| r.commission_bp > 0));
    }
}
