//! What the bank POS suites (NestPay, Garanti BBVA, PosNet) share: the simulator's magic
//! and fault cards with what the service must make of them, the scan of a test's
//! database files for card data, the run on both engines, and callback field edits.

use std::future::Future;

use sanalpos_service::{PaymentService, PaymentStatus, PaymentView, ServiceError, ThreeDReturn};
use sanalpos_store::testing::{postgres_store, sqlite_store, TestGuard};
use sanalpos_store::Store;
use sanalpos_testkit::{parse_form, post_form};

/// The simulator's magic decline cards (spec/simulator.md): card, bank code. Read from
/// the simulator, so the suites follow its table.
pub const DECLINES: &[(&str, &str)] = sanalpos_simulator::cards::MAGIC_DECLINES;

/// The simulator's fault cards, with what the bank does and where the service must end:
/// card, whether the bank charges it, the final status once the janitor has asked.
pub const FAULTS: &[(&str, bool, PaymentStatus)] = &[
    ("4000000000009011", true, PaymentStatus::Approved), // slow answer: our timeout
    ("4000000000009029", true, PaymentStatus::Approved), // charged, then HTTP 500
    ("4000000000009037", false, PaymentStatus::Failed),  // not charged, HTTP 500
    ("4000000000009045", true, PaymentStatus::Approved), // charged, truncated answer
    ("4000000000009052", true, PaymentStatus::Approved), // charged, garbled answer
    ("4000000000009060", false, PaymentStatus::Failed),  // not charged, dropped
    ("4000000000009078", false, PaymentStatus::Failed),  // not charged, 503 once
];

/// What a suite's scan looks for besides the magic and fault cards: the cards it sends
/// itself, and its CVV in the shapes a leak would take in its protocol (JSON, XML,
/// form fields).
pub struct Secrets {
    /// Card numbers the suite sends beyond [`DECLINES`] and [`FAULTS`].
    pub cards: Vec<&'static str>,
    /// The CVV as it would appear if it leaked.
    pub cvv_shapes: Vec<String>,
}

impl Secrets {
    /// Every card number the suite sends.
    fn all_cards(&self) -> Vec<&'static str> {
        let mut cards = self.cards.clone();
        cards.extend(DECLINES.iter().map(|(c, _)| *c));
        cards.extend(FAULTS.iter().map(|(c, _, _)| *c));
        cards
    }

    /// No card number and no CVV in the SQLite files of a test.
    pub fn assert_absent(&self, guard: &TestGuard) {
        let files = guard.sqlite_files();
        assert!(!files.is_empty());
        let mut bytes = Vec::new();
        for file in &files {
            bytes.extend(std::fs::read(file).unwrap_or_else(|e| panic!("{file:?}: {e}")));
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("******"),
            "the scan reads the payments' files"
        );
        for card in self.all_cards() {
            assert!(!text.contains(card), "card {card} found in {files:?}");
        }
        for shape in &self.cvv_shapes {
            assert!(
                !text.contains(shape.as_str()),
                "the CVV ({shape}) found in {files:?}"
            );
        }
    }
}

/// Runs `body` on a fresh SQLite store (then scans its files for `secrets`), then on a
/// fresh PostgreSQL store.
pub async fn on_both_engines<F, Fut>(secrets: &Secrets, name: &str, body: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let (store, guard) = sqlite_store().await;
    body(store.clone()).await;
    secrets.assert_absent(&guard);
    store.close().await;
    drop(guard);
    if let Some((store, guard)) = postgres_store(name).await {
        body(store.clone()).await;
        store.close().await;
        drop(guard);
    }
}

/// `fields` with `name` set to `value` (a tampered callback).
pub fn with(fields: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut changed = fields.to_vec();
    let slot = changed
        .iter_mut()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} in the callback"));
    slot.1 = value.to_owned();
    changed
}

/// The value of `name` in a callback's fields.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in the callback"))
}

/// Walks a browser through a bank's 3D without posting the result back to us: our 3D
/// page, the bank's gate at `gate_url`, the bank's page with `code` (or Cancel when
/// `None`). Returns the token and the callback fields the browser would post.
pub async fn browse_bank_3d(
    service: &PaymentService,
    bank_base_url: &str,
    gate_url: &str,
    view: &PaymentView,
    code: Option<&str>,
) -> (String, Vec<(String, String)>) {
    let redirect = &view
        .next_action
        .as_ref()
        .expect("3D next action")
        .redirect_url;
    let token = redirect.rsplit('/').next().unwrap_or_default().to_owned();
    let html = service
        .three_d_page(&token)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let form = parse_form(&html);
    assert_eq!(form.action, gate_url);
    let bank_page = post_form(&form.action, &form.fields).await;
    let bank_form = parse_form(&bank_page);
    let mut fields: Vec<(String, String)> = bank_form
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
    let target = format!("{bank_base_url}{}", bank_form.action);
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
    service: &PaymentService,
    token: &str,
    fields: &[(String, String)],
) -> Result<ThreeDReturn, ServiceError> {
    let body = serde_urlencoded::to_string(fields)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_bytes();
    service.three_d_return(token, &body).await
}

/// A payment's status as the service has it now.
pub async fn status(service: &PaymentService, company_id: &str, payment_id: &str) -> PaymentStatus {
    service
        .get_payment(company_id, payment_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .payment
        .status
}
