//! A database made by the release before settings documents (migrations 1–6), with an
//! N Kolay POS stored in the old columns, opened by today's code: the POS moves into
//! its encrypted settings document losing nothing, and takes payments as before.

use crate::helpers::*;
use sanalpos_service::*;
use sanalpos_simulator::MerchantConfig;
use sanalpos_store::testing::{for_each_engine_at_version, TestParam};
use sanalpos_store::{Crypto, Store};

#[tokio::test]
async fn a_legacy_nkolay_pos_moves_into_its_settings_document() {
    for_each_engine_at_version("legacy_pos_moves", 6, |url, old| async move {
        let merchant = MerchantConfig::generate();
        let sim = start_sim(&merchant).await;
        let crypto = Crypto::random();
        // What the release before wrote: the four secrets as JSON, encrypted; the base
        // URL and the AutoComplete switch in their own columns.
        let credentials = serde_json::json!({
            "sx": merchant.sx, "sx_list": merchant.sx_list,
            "sx_cancel": merchant.sx_cancel, "secret_key": merchant.secret_key,
        })
        .to_string();
        let credentials_enc = crypto.encrypt_credentials(&credentials).unwrap();
        let now = 1_764_000_000_000_i64;
        old.execute_for_test(
            "INSERT INTO companies (id, name, created_at) VALUES ($1, $2, $3)",
            &[
                TestParam::Text("cmp_legacy"),
                TestParam::Text("Eski Kayıt A.Ş."),
                TestParam::Int(now),
            ],
        )
        .await;
        old.execute_for_test(
            "INSERT INTO pos_definitions (id, company_id, name, provider, environment, base_url, \
             credentials_enc, auto_complete, currencies, installments, onboarding_state, documents, \
             is_default, version, last_success_at, last_error, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL, $16, $17)",
            &[
                TestParam::Text("pos_legacy"),
                TestParam::Text("cmp_legacy"),
                TestParam::Text("N Kolay ana POS"),
                TestParam::Text("nkolay"),
                TestParam::Text("simulator"),
                TestParam::Text(&sim.base_url()),
                TestParam::Text(&credentials_enc),
                TestParam::Bool(merchant.auto_complete),
                TestParam::Text(r#"["TRY"]"#),
                TestParam::Text(
                    r#"[{"count":1,"commission_bp":179,"surcharge_bp":0,"value_days":1},{"count":3,"commission_bp":299,"surcharge_bp":250,"value_days":30}]"#,
                ),
                TestParam::Text("active"),
                TestParam::Text(r#"[{"name":"vergi_levhasi","received":true}]"#),
                TestParam::Bool(true),
                TestParam::Int(4),
                TestParam::Int(now - 1000),
                TestParam::Int(now - 5000),
                TestParam::Int(now - 1000),
            ],
        )
        .await;
        old.close().await;

        // Today's code opens it (migration 7) and starts the service (the move).
        let store = Store::open(&url).await.unwrap();
        assert_eq!(store.legacy_pos().await.unwrap().len(), 1);
        let service = PaymentService::start(store.clone(), crypto.clone(), test_config())
            .await
            .unwrap();
        assert!(store.legacy_pos().await.unwrap().is_empty());
        // A second start (another instance) finds nothing left to move.
        PaymentService::start(store.clone(), crypto.clone(), test_config())
            .await
            .unwrap();

        let pos = service.get_pos("cmp_legacy", "pos_legacy").await.unwrap();
        assert_eq!(pos.protocol, "nkolay");
        assert_eq!(pos.bank.as_deref(), Some("nkolay"));
        assert_eq!(pos.name, "N Kolay ana POS");
        assert_eq!(pos.version, 4, "the move is not a change of the POS");
        assert!(pos.is_default);
        assert_eq!(pos.installments.len(), 2);
        assert_eq!(pos.installments[1].surcharge_bp, 250);
        assert!(pos.documents.iter().any(|d| d.name == "vergi_levhasi" && d.received));
        assert!(pos.last_success_at.is_some());
        let shown = |name: &str| {
            pos.settings
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("{name} in {:?}", pos.settings))
                .clone()
        };
        assert_eq!(shown("base_url").value, sim.base_url());
        assert_eq!(
            shown("auto_complete").value,
            merchant.auto_complete.to_string()
        );
        for secret in ["sx", "sx_list", "sx_cancel", "secret_key"] {
            let s = shown(secret);
            assert!(s.secret && s.value.contains('…'), "{s:?}");
        }
        assert!(!format!("{pos:?}").contains(&merchant.secret_key));

        // It charges with the moved credentials, at the provider.
        let actor = Actor {
            company_id: "cmp_legacy".into(),
            name: "test".into(),
        };
        let mut p = payment(APPROVED_CARD, "12.34");
        p.pos_id = Some("pos_legacy".into());
        let view = service.create_payment(&actor, p).await.unwrap();
        assert_eq!(view.status, PaymentStatus::Approved, "{view:?}");
        let charged = sim.transactions(&merchant.merchant_no).unwrap();
        assert_eq!(charged.iter().filter(|t| t.kind.is_sale()).count(), 1);
        store.close().await;
        sim.shutdown().await;
    })
    .await;
}
