//! A NestPay world: the NestPay bank simulator in-process on loopback, and a company
//! whose POS is a simulated İş Bankası NestPay POS with a chosen 3D model, on the
//! caller's service. The simulator's ledger is the judge of what was charged.

use std::time::Duration;

use sanalpos_core::Currency;
use sanalpos_service::*;
use sanalpos_simulator::nestpay::{
    self, NestpayConfig, NestpayHandle, NestpayMerchant, NestpayTransaction, TxStatus, TxType,
};
use sanalpos_store::Crypto;
use sanalpos_store::Store;
use sanalpos_testkit::{parse_form, post_form};

/// The CVV every NestPay test card is sent with: distinctive, so that the scan of the
/// database files can look for it in the shapes a leak would take.
pub const NP_CVV: &str = "735";

/// A company with a NestPay POS at its own simulated bank merchant.
pub struct NpWorld {
    pub service: PaymentService,
    pub sim: NestpayHandle,
    pub merchant: NestpayMerchant,
    pub company: Company,
    pub pos: PosView,
    pub actor: Actor,
    pub model: &'static str,
}

/// Starts a NestPay simulator in test mode for one merchant; the slow fault card keeps
/// the caller waiting 3 s (longer than the tests' 1.5 s provider timeout).
pub async fn start_nestpay_sim(merchant: &NestpayMerchant) -> NestpayHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    nestpay::spawn(
        NestpayConfig {
            merchants: vec![merchant.clone()],
            test_mode: true,
            slow_answer_delay: Duration::from_secs(3),
        },
        listener,
    )
    .await
    .unwrap()
}

/// The settings of an İş Bankası NestPay POS at a simulator merchant, half-secure
/// refused.
pub fn nestpay_settings(base_url: &str, m: &NestpayMerchant, model: &str) -> Settings {
    Settings::from_pairs([
        ("bank", "isbank"),
        ("api_url", base_url),
        ("gate_url", base_url),
        ("client_id", m.client_id.as_str()),
        ("api_user", m.api_user.as_str()),
        ("api_password", m.api_password.as_str()),
        ("store_key", m.store_key.as_str()),
        ("three_d_model", model),
        ("allow_half_secure", "false"),
    ])
}

/// A NestPay world on a fresh service over `store`.
pub async fn np_world_on(store: Store, model: &'static str) -> NpWorld {
    let service = PaymentService::new(store, Crypto::random(), super::test_config());
    np_world_with(service, model).await
}

/// A NestPay world (new company, new simulator merchant) on an existing service.
pub async fn np_world_with(service: PaymentService, model: &'static str) -> NpWorld {
    let merchant = NestpayMerchant::generate();
    let sim = start_nestpay_sim(&merchant).await;
    let company = service
        .create_company(&format!("NestPay {model}"), "test")
        .await
        .unwrap();
    let pos = service
        .create_pos(
            &company.id,
            NewPos {
                name: format!("İş Bankası ({model})"),
                protocol: "nestpay".into(),
                environment: Environment::Simulator,
                settings: nestpay_settings(&sim.base_url(), &merchant, model),
                currencies: vec![Currency::Try],
                installments: vec![InstallmentRow {
                    count: 1,
                    commission_bp: 189,
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
    NpWorld {
        service,
        sim,
        merchant,
        company,
        pos,
        actor,
        model,
    }
}

/// A card with the NestPay tests' CVV.
pub fn np_card(number: &str) -> CardInput {
    CardInput {
        number: number.into(),
        expiry_month: "12".into(),
        expiry_year: "2030".into(),
        cvv: NP_CVV.into(),
        holder: "Ayşe Yılmaz".into(),
    }
}

/// A payment request on `number`, non-3D unless `three_d`.
pub fn np_payment(number: &str, amount: &str, three_d: bool) -> CreatePayment {
    let mut request = super::payment(number, amount);
    request.card = np_card(number);
    request.three_d = three_d;
    if three_d {
        request.return_url = Some("https://shop.example/return".into());
    }
    request
}

/// What the cardholder does on the bank's 3D page.
#[derive(Debug, Clone, Copy)]
pub enum OnBankPage<'a> {
    /// Types this SMS code and confirms.
    Code(&'a str),
    /// Presses cancel.
    Cancel,
}

impl NpWorld {
    pub async fn pay(&self, number: &str, amount: &str) -> PaymentView {
        self.service
            .create_payment(&self.actor, np_payment(number, amount, false))
            .await
            .unwrap()
    }

    pub async fn start_3d(&self, number: &str, amount: &str) -> PaymentView {
        let view = self
            .service
            .create_payment(&self.actor, np_payment(number, amount, true))
            .await
            .unwrap();
        assert_eq!(view.status, PaymentStatus::Pending3ds, "{view:?}");
        view
    }

    /// Every ledger row of the merchant.
    pub fn ledger(&self) -> Vec<NestpayTransaction> {
        self.sim.transactions(&self.merchant.client_id).unwrap()
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
    pub async fn rows(&self, payment_id: &str) -> Vec<NestpayTransaction> {
        let order_id = self.order_id(payment_id).await;
        self.ledger()
            .into_iter()
            .filter(|t| t.order_id == order_id)
            .collect()
    }

    /// The approved charges (Auth) of a payment's order; never more than one.
    pub async fn charges(&self, payment_id: &str) -> Vec<NestpayTransaction> {
        let charges: Vec<_> = self
            .rows(payment_id)
            .await
            .into_iter()
            .filter(|t| t.kind == TxType::Auth && t.status == TxStatus::Approved)
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
        let closed = self.sim.end_of_day(Some(&self.merchant.client_id));
        assert_eq!(closed.len(), 1, "{closed:?}");
    }

    /// Walks a browser through 3D without posting the result back to us: our 3D page,
    /// the bank's gate, the bank's page (typing `card` there when the bank hosts the
    /// card form). Returns the token and the callback fields the browser would post.
    pub async fn browse_3d(
        &self,
        view: &PaymentView,
        card: &CardInput,
        action: OnBankPage<'_>,
    ) -> (String, Vec<(String, String)>) {
        let redirect = &view
            .next_action
            .as_ref()
            .expect("3D next action")
            .redirect_url;
        let token = redirect.rsplit('/').next().unwrap().to_owned();
        let html = self.service.three_d_page(&token).await.unwrap();
        let form = parse_form(&html);
        assert!(
            form.action.starts_with(&self.sim.base_url()),
            "{}",
            form.action
        );
        let has = |name: &str| form.fields.iter().any(|(k, _)| k == name);
        assert_eq!(
            has("pan"),
            self.model != "3d_host",
            "the card is on our page only when the bank does not host the card form"
        );
        let bank_page = post_form(&form.action, &form.fields).await;
        let bank_form = parse_form(&bank_page);
        let year = &card.expiry_year[card.expiry_year.len() - 2..];
        let mut fields: Vec<(String, String)> = bank_form
            .fields
            .iter()
            .filter(|(k, _)| k != "code" && k != "action")
            .map(|(k, v)| {
                let typed = match k.as_str() {
                    "pan" => card.number.clone(),
                    "Ecom_Payment_Card_ExpDate_Month" => card.expiry_month.clone(),
                    "Ecom_Payment_Card_ExpDate_Year" => year.to_owned(),
                    "cv2" => card.cvv.clone(),
                    _ => v.clone(),
                };
                (k.clone(), typed)
            })
            .collect();
        let typed_card = fields.iter().any(|(k, _)| k == "pan");
        assert_eq!(typed_card, self.model == "3d_host", "{bank_page}");
        match action {
            OnBankPage::Code(code) => {
                fields.push(("code".into(), code.into()));
                fields.push(("action".into(), "submit".into()));
            }
            OnBankPage::Cancel => fields.push(("action".into(), "cancel".into())),
        }
        let target = if bank_form.action.starts_with("http") {
            bank_form.action.clone()
        } else {
            format!("{}{}", self.sim.base_url(), bank_form.action)
        };
        let result_page = post_form(&target, &fields).await;
        let back = parse_form(&result_page);
        assert!(
            back.action.ends_with(&format!("/3d/{token}/return")),
            "{}",
            back.action
        );
        (token, back.fields)
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
