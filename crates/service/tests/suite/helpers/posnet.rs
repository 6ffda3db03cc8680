//! A PosNet world: the Yapı Kredi PosNet simulator in-process on loopback, and a
//! company whose POS is a simulated PosNet POS, on the caller's service.
//! The simulator's ledger is the judge of what was charged.

use std::time::Duration;

use sanalpos_core::Currency;
use sanalpos_service::*;
use sanalpos_simulator::posnet::{
    self, PosnetConfig, PosnetHandle, PosnetMerchant, PosnetTransaction, TxKind,
};
use sanalpos_store::Crypto;
use sanalpos_store::Store;

/// The CVV every PosNet test card is sent with: distinctive, so that the scan of the
/// database files can look for it.
pub const PN_CVV: &str = "739";

/// A company with a PosNet POS at its own simulated merchant.
pub struct PnWorld {
    pub service: PaymentService,
    pub sim: PosnetHandle,
    pub merchant: PosnetMerchant,
    pub company: Company,
    pub pos: PosView,
    pub actor: Actor,
}

/// Starts a PosNet simulator in test mode for one merchant; the slow fault card keeps
/// the caller waiting 3 s (longer than the tests' provider timeout).
pub async fn start_posnet_sim(merchant: &PosnetMerchant) -> PosnetHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    posnet::spawn(
        PosnetConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            slow_answer_delay: Duration::from_secs(3),
        },
        listener,
    )
    .await
    .unwrap()
}

/// The settings of a PosNet POS at a simulator merchant.
pub fn posnet_settings(base_url: &str, m: &PosnetMerchant) -> Settings {
    Settings::from_pairs([
        ("bank", "yapikredi"),
        ("api_url", base_url),
        ("gate_url", base_url),
        ("mid", m.mid.as_str()),
        ("tid", m.tid.as_str()),
        ("posnet_id", m.posnet_id.as_str()),
        ("enc_key", m.enc_key.as_str()),
    ])
}

/// A PosNet world on a fresh service over `store`.
pub async fn pn_world_on(store: Store) -> PnWorld {
    let service = PaymentService::new(store, Crypto::random(), super::test_config());
    pn_world_with(service).await
}

/// A PosNet world (new company, new simulator merchant) on an existing service.
pub async fn pn_world_with(service: PaymentService) -> PnWorld {
    let merchant = PosnetMerchant::generate();
    let sim = start_posnet_sim(&merchant).await;
    let company = service
        .create_company("Yapı Kredi PosNet", "test")
        .await
        .unwrap();
    let pos = service
        .create_pos(
            &company.id,
            NewPos {
                name: "Yapı Kredi (PosNet)".into(),
                protocol: "posnet".into(),
                environment: Environment::Simulator,
                settings: posnet_settings(&sim.base_url(), &merchant),
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
    PnWorld {
        service,
        sim,
        merchant,
        company,
        pos,
        actor,
    }
}

/// A card with the PosNet tests' CVV.
pub fn pn_card(number: &str) -> CardInput {
    CardInput {
        number: number.into(),
        expiry_month: "12".into(),
        expiry_year: "2030".into(),
        cvv: PN_CVV.into(),
        holder: "Ayşe Yılmaz".into(),
    }
}

/// A payment request on `number`, non-3D unless `three_d`.
pub fn pn_payment(number: &str, amount: &str, three_d: bool) -> CreatePayment {
    let mut request = super::payment(number, amount);
    request.card = pn_card(number);
    request.three_d = three_d;
    if three_d {
        request.return_url = Some("https://shop.example/return".into());
    }
    request
}

impl PnWorld {
    pub async fn pay(&self, number: &str, amount: &str) -> PaymentView {
        self.service
            .create_payment(&self.actor, pn_payment(number, amount, false))
            .await
            .unwrap()
    }

    pub async fn start_3d(&self, number: &str, amount: &str) -> PaymentView {
        let view = self
            .service
            .create_payment(&self.actor, pn_payment(number, amount, true))
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Pending3ds, "{view:?}");
        view
    }

    /// Every ledger row of the merchant.
    pub fn ledger(&self) -> Vec<PosnetTransaction> {
        self.sim.transactions(&self.merchant.tid).unwrap()
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
    pub async fn rows(&self, payment_id: &str) -> Vec<PosnetTransaction> {
        let order_id = self.order_id(payment_id).await;
        // A non-3D sale is the reference padded to 24; a 3D one TDSC + its XID.
        let plain = format!("{order_id:0>24}");
        let xid = if order_id.len() > 20 {
            order_id[order_id.len() - 20..].to_owned()
        } else {
            format!("{order_id:0>20}")
        };
        let three_d = format!("TDSC{xid}");
        self.ledger()
            .into_iter()
            .filter(|t| t.order_id == plain || t.order_id == three_d)
            .collect()
    }

    /// The approved charges (sales) of a payment's order; never more than one.
    pub async fn charges(&self, payment_id: &str) -> Vec<PosnetTransaction> {
        let charges: Vec<_> = self
            .rows(payment_id)
            .await
            .into_iter()
            .filter(|t| t.kind == TxKind::Sale && t.approved)
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
        let closed = self.sim.end_of_day(Some(&self.merchant.tid));
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
        let gate = format!("{base}/3DSWebService/YKBPaymentService");
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
