//! Records for the store tests: a company with its audit event, an active POS, payments,
//! attempts and refunds in the shapes the service writes them.

#![allow(clippy::unwrap_used)]

use sanalpos_core::{Currency, Kurus};
use sanalpos_store::*;
use serde_json::json;

/// A pool of one connection straight to the store's database, beside the store: for
/// tests that edit rows behind its back or ask the server about its schema.
pub async fn raw_pool(url: &str) -> sqlx::AnyPool {
    sanalpos_store::install_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap()
}

pub fn audit(company_id: &str, kind: &str, subject: &str) -> NewAudit {
    NewAudit {
        company_id: company_id.into(),
        kind: kind.into(),
        actor: "test".into(),
        subject_id: subject.into(),
        data: json!({ "n": 1 }),
    }
}

pub async fn company(store: &Store, name: &str) -> Company {
    let c = Company {
        id: new_id("cmp"),
        name: name.into(),
        created_at: now_ms(),
    };
    store
        .insert_company(c.clone(), audit(&c.id, "company.created", &c.id))
        .await
        .unwrap();
    c
}

pub async fn pos(store: &Store, company_id: &str) -> PosRecord {
    let now = now_ms();
    let p = PosRecord {
        id: new_id("pos"),
        company_id: company_id.into(),
        name: "N Kolay".into(),
        protocol: "nkolay".into(),
        environment: Environment::Simulator,
        settings_enc: Crypto::random().encrypt_credentials("{}").unwrap(),
        currencies: vec![Currency::Try],
        installments: vec![InstallmentRow {
            count: 1,
            commission_bp: 0,
            surcharge_bp: 0,
            value_days: 1,
        }],
        onboarding_state: OnboardingState::Active,
        documents: empty_checklist(),
        is_default: true,
        version: 1,
        last_success_at: None,
        last_error: None,
        created_at: now,
        updated_at: now,
        pre_auth_hold_days: 7,
    };
    store
        .insert_pos(p.clone(), audit(company_id, "pos.created", &p.id))
        .await
        .unwrap();
    p
}

pub fn payment(
    company_id: &str,
    pos_id: &str,
    status: PaymentStatus,
    amount: i64,
) -> PaymentRecord {
    let now = now_ms();
    PaymentRecord {
        id: new_id("pay"),
        company_id: company_id.into(),
        pos_id: pos_id.into(),
        status,
        amount: Kurus::from_minor(amount).unwrap(),
        currency: Currency::Try,
        installments: 1,
        masked_pan: "454671******7894".into(),
        card_fingerprint: "f".repeat(64),
        card_brand: "visa".into(),
        auth_code: None,
        provider_ref: Some("IKSIRPF1".into()),
        bank_code: None,
        message_tr: None,
        message_en: None,
        channel: Channel::Api,
        order_ref: Some("SO-1".into()),
        customer_ref: None,
        description: None,
        three_d: false,
        return_url: None,
        three_d_token: None,
        three_d_html: None,
        sale_client_ref: sanalpos_core::ClientRef::generate().to_string(),
        authorized_amount: Some(Kurus::from_minor(amount).unwrap()),
        refunded_amount: Kurus::ZERO,
        business_date: "2026-01-01".into(),
        review_reason: None,
        created_by: "test".into(),
        created_at: now,
        updated_at: now,
        client_ip: None,
        pre_auth: false,
        held_amount: None,
        hold_until: None,
    }
}

pub fn attempt(p: &PaymentRecord, operation: Operation) -> AttemptRecord {
    AttemptRecord {
        id: new_id("att"),
        payment_id: p.id.clone(),
        company_id: p.company_id.clone(),
        operation,
        client_ref: p.sale_client_ref.clone(),
        state: AttemptState::Dispatched,
        outcome: None,
        bank_code: None,
        message: None,
        http_status: None,
        latency_ms: None,
        raw: None,
        amount: p.amount,
        started_at: now_ms(),
        finished_at: None,
    }
}

pub fn refund(p: &PaymentRecord, amount: i64) -> RefundRecord {
    RefundRecord {
        id: new_id("ref"),
        payment_id: p.id.clone(),
        company_id: p.company_id.clone(),
        kind: RefundKind::Refund,
        amount: Kurus::from_minor(amount).unwrap(),
        status: RefundStatus::Pending,
        provider_ref: None,
        bank_code: None,
        message_tr: None,
        message_en: None,
        client_ref: p.sale_client_ref.clone(),
        created_at: now_ms(),
        updated_at: now_ms(),
        scheduled_at: None,
        next_try_at: None,
        tries: 0,
    }
}
