//! Stored cards against the N Kolay simulator's vault, on both engines: register, list,
//! pay with the token, another company's and another customer's card not found, delete
//! and pay again refused; a delete the provider does not confirm kept as `deleting` and
//! finished by the janitor; a card the vault kept without its answer reaching us found
//! in its list and recorded, and the caller told when that list cannot be read either; a
//! NestPay POS refusing card storage with its reason; bad
//! input changing nothing; a card kept by an approved 3D payment (through the
//! simulator's bank page) and paid with; and no card number or CVV in the database
//! files.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::helpers::bank::{on_both_engines, Secrets};
use crate::helpers::nestpay::{nestpay_settings, np_world_with};
use crate::helpers::*;
use sanalpos_service::*;
use sanalpos_simulator::{MerchantConfig, TxStatus};
use sanalpos_store::Store;

/// The CVV the stored-card tests send: distinctive, so the scan can look for it.
const CVV: &str = "482";
const MASKED: &str = "454671******7894";
/// The card the 3D tests pay with and keep.
const THREE_D_CARD: &str = "5200190006338608";

fn secrets() -> Secrets {
    Secrets {
        cards: vec![APPROVED_CARD, THREE_D_CARD],
        cvv_shapes: vec![
            format!("\"{CVV}\""),
            format!("cvv={CVV}"),
            format!("\"cvv\":\"{CVV}\""),
        ],
    }
}

fn register(alias: &str) -> RegisterCard {
    RegisterCard {
        card: CardInput {
            cvv: CVV.into(),
            ..card(APPROVED_CARD)
        },
        alias: Some(alias.into()),
        pos_id: None,
    }
}

/// A payment of `amount` with the stored card `id` for `customer`.
fn pay_with(id: &str, customer: &str, amount: &str) -> CreatePayment {
    CreatePayment {
        card: CardInput::default(),
        vault: CardVaultUse::StoredCard(id.into()),
        customer_ref: Some(customer.into()),
        ..payment(APPROVED_CARD, amount)
    }
}

async fn world(store: Store, name: &str) -> World {
    let service = PaymentService::new(store, sanalpos_store::Crypto::random(), test_config());
    world_with(service, name, MerchantConfig::generate()).await
}

/// The company's newest audit events are `kinds` (newest first), and every chain verifies.
async fn assert_audited(store: &Store, company_id: &str, kinds: &[&str]) {
    let events = store.list_audit(company_id, 50).await.unwrap();
    let cards: Vec<&str> = events
        .iter()
        .map(|e| e.kind.as_str())
        .filter(|k| k.starts_with("stored_card."))
        .collect();
    assert_eq!(cards, kinds);
    for event in &events {
        assert!(!event.data.contains(APPROVED_CARD), "{event:?}");
    }
    assert!(store
        .verify_audit()
        .await
        .unwrap()
        .iter()
        .all(|r| r.broken.is_none()));
}

#[tokio::test]
async fn a_card_is_stored_listed_paid_with_and_deleted() {
    on_both_engines(&secrets(), "stored_card_round_trip", |store| async move {
        let w = world(store.clone(), "Kart Ticaret").await;
        let svc = &w.service;

        // Bad input is refused by field and keeps nothing.
        let mut bad = register("x");
        bad.card.number = "4546711234567895".into();
        let err = svc
            .register_stored_card(&w.actor, "CARI-1", bad)
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some("card.number"), "{err:?}");
        assert!(!err.to_string().contains("454671123456789"), "{err}");
        let err = svc
            .register_stored_card(&w.actor, "CARI-1", register(&"a".repeat(51)))
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some("alias"), "{err:?}");
        let err = svc
            .register_stored_card(&w.actor, "", register("x"))
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some("customer_ref"), "{err:?}");
        assert!(svc
            .list_stored_cards(&w.company.id, "CARI-1")
            .await
            .unwrap()
            .is_empty());

        // Stored: the provider's mask, our expiry and the alias, never the number.
        let stored = svc
            .register_stored_card(&w.actor, "CARI-1", register("İş kartım"))
            .await
            .unwrap();
        assert!(stored.id.starts_with("card_"), "{stored:?}");
        assert_eq!(stored.masked_pan, MASKED);
        assert_eq!(stored.alias, "İş kartım");
        assert_eq!(stored.state, StoredCardState::Active);
        assert_eq!(stored.pos_id, w.pos.id);
        assert_eq!(
            (stored.expiry_month, stored.expiry_year),
            (Some(12), Some(2030))
        );
        assert_eq!(stored.brand, "VISA");
        let listed = svc
            .list_stored_cards(&w.company.id, "CARI-1")
            .await
            .unwrap();
        assert_eq!(listed, vec![stored.clone()]);
        assert!(svc
            .list_stored_cards(&w.company.id, "CARI-2")
            .await
            .unwrap()
            .is_empty());

        // Paid with: approved at the provider, the payment keeps the mask and brand.
        let paid = svc
            .create_payment(&w.actor, pay_with(&stored.id, "CARI-1", "150.00"))
            .await
            .unwrap();
        assert_eq!(paid.status, PaymentStatus::Approved, "{paid:?}");
        assert_eq!(paid.masked_pan, MASKED);
        assert_eq!(paid.customer_ref.as_deref(), Some("CARI-1"));
        assert_eq!(paid.pos_id, w.pos.id);
        let rows = w.sale_rows(&paid.id).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].status, TxStatus::Success);
        assert_eq!(rows[0].amount, tl("150.00"));

        // Another customer of the company: not found, nothing sent.
        let err = svc
            .create_payment(&w.actor, pay_with(&stored.id, "CARI-2", "10.00"))
            .await
            .unwrap_err();
        assert_eq!(err, ServiceError::NotFound);
        // Without a customer, or through 3D: refused by field.
        let mut no_customer = pay_with(&stored.id, "CARI-1", "10.00");
        no_customer.customer_ref = None;
        let err = svc.create_payment(&w.actor, no_customer).await.unwrap_err();
        assert_eq!(err.field(), Some("customer_ref"), "{err:?}");
        let mut three_d = pay_with(&stored.id, "CARI-1", "10.00");
        three_d.three_d = true;
        three_d.return_url = Some("https://shop.example/back".into());
        let err = svc.create_payment(&w.actor, three_d).await.unwrap_err();
        assert_eq!(err.field(), Some("three_d"), "{err:?}");

        // Another company, even with the same customer reference: not found.
        let other = world_with(svc.clone(), "Başka Ticaret", MerchantConfig::generate()).await;
        let err = svc
            .create_payment(&other.actor, pay_with(&stored.id, "CARI-1", "10.00"))
            .await
            .unwrap_err();
        assert_eq!(err, ServiceError::NotFound);
        assert!(svc
            .list_stored_cards(&other.company.id, "CARI-1")
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            svc.delete_stored_card(&other.actor, "CARI-1", &stored.id)
                .await
                .unwrap_err(),
            ServiceError::NotFound
        );
        let payments = svc
            .list_payments(&w.company.id, PaymentFilter::default())
            .await
            .unwrap();
        assert_eq!(payments.items.len(), 1, "only the approved one was written");

        // Deleted: at the provider and here; it can no longer pay.
        let deleted = svc
            .delete_stored_card(&w.actor, "CARI-1", &stored.id)
            .await
            .unwrap();
        assert_eq!(deleted.state, StoredCardState::Deleted);
        assert!(svc
            .list_stored_cards(&w.company.id, "CARI-1")
            .await
            .unwrap()
            .is_empty());
        let err = svc
            .create_payment(&w.actor, pay_with(&stored.id, "CARI-1", "20.00"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "stored_card_deleted", "{err:?}");
        assert_eq!(
            svc.delete_stored_card(&w.actor, "CARI-1", &stored.id)
                .await
                .unwrap_err(),
            ServiceError::NotFound
        );
        // The audit chain holds the save and the delete and still verifies.
        assert_audited(
            &store,
            &w.company.id,
            &["stored_card.deleted", "stored_card.saved"],
        )
        .await;
    })
    .await;
}

/// A fault card the simulator's vault keeps before answering HTTP 500.
const KEPT_THEN_500: &str = "4000000000009029";
/// A fault card the simulator's vault answers HTTP 500 for, keeping nothing.
const NOT_KEPT_500: &str = "4000000000009037";

fn register_card(number: &str, alias: &str) -> RegisterCard {
    RegisterCard {
        card: CardInput {
            cvv: CVV.into(),
            ..card(number)
        },
        alias: Some(alias.into()),
        pos_id: None,
    }
}

#[tokio::test]
async fn a_card_the_vault_kept_without_an_answer_is_recorded() {
    on_both_engines(&secrets(), "stored_card_lost_answer", |store| async move {
        let w = world(store.clone(), "Kayıp Cevap").await;
        let svc = &w.service;
        let at_provider = || {
            w.sim
                .vault_cards(&w.merchant.merchant_no, "CARI-9")
                .unwrap()
        };

        // The vault keeps the card and its answer is lost (HTTP 500): its list shows a
        // card with the mask and a token nothing here knows, so the card is recorded and
        // the caller told it is kept; nothing is left at the provider unknown here.
        let kept = svc
            .register_stored_card(&w.actor, "CARI-9", register_card(KEPT_THEN_500, "Maaş"))
            .await
            .unwrap();
        assert_eq!(kept.masked_pan, "400000******9029");
        assert_eq!(kept.state, StoredCardState::Active);
        assert_eq!(kept.alias, "Maaş");
        assert_eq!(at_provider(), vec!["400000******9029"]);
        let listed = svc
            .list_stored_cards(&w.company.id, "CARI-9")
            .await
            .unwrap();
        assert_eq!(listed, vec![kept.clone()]);

        // The vault keeps nothing and answers HTTP 500: nothing new in its list, so
        // nothing is recorded and the caller is told the vault could not be used.
        let err = svc
            .register_stored_card(&w.actor, "CARI-9", register_card(NOT_KEPT_500, "Yedek"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "provider_unavailable", "{err:?}");
        assert_eq!(at_provider(), vec!["400000******9029"]);

        // The first card again, its answer lost again: the vault answers the card it
        // keeps already, whose token is recorded; no second record of it.
        let err = svc
            .register_stored_card(&w.actor, "CARI-9", register_card(KEPT_THEN_500, "Maaş"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "provider_unavailable", "{err:?}");
        assert_eq!(at_provider(), vec!["400000******9029"]);
        let listed = svc
            .list_stored_cards(&w.company.id, "CARI-9")
            .await
            .unwrap();
        assert_eq!(listed, vec![kept]);
        assert_audited(&store, &w.company.id, &["stored_card.saved"]).await;
    })
    .await;
}

/// A fault card the simulator's vault keeps before answering too late.
const KEPT_THEN_SLOW: &str = "4000000000009011";

#[tokio::test]
async fn a_lost_registration_whose_list_cannot_be_read_says_so() {
    on_both_engines(
        &secrets(),
        "stored_card_lost_unchecked",
        |store| async move {
            let w = world(store.clone(), "Kesik Liste").await;
            let svc = &w.service;
            let (proxy, pos) = proxied_pos(&w).await;
            let at_provider = || {
                w.sim
                    .vault_cards(&w.merchant.merchant_no, "CARI-8")
                    .unwrap()
            };
            // Another customer's card, kept as usual (and a mask for the files' scan).
            svc.register_stored_card(&w.actor, "CARI-1", register("İş"))
                .await
                .unwrap();

            // The vault keeps the card and holds its answer; the provider goes away before
            // the answer comes, so its list cannot be read either.
            let registering = {
                let (svc, actor, pos_id) = (svc.clone(), w.actor.clone(), pos.id.clone());
                tokio::spawn(async move {
                    let request = RegisterCard {
                        pos_id: Some(pos_id),
                        ..register_card(KEPT_THEN_SLOW, "Geç")
                    };
                    svc.register_stored_card(&actor, "CARI-8", request).await
                })
            };
            for _ in 0..200 {
                if !at_provider().is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(at_provider(), vec!["400000******9011"]);
            proxy.set_up(false);
            let err = registering.await.unwrap().unwrap_err();
            assert_eq!(err.code(), "provider_unavailable", "{err:?}");
            assert!(err.to_string().contains("could not be checked"), "{err}");
            // Nothing is recorded here; the card stays at the provider (the caller was told
            // its fate is unknown, and the server logged it).
            assert!(svc
                .list_stored_cards(&w.company.id, "CARI-8")
                .await
                .unwrap()
                .is_empty());
            assert_eq!(at_provider(), vec!["400000******9011"]);
        },
    )
    .await;
}

#[tokio::test]
async fn an_unconfirmed_delete_is_kept_and_finished_by_the_janitor() {
    on_both_engines(&secrets(), "stored_card_delete_retry", |store| async move {
        let w = world(store.clone(), "Kesintili Kart").await;
        let svc = &w.service;
        let (proxy, pos) = proxied_pos(&w).await;
        let stored = svc
            .register_stored_card(
                &w.actor,
                "CARI-7",
                RegisterCard {
                    pos_id: Some(pos.id.clone()),
                    ..register("Yedek")
                },
            )
            .await
            .unwrap();
        assert_eq!(stored.pos_id, pos.id);

        // The provider is unreachable: the card is kept as deleting, with the reason.
        proxy.set_up(false);
        let pending = svc
            .delete_stored_card(&w.actor, "CARI-7", &stored.id)
            .await
            .unwrap();
        assert_eq!(pending.state, StoredCardState::Deleting);
        assert!(pending.delete_error.is_some(), "{pending:?}");
        let listed = svc
            .list_stored_cards(&w.company.id, "CARI-7")
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].state, StoredCardState::Deleting);
        // It cannot pay meanwhile, even with the provider back.
        proxy.set_up(true);
        let err = svc
            .create_payment(&w.actor, pay_with(&stored.id, "CARI-7", "10.00"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "stored_card_deleted", "{err:?}");

        // A pass before the pause is over leaves it.
        let report = svc.run_janitor_once().await.unwrap();
        assert_eq!(
            (report.cards_deleted, report.card_deletions_pending),
            (0, 0)
        );
        // Once the pause is over, the janitor deletes it at the provider.
        assert!(svc.config().clock.advance(Duration::from_secs(61)));
        let report = svc.run_janitor_once().await.unwrap();
        assert_eq!(report.cards_deleted, 1, "{report:?}");
        assert!(svc
            .list_stored_cards(&w.company.id, "CARI-7")
            .await
            .unwrap()
            .is_empty());
        assert_audited(
            &store,
            &w.company.id,
            &[
                "stored_card.deleted",
                "stored_card.delete_failed",
                "stored_card.saved",
            ],
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_pos_without_card_storage_refuses_with_its_reason() {
    on_both_engines(&secrets(), "stored_card_nestpay", |store| async move {
        let w = world(store, "Karma Ticaret").await;
        let svc = &w.service;
        let np = np_world_with(svc.clone(), "3d").await;
        // A company whose only POS is NestPay cannot store a card.
        let err = svc
            .register_stored_card(&np.actor, "CARI-1", register("x"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "card_storage_not_supported", "{err:?}");
        assert!(err.to_string().contains("card storage"), "{err}");
        // Nor keep the card of a 3D payment.
        let mut keep = payment(APPROVED_CARD, "10.00");
        keep.three_d = true;
        keep.return_url = Some("https://shop.example/done".into());
        keep.customer_ref = Some("CARI-1".into());
        keep.vault = CardVaultUse::SaveCard {
            alias: String::new(),
        };
        let err = svc.create_payment(&np.actor, keep).await.unwrap_err();
        assert_eq!(err.code(), "card_storage_not_supported", "{err:?}");
        assert!(svc
            .list_payments(&np.company.id, PaymentFilter::default())
            .await
            .unwrap()
            .items
            .is_empty());

        // A company with both: the NestPay POS refuses, by name, to store or to pay.
        let new = NewPos {
            name: "İş Bankası".into(),
            protocol: "nestpay".into(),
            settings: nestpay_settings(&np.sim.base_url(), &np.merchant, "3d"),
            is_default: false,
            ..new_pos(&w.sim, &w.merchant)
        };
        let nestpay_pos = svc.create_pos(&w.company.id, new, "test").await.unwrap();
        let err = svc
            .register_stored_card(
                &w.actor,
                "CARI-1",
                RegisterCard {
                    pos_id: Some(nestpay_pos.id.clone()),
                    ..register("x")
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "card_storage_not_supported", "{err:?}");
        let stored = svc
            .register_stored_card(&w.actor, "CARI-1", register("x"))
            .await
            .unwrap();
        let mut request = pay_with(&stored.id, "CARI-1", "10.00");
        request.pos_id = Some(nestpay_pos.id.clone());
        let err = svc.create_payment(&w.actor, request).await.unwrap_err();
        assert_eq!(err.code(), "card_storage_not_supported", "{err:?}");
        assert!(err.to_string().contains(&nestpay_pos.id), "{err}");
        assert!(svc
            .list_payments(&w.company.id, PaymentFilter::default())
            .await
            .unwrap()
            .items
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_approved_3d_payment_keeps_its_card() {
    on_both_engines(&secrets(), "stored_card_three_d", |store| async move {
        let w = world(store.clone(), "3D Kart").await;
        let svc = &w.service;
        let three_d = |customer: Option<&str>| {
            let mut request = payment(THREE_D_CARD, "250.00");
            request.card.cvv = CVV.into();
            request.three_d = true;
            request.return_url = Some("https://shop.example/done".into());
            request.customer_ref = customer.map(str::to_owned);
            request.vault = CardVaultUse::SaveCard {
                alias: "İş kartım".into(),
            };
            request
        };

        // Refused before anything is written: without 3D, or without a customer.
        let mut non_3d = three_d(Some("CARI-3"));
        non_3d.three_d = false;
        let err = svc.create_payment(&w.actor, non_3d).await.unwrap_err();
        assert_eq!(err.field(), Some("save_card"), "{err:?}");
        let err = svc
            .create_payment(&w.actor, three_d(None))
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some("customer_ref"), "{err:?}");

        // A declined 3D payment keeps nothing.
        let declined = svc
            .create_payment(&w.actor, three_d(Some("CARI-3")))
            .await
            .unwrap();
        let (token, body) = browse_3d(&w, &declined, Some("000000")).await;
        let back = svc.three_d_return(&token, &body).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Declined);
        assert!(svc
            .list_stored_cards(&w.company.id, "CARI-3")
            .await
            .unwrap()
            .is_empty());

        // Approved through the bank's page: the card is kept and listed, without expiry.
        let view = svc
            .create_payment(&w.actor, three_d(Some("CARI-3")))
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Pending3ds);
        let (token, body) = browse_3d(&w, &view, Some("123456")).await;
        let back = svc.three_d_return(&token, &body).await.unwrap();
        assert_eq!(back.payment.status, PaymentStatus::Approved);
        let kept = svc
            .list_stored_cards(&w.company.id, "CARI-3")
            .await
            .unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].masked_pan, "520019******8608");
        assert_eq!(kept[0].alias, "İş kartım");
        assert_eq!(kept[0].state, StoredCardState::Active);
        assert_eq!((kept[0].expiry_month, kept[0].expiry_year), (None, None));

        // And it pays, without the card's number.
        let paid = svc
            .create_payment(&w.actor, pay_with(&kept[0].id, "CARI-3", "40.00"))
            .await
            .unwrap();
        assert_eq!(paid.status, PaymentStatus::Approved, "{paid:?}");
        assert_eq!(paid.masked_pan, "520019******8608");
        assert!(w.charged(&paid.id).await);
        assert_audited(&store, &w.company.id, &["stored_card.saved"]).await;
    })
    .await;
}

#[tokio::test]
async fn a_kept_card_the_provider_did_not_list_at_once_is_found_later() {
    on_both_engines(
        &secrets(),
        "stored_card_three_d_later",
        |store| async move {
            let w = world(store, "Geç Kart").await;
            let svc = &w.service;
            let (proxy, pos) = proxied_pos(&w).await;
            let mut request = payment(THREE_D_CARD, "90.00");
            request.card.cvv = CVV.into();
            request.three_d = true;
            request.return_url = Some("https://shop.example/done".into());
            request.customer_ref = Some("CARI-8".into());
            request.pos_id = Some(pos.id.clone());
            request.vault = CardVaultUse::SaveCard {
                alias: String::new(),
            };
            let view = svc.create_payment(&w.actor, request).await.unwrap();
            let (token, body) = browse_3d(&w, &view, Some("123456")).await;

            // The provider stops answering as the cardholder comes back: the sale is
            // approved by its verified postback, but the list of kept cards cannot be read.
            proxy.set_up(false);
            let back = svc.three_d_return(&token, &body).await.unwrap();
            assert_eq!(back.payment.status, PaymentStatus::Approved);
            assert!(svc
                .list_stored_cards(&w.company.id, "CARI-8")
                .await
                .unwrap()
                .is_empty());

            // Back again: the janitor looks once the pause is over, and records it.
            proxy.set_up(true);
            assert_eq!(svc.run_janitor_once().await.unwrap().cards_kept, 0);
            assert!(svc.config().clock.advance(Duration::from_secs(61)));
            assert_eq!(svc.run_janitor_once().await.unwrap().cards_kept, 1);
            let kept = svc
                .list_stored_cards(&w.company.id, "CARI-8")
                .await
                .unwrap();
            assert_eq!(kept.len(), 1, "{kept:?}");
            assert_eq!(kept[0].masked_pan, "520019******8608");
            assert_eq!(kept[0].pos_id, pos.id);
            // Nothing left to look for.
            assert!(svc.config().clock.advance(Duration::from_secs(3_600)));
            assert_eq!(svc.run_janitor_once().await.unwrap().cards_kept, 0);
        },
    )
    .await;
}
