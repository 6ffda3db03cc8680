//! A Garanti world: the Garanti BBVA simulator in-process on loopback, and a company
//! whose POS is a simulated Garanti POS with a chosen 3D model, on the caller's service.
//! The simulator's ledger is the judge of what was charged.

use std::time::Duration;

use sanalpos_core::Currency;
use sanalpos_service::*;
use sanalpos_simulator::garanti::{
    self, GarantiConfig, GarantiHandle, GarantiMerchant, GarantiTransaction, TxType,
};
use sanalpos_store::Crypto;
use sanalpos_store::Store;

/// The CVV every Garanti test card is sent with: distinctive, so that the scan of the
/// database files can look for it.
pub const GT_CVV: &str = "846";

/// A company with a Garanti POS at its own simulated merchant.
pub struct GtWorld {
    pub service: PaymentService,
    pub sim: GarantiHandle,
    pub merchant: GarantiMerchant,
    pub company: Company,
    pub pos: PosView,
    pub actor: Actor,
}

/// Starts a Garanti simulator in test mode for one merchant; the slow fault card keeps
/// the caller waiting 3 s (longer than the tests' provider timeout).
pub async fn start_garanti_sim(merchant: &GarantiMerchant) -> GarantiHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    garanti::spawn(
        GarantiConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            slow_answer_delay: Duration::from_secs(3),
        },
        listener,
    )
    .await
    .unwrap()
}

/// The settings of a Garanti POS at a simulator merchant.
pub fn garanti_settings(base_url: &str, m: &GarantiMerchant, model: &str) -> Settings {
    Settings::from_pairs([
        ("bank", "garanti"),
        ("api_url", base_url),
        ("gate_url", base_url),
        ("merchant_id", m.merchant_id.as_str()),
        ("terminal_id", m.terminal_id.as_str()),
        ("prov_password", m.prov_password.as_str()),
        ("refund_password", m.refund_password.as_str()),
        ("store_key", m.store_key.as_str()),
        ("three_d_model", model),
    ])
}

/// A Garanti world on a fresh service over `store`.
pub async fn gt_world_on(store: Store, model: &'static str) -> GtWorld {
    let service = PaymentService::new(store, Crypto::random(), super::test_config());
    gt_world_with(service, model).await
}

/// A Garanti world (new company, new simulator merchant) on an existing service.
pub async fn gt_world_with(service: PaymentService, model: &'static str) -> GtWorld {
    let mut merchant = GarantiMerchant::generate();
    // Two different passwords, so a void or refund signed by the wrong user shows.
    merchant.refund_password = format!("{}R", merchant.prov_password);
    let sim = start_garanti_sim(&merchant).await;
    let company = service
        .create_company(&format!("Garanti {model}"), "test")
        .await
        .unwrap();
    let pos = service
        .create_pos(
            &company.id,
            NewPos {
                name: format!("Garanti BBVA ({model})"),
                protocol: "garanti".into(),
                environment: Environment::Simulator,
                settings: garanti_settings(&sim.base_url(), &merchant, model),
                currencies: vec![Currency::Try],
                installments: vec![InstallmentRow {
                    count: 1,
                    commission_bp: 199,
                    surcharge_bp: 0,
                    value_days: 1,
                }],
                onboarding_state: OnboardingState::Active,
                documents: Vec::new(),
                is_default: true,
                pre_auth_hold_days: None,
            },
            "test",
        )
        .await
        .unwrap();
    let actor = Actor {
        company_id: company.id.clone(),
        name: "api:test".into(),
    };
    GtWorld {
        service,
        sim,
        merchant,
        company,
        pos,
        actor,
    }
}

/// A card with the Garanti tests' CVV.
pub fn gt_card(number: &str) -> CardInput {
    CardInput {
        number: number.into(),
        expiry_month: "12".into(),
        expiry_year: "2030".into(),
        cvv: GT_CVV.into(),
        holder: "Ayşe Yılmaz".into(),
    }
}

/// A payment request on `number`, non-3D unless `three_d`.
pub fn gt_payment(number: &str, amount: &str, three_d: bool) -> CreatePayment {
    let mut request = super::payment(number, amount);
    request.card = gt_card(number);
    request.three_d = three_d;
    if three_d {
        request.return_url = Some("https://shop.example/return".into());
    }
    request
}

impl GtWorld {
    pub async fn pay(&self, number: &str, amount: &str) -> PaymentView {
        self.service
            .create_payment(&self.actor, gt_payment(number, amount, false))
            .await
            .unwrap()
    }

    pub async fn start_3d(&self, number: &str, amount: &str) -> PaymentView {
        let view = self
            .service
            .create_payment(&self.actor, gt_payment(number, amount, true))
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Pending3ds, "{view:?}");
        view
    }

    /// Every ledger row of the merchant.
    pub fn ledger(&self) -> Vec<GarantiTransaction> {
        self.sim.transactions(&self.merchant.terminal_id).unwrap()
    }

    /// Our order id at the bank (the sale's client reference).
    pub async fn order_id(&self, payment_id: &str) -> String {
        let detail = self
            .service
            .get_payment(&self.company.id, payment_id)
            .await
            .unwrap();
        detail.attempts[0].client_ref.clone()
    }

    /// The ledger rows of a payment's order.
    pub async fn rows(&self, payment_id: &str) -> Vec<GarantiTransaction> {
        let order_id = self.order_id(payment_id).await;
        self.ledger()
            .into_iter()
            .filter(|t| t.order_id == order_id)
            .collect()
    }

    /// The approved charges (sales) of a payment's order; never more than one.
    pub async fn charges(&self, payment_id: &str) -> Vec<GarantiTransaction> {
        let charges: Vec<_> = self
            .rows(payment_id)
            .await
            .into_iter()
            .filter(|t| t.kind == TxType::Sales && t.approved)
            .collect();
        assert!(
            charges.len() <= 1,
            "the card was charged twice: {charges:?}"
        );
        charges
    }

    /// Whether the bank charged the payment's order.
    pub async fn charged(&self, payment_id: &str) -> bool {
        !self.charges(payment_id).await.is_empty()
    }

    pub fn end_of_day(&self) {
        let closed = self.sim.end_of_day(Some(&self.merchant.terminal_id));
        assert_eq!(closed.len(), 1, "{closed:?}");
    }

    /// Walks a browser through 3D without posting the result back to us: our 3D page,
    /// the bank's gate, the bank's page with `code` (or Cancel when `None`).
    /// Returns the token and the callback fields the browser would post.
    pub async fn browse_3d(
        &self,
        view: &PaymentView,
        code: Option<&str>,
    ) -> (String, Vec<(String, String)>) {
        let base = self.sim.base_url();
        let gate = format!("{base}/servlet/gt3dengine");
        super::bank::browse_bank_3d(&self.service, &base, &gate, view, code).await
    }

    /// Posts callback fields to a payment's 3D return, as the browser would.
    pub async fn post_back(
        &self,
        token: &str,
        fields: &[(String, String)],
    ) -> Result<ThreeDReturn, ServiceError> {
        super::bank::post_back(&self.service, token, fields).await
    }

    pub async fn status(&self, payment_id: &str) -> PaymentStatus {
        super::bank::status(&self.service, &self.company.id, payment_id).await
    }
}
