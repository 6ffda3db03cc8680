//! Shared set-up: a simulator in-process on loopback, a service on a fresh store, a
//! company with an active N Kolay POS pointed at the simulator.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sanalpos_core::{Currency, Kurus};
use sanalpos_service::*;
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig, SimHandle, Transaction, TxStatus};
use sanalpos_store::{Crypto, Store};

pub mod bank;
pub mod garanti;
pub mod nestpay;
pub mod posnet;
pub mod proxy;

pub const APPROVED_CARD: &str = "4546711234567894";

pub struct World {
    pub service: PaymentService,
    pub sim: SimHandle,
    pub merchant: MerchantConfig,
    pub company: Company,
    pub pos: PosView,
    pub actor: Actor,
}

pub fn test_config() -> ServiceConfig {
    ServiceConfig {
        public_base_url: "http://127.0.0.1:9".into(),
        three_d_ttl: Duration::from_secs(900),
        unknown_grace: Duration::from_secs(3),
        janitor_interval: Duration::from_secs(3600),
        provider_timeout: Duration::from_millis(1500),
        instance_id: "test".into(),
        end_of_day: None,
        breaker: Default::default(),
        abuse: Default::default(),
        // Moved forward by the tests that wait for a window to close.
        clock: sanalpos_core::Clock::adjustable(),
    }
}

pub async fn start_sim(merchant: &MerchantConfig) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    spawn(
        SimConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            slow_answer_delay: Duration::from_secs(3),
        },
        listener,
    )
    .await
    .unwrap()
}

/// The settings of an N Kolay POS at a simulator merchant.
pub fn nkolay_settings(base_url: &str, m: &MerchantConfig) -> Settings {
    sanalpos_service::protocols::nkolay_settings(
        base_url,
        &m.sx,
        &m.sx_list,
        &m.sx_cancel,
        &m.secret_key,
        m.auto_complete,
    )
}

pub fn new_pos(sim: &SimHandle, m: &MerchantConfig) -> NewPos {
    NewPos {
        name: "N Kolay".into(),
        protocol: "nkolay".into(),
        environment: Environment::Simulator,
        settings: nkolay_settings(&sim.base_url(), m),
        currencies: vec![Currency::Try],
        installments: vec![
            InstallmentRow {
                count: 1,
                commission_bp: 179,
                surcharge_bp: 0,
                value_days: 1,
            },
            InstallmentRow {
                count: 3,
                commission_bp: 349,
                surcharge_bp: 0,
                value_days: 1,
            },
        ],
        onboarding_state: OnboardingState::Active,
        documents: Vec::new(),
        is_default: true,
        pre_auth_hold_days: None,
    }
}

/// A company with a POS on a new simulator merchant, on the given store.
pub async fn world_on(store: Store, name: &str) -> World {
    let service = PaymentService::new(store, Crypto::random(), test_config());
    world_with(service, name, MerchantConfig::generate()).await
}

pub async fn world_with(service: PaymentService, name: &str, merchant: MerchantConfig) -> World {
    let sim = start_sim(&merchant).await;
    let company = service.create_company(name, "test").await.unwrap();
    let pos = service
        .create_pos(&company.id, new_pos(&sim, &merchant), "test")
        .await
        .unwrap();
    let actor = Actor {
        company_id: company.id.clone(),
        name: "api:test".into(),
    };
    World {
        service,
        sim,
        merchant,
        company,
        pos,
        actor,
    }
}

pub fn tl(text: &str) -> Kurus {
    Kurus::parse(text).unwrap()
}

pub fn card(number: &str) -> CardInput {
    CardInput {
        number: number.into(),
        expiry_month: "12".into(),
        expiry_year: "2030".into(),
        cvv: "123".into(),
        holder: "Ayşe Yılmaz".into(),
    }
}

pub fn payment(number: &str, amount: &str) -> CreatePayment {
    CreatePayment {
        amount: tl(amount),
        currency: Currency::Try,
        installments: 1,
        card: card(number),
        vault: CardVaultUse::None,
        three_d: false,
        return_url: None,
        order_ref: Some("SO-1001".into()),
        customer_ref: Some("120.01.001".into()),
        description: Some("test".into()),
        pos_id: None,
        channel: Channel::Api,
        cardholder_ip: None,
        client_ip: None,
        capture: sanalpos_service::CaptureMode::Automatic,
    }
}

impl World {
    pub async fn pay(&self, number: &str, amount: &str) -> PaymentView {
        self.service
            .create_payment(&self.actor, payment(number, amount))
            .await
            .unwrap()
    }

    pub fn ledger(&self) -> Vec<Transaction> {
        self.sim.transactions(&self.merchant.merchant_no).unwrap()
    }

    /// The simulator's sale rows for a payment (by our sale reference).
    pub async fn sale_rows(&self, payment_id: &str) -> Vec<Transaction> {
        let detail = self
            .service
            .get_payment(&self.company.id, payment_id)
            .await
            .unwrap();
        let client_ref = detail.attempts[0].client_ref.clone();
        self.ledger()
            .into_iter()
            .filter(|t| t.client_ref == client_ref && t.kind.is_sale())
            .collect()
    }

    pub async fn charged(&self, payment_id: &str) -> bool {
        let rows = self.sale_rows(payment_id).await;
        assert!(rows.len() <= 1, "a sale was sent twice: {rows:?}");
        rows.iter().any(|t| t.status == TxStatus::Success)
    }

    pub fn end_of_day(&self) {
        self.sim.end_of_day(Some(&self.merchant.merchant_no));
    }
}

use sanalpos_testkit::{parse_form, post_form};

/// Runs a browser through 3D: our page, the bank's page (entering `code`, or pressing
/// cancel with `None`); returns the token and the body the browser would post back to us.
pub async fn browse_3d(world: &World, view: &PaymentView, code: Option<&str>) -> (String, Vec<u8>) {
    let redirect = view
        .next_action
        .as_ref()
        .expect("3D next action")
        .redirect_url
        .clone();
    let token = redirect.rsplit('/').next().unwrap().to_owned();
    let html = world.service.three_d_page(&token).await.unwrap();
    let form = parse_form(&html);
    let acs_page = post_form(&form.action, &form.fields).await;
    let acs_form = parse_form(&acs_page);
    let mut fields: Vec<(String, String)> = acs_form
        .fields
        .iter()
        .filter(|(k, _)| k != "code" && k != "action")
        .cloned()
        .collect();
    match code {
        Some(code) => {
            fields.push(("code".into(), code.into()));
            fields.push(("action".into(), "submit".into()));
        }
        None => fields.push(("action".into(), "cancel".into())),
    }
    let action = if acs_form.action.starts_with("http") {
        acs_form.action.clone()
    } else {
        format!("{}{}", world.sim.base_url(), acs_form.action)
    };
    let result_page = post_form(&action, &fields).await;
    let back = parse_form(&result_page);
    assert!(
        back.action.ends_with(&format!("/3d/{token}/return")),
        "{}",
        back.action
    );
    let body = serde_urlencoded::to_string(&back.fields)
        .unwrap()
        .into_bytes();
    (token, body)
}

/// A second N Kolay POS of the world's company (not the default), reaching the
/// simulator through a [`proxy::Proxy`] the test can switch off.
pub async fn proxied_pos(w: &World) -> (proxy::Proxy, PosView) {
    let upstream = w.sim.base_url().trim_start_matches("http://").to_owned();
    let proxy = proxy::Proxy::start(upstream).await;
    let pos = second_pos(w, proxy.addr.clone(), "N Kolay (proxy)").await;
    (proxy, pos)
}

/// A second N Kolay POS of the world's company (not the default), named `name`,
/// reaching the simulator's merchant at `base_url` (a proxy in front of it).
pub async fn second_pos(w: &World, base_url: String, name: &str) -> PosView {
    let mut pos = new_pos(&w.sim, &w.merchant);
    pos.settings.set("base_url", base_url);
    pos.name = name.into();
    pos.is_default = false;
    w.service
        .create_pos(&w.company.id, pos, "test")
        .await
        .unwrap()
}
