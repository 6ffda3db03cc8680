//! The mixed load of the crash soak, as a shop's and a cardholder's clients would send it
//! over HTTP: non-3D sales, 3D sales walked through the simulator's bank page with the
//! right and sometimes the wrong SMS code, declines (magic cards), transport faults
//! (fault cards), same-day cancels, partial refunds of earlier days' sales, same-day
//! partial refunds (accepted as `scheduled`, 202, carried out after the provider's day
//! closes; now and then withdrawn at once), list queries, and, after a crash, the
//! requests that got no answer sent again with the same `Idempotency-Key`.
//!
//! With bank POS ([`Traffic::with_bank`]: NestPay, Garanti BBVA, …) each takes its share
//! of the non-3D sales, declines and fault cards with `pos_id`; their sales are cancelled
//! and refunded like the others, same-day refunds included. Their tally keys start with
//! the bank's label (`nestpay `, `garanti `).
//!
//! Each worker draws its actions from its own seeded random generator. What the clients
//! saw is kept for the judge: the payment each idempotency key was answered with, the
//! payments shown as approved, the payments a cancel or refund was sent for.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sanalpos_simulator::cards::{TestCard, UNIVERSAL_3D_CODE};

use super::cards::{approving_cards, test_card, DECLINE_CARDS, FAULT_CARDS, WRONG_3D_CODE};
use super::form::parse_form;
use serde_json::{json, Value};

/// A sale the clients saw approved: a candidate for a cancel or a refund.
#[derive(Debug, Clone)]
struct Paid {
    id: String,
    /// The label of the bank POS it was made on; `None` on the default POS.
    bank: Option<&'static str>,
    day: u32,
    amount: i64,
    refunded: i64,
    refunds: u8,
}

#[derive(Debug, Default)]
struct Seen {
    answers: HashMap<String, String>,
    pool: Vec<Paid>,
    approved: Vec<String>,
    reversed: HashSet<String>,
    retries: Vec<(String, String, u8)>,
    held: Vec<(String, String)>,
    violations: Vec<String>,
}

/// What the clients saw, handed to the judge.
#[derive(Debug, Clone, Default)]
pub struct ClientView {
    /// Payment ids the clients were shown as approved.
    pub approved: Vec<String>,
    /// Payment ids a cancel or a refund was sent for.
    pub reversed: Vec<String>,
    /// Idempotency keys answered with a payment.
    pub keys_answered: usize,
    /// What the clients already found wrong (two payments for one key, …).
    pub violations: Vec<String>,
}

/// Where a bank's share of the sales goes.
#[derive(Debug, Clone)]
struct BankRoute {
    /// The tally's prefix (`nestpay`).
    label: &'static str,
    pos_id: String,
    /// Percent of the sales (0 to 100).
    share: u32,
}

/// The shared state of the load: where to send it, and what came back.
#[derive(Debug)]
pub struct Traffic {
    http: reqwest::Client,
    base: String,
    sim_base: String,
    key: String,
    three_d_ttl: Duration,
    banks: Vec<BankRoute>,
    stop: AtomicBool,
    day: AtomicU32,
    requests: AtomicU64,
    tally: Mutex<BTreeMap<String, u64>>,
    seen: Mutex<Seen>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn money(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

fn minor(value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    sanalpos_core::Kurus::parse(text).ok().map(|k| k.minor())
}

/// The HTTP client of the soaks: no redirects followed (the 3D return is a 303 to the
/// shop), answers within 20 s.
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| e.to_string())
}

impl Traffic {
    /// Load against the server at `base` with `key`, 3D pages at `sim_base`.
    pub fn new(
        http: reqwest::Client,
        base: String,
        sim_base: String,
        key: String,
        three_d_ttl: Duration,
    ) -> Traffic {
        Traffic {
            http,
            base,
            sim_base,
            key,
            three_d_ttl,
            banks: Vec::new(),
            stop: AtomicBool::new(false),
            day: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            tally: Mutex::new(BTreeMap::new()),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Sends `share_percent` of the sales (non-3D sales, declines and fault cards; 3D
    /// stays on the default POS) to the bank POS `pos_id`, its tally keys starting with
    /// `label`. The banks' shares are taken in turn from one draw; past 100 in all, the
    /// later ones get what is left.
    pub fn with_bank(mut self, label: &'static str, pos_id: String, share_percent: u8) -> Traffic {
        self.banks.push(BankRoute {
            label,
            pos_id,
            share: u32::from(share_percent.min(100)),
        });
        self
    }

    fn bank_of(&self, payment: &Value) -> Option<&'static str> {
        self.banks
            .iter()
            .find(|b| payment["pos_id"].as_str() == Some(b.pos_id.as_str()))
            .map(|b| b.label)
    }

    /// The bank route a sale goes to for a draw in `0..100`; `None` for the default POS.
    fn route(&self, draw: u32) -> Option<&BankRoute> {
        let mut upto = 0;
        self.banks.iter().find(|b| {
            upto += b.share;
            draw < upto
        })
    }

    /// Tells the workers to finish their current action and return.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// A provider business day was closed: earlier sales can now be refunded.
    pub fn next_day(&self) {
        self.day.fetch_add(1, Ordering::SeqCst);
    }

    /// Requests sent to the server so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Counts per kind of answer (`"sale approved"`, `"cancel: no answer"`, …).
    pub fn tally(&self) -> BTreeMap<String, u64> {
        lock(&self.tally).clone()
    }

    fn count(&self, what: impl Into<String>) {
        *lock(&self.tally).entry(what.into()).or_insert(0) += 1;
    }

    /// What the clients saw.
    pub fn client_view(&self) -> ClientView {
        let seen = lock(&self.seen);
        ClientView {
            approved: seen.approved.clone(),
            reversed: seen.reversed.iter().cloned().collect(),
            keys_answered: seen.answers.len(),
            violations: seen.violations.clone(),
        }
    }

    /// One worker: actions until [`Traffic::stop`].
    pub async fn worker(self: Arc<Self>, index: u32, seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed ^ (u64::from(index) << 32));
        let mut n = 0u64;
        while !self.stop.load(Ordering::SeqCst) {
            n += 1;
            let answered = match rng.random_range(0..100) {
                0..=61 => self.sale(&mut rng, &format!("w{index}-{n}")).await,
                62..=67 => self.pre_auth(&mut rng, &format!("w{index}-{n}")).await,
                68..=79 => self.cancel(&mut rng).await,
                80..=91 => self.refund(&mut rng).await,
                _ => self.list(&mut rng).await,
            };
            if !answered {
                // The server is down: look again shortly.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn sale_body(
        &self,
        rng: &mut StdRng,
        key: &str,
        card: &TestCard,
        three_d: bool,
        pos_id: Option<&str>,
    ) -> String {
        let mut body = json!({
            "amount": money(rng.random_range(100..100_000)),
            "currency": "TRY",
            "installments": 1,
            "card": {"number": card.number, "expiry_month": card.expiry_month,
                     "expiry_year": card.expiry_year, "cvv": card.cvv,
                     "holder": "Dayanıklılık Testi"},
            "order_ref": key,
            "customer_ref": format!("cari-{}", rng.random_range(1..50)),
            "description": "soak",
        });
        if let Some(pos_id) = pos_id {
            body["pos_id"] = json!(pos_id);
        }
        if three_d {
            body["three_d"] = json!(true);
            body["return_url"] = json!(format!("https://shop.example/return?order={key}"));
        }
        body.to_string()
    }

    async fn post_sale(&self, key: &str, body: &str) -> Result<(u16, Value), reqwest::Error> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .http
            .post(format!("{}/api/v1/payments", self.base))
            .bearer_auth(&self.key)
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Records that `key` was answered with payment `id`; two different payments for
    /// one key is a violation.
    fn answered(&self, key: &str, id: &str) {
        let mut seen = lock(&self.seen);
        match seen.answers.get(key) {
            Some(first) if first != id => {
                let v =
                    format!("idempotency key {key} answered with two payments: {first} and {id}");
                seen.violations.push(v);
            }
            Some(_) => {}
            None => {
                seen.answers.insert(key.to_owned(), id.to_owned());
            }
        }
    }

    fn approved(&self, payment: &Value) {
        let (Some(id), Some(amount)) = (payment["id"].as_str(), minor(&payment["amount"])) else {
            return;
        };
        let day = self.day.load(Ordering::SeqCst);
        let bank = self.bank_of(payment);
        let mut seen = lock(&self.seen);
        seen.approved.push(id.to_owned());
        seen.pool.push(Paid {
            id: id.to_owned(),
            bank,
            day,
            amount,
            refunded: 0,
            refunds: 0,
        });
        if seen.pool.len() > 2_000 {
            seen.pool.remove(0);
        }
    }

    /// One sale of a drawn kind; `false` when the server did not answer.
    async fn sale(&self, rng: &mut StdRng, key: &str) -> bool {
        let route = if self.banks.is_empty() {
            None
        } else {
            self.route(rng.random_range(0..100))
        };
        let roll = rng.random_range(0..100);
        let (kind, card, three_d) = match (route, roll) {
            (None, 0..=59) => ("sale".to_owned(), pick(rng, approving_cards()), false),
            (None, 60..=74) => ("3d".to_owned(), pick(rng, approving_cards()), true),
            (None, 75..=87) => (
                "decline".to_owned(),
                test_card(pick(rng, &DECLINE_CARDS)),
                false,
            ),
            (None, _) => (
                "fault".to_owned(),
                test_card(pick(rng, &FAULT_CARDS)),
                false,
            ),
            (Some(bank), 0..=69) => (
                format!("{} sale", bank.label),
                pick(rng, approving_cards()),
                false,
            ),
            (Some(bank), 70..=84) => (
                format!("{} decline", bank.label),
                test_card(pick(rng, &DECLINE_CARDS)),
                false,
            ),
            (Some(bank), _) => (
                format!("{} fault", bank.label),
                test_card(pick(rng, &FAULT_CARDS)),
                false,
            ),
        };
        let pos_id = route.map(|b| b.pos_id.as_str());
        let body = self.sale_body(rng, key, &card, three_d, pos_id);
        let started = Instant::now();
        let (status, payment) = match self.post_sale(key, &body).await {
            Ok(answer) => answer,
            Err(_) => {
                self.count(format!("{kind}: no answer"));
                lock(&self.seen).retries.push((key.to_owned(), body, 0));
                return false;
            }
        };
        if status != 201 {
            self.count(format!("{kind}: HTTP {status}"));
            return true;
        }
        let outcome = payment["status"].as_str().unwrap_or("?").to_owned();
        if let Some(id) = payment["id"].as_str() {
            self.answered(key, id);
        }
        self.count(format!("{kind}: {outcome}"));
        if outcome == "approved" {
            self.approved(&payment);
        }
        if three_d && outcome == "pending_3ds" {
            let right = rng.random_bool(0.8);
            let result = self.walk_3d(&payment, right, started).await;
            self.count(format!("3d walk: {result}"));
        }
        true
    }

    /// A pre-authorisation on the default POS, then at once (mostly) a capture of all
    /// or part of it, or a release, each under its own idempotency key; one in five is
    /// left held. A kill may cut any step: the janitor settles what was sent, and the
    /// judge holds the result against the provider's ledger. `false` when the server
    /// did not answer.
    async fn pre_auth(&self, rng: &mut StdRng, key: &str) -> bool {
        let card = pick(rng, approving_cards());
        let mut body: Value =
            serde_json::from_str(&self.sale_body(rng, key, &card, false, None)).unwrap_or_default();
        body["capture"] = json!("manual");
        let body = body.to_string();
        let (status, payment) = match self.post_sale(key, &body).await {
            Ok(answer) => answer,
            Err(_) => {
                self.count("pre-auth: no answer");
                lock(&self.seen).retries.push((key.to_owned(), body, 0));
                return false;
            }
        };
        if let Some(id) = payment["id"].as_str() {
            self.answered(key, id);
        }
        let outcome = payment["status"].as_str().unwrap_or("?");
        self.count(format!(
            "pre-auth: {}",
            if status == 201 { outcome } else { "refused" }
        ));
        let (Some(id), Some(held)) = (payment["id"].as_str(), minor(&payment["held_amount"]))
        else {
            return true;
        };
        if outcome != "authorized" {
            return true;
        }
        let (step, amount) = match rng.random_range(0..100) {
            0..=34 => ("capture", Some(held)),
            35..=59 => ("capture", Some(rng.random_range(1..=held))),
            60..=79 => ("release", None),
            _ => return true,
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut request = self
            .http
            .post(format!("{}/api/v1/payments/{id}/{step}", self.base))
            .bearer_auth(&self.key)
            .header("Idempotency-Key", format!("{key}-{step}"));
        if let Some(amount) = amount {
            request = request
                .header("Content-Type", "application/json")
                .body(json!({ "amount": money(amount) }).to_string());
        }
        match request.send().await {
            Ok(r) => {
                self.count(format!("{step}: HTTP {}", r.status().as_u16()));
                true
            }
            Err(_) => {
                self.count(format!("{step}: no answer"));
                false
            }
        }
    }

    /// Walks a 3D payment as a browser: our page, the bank's page, the SMS code, the
    /// postback to us. Gives up, like a bank's page times out, when it has taken more than
    /// half the 3D time limit before the code is sent.
    async fn walk_3d(&self, payment: &Value, right_code: bool, started: Instant) -> &'static str {
        let Some(redirect) = payment["next_action"]["redirect_url"].as_str() else {
            return "no redirect_url";
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let Ok(page) = self.get_text(redirect).await else {
            return "cut by the crash (our page)";
        };
        let Some(form) = parse_form(&page) else {
            return "our page has no form";
        };
        let Ok(acs) = self.post_text(&form.action, &form.fields).await else {
            return "bank page unreachable";
        };
        let Some(acs_form) = parse_form(&acs) else {
            return "bank page has no form";
        };
        let mut fields: Vec<(String, String)> = acs_form
            .fields
            .into_iter()
            .filter(|(k, _)| k != "code" && k != "action")
            .collect();
        let code = if right_code {
            UNIVERSAL_3D_CODE
        } else {
            WRONG_3D_CODE
        };
        fields.push(("code".into(), code.into()));
        fields.push(("action".into(), "submit".into()));
        let action = if acs_form.action.starts_with("http") {
            acs_form.action
        } else {
            format!("{}{}", self.sim_base, acs_form.action)
        };
        if started.elapsed() > self.three_d_ttl / 2 {
            return "abandoned (too slow)";
        }
        let Ok(result) = self.post_text(&action, &fields).await else {
            return "bank submit failed";
        };
        let Some(back) = parse_form(&result) else {
            return "bank result has no form";
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = self.http.post(&back.action).form(&back.fields).send().await;
        match response {
            Ok(r) if r.status().as_u16() == 303 => {
                let location = r
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                if location.contains("status=approved") {
                    let mut shown = payment.clone();
                    shown["status"] = json!("approved");
                    self.approved(&shown);
                    if right_code {
                        "approved"
                    } else {
                        "approved with a wrong code"
                    }
                } else if right_code {
                    "not approved"
                } else {
                    "declined (wrong code)"
                }
            }
            Ok(_) => "postback refused",
            Err(_) => "cut by the crash (postback)",
        }
    }

    async fn get_text(&self, url: &str) -> Result<String, reqwest::Error> {
        self.http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await
    }

    async fn post_text(
        &self,
        url: &str,
        fields: &[(String, String)],
    ) -> Result<String, reqwest::Error> {
        self.http
            .post(url)
            .form(fields)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await
    }

    /// A same-day cancel of an approved sale; `false` when the server did not answer.
    async fn cancel(&self, rng: &mut StdRng) -> bool {
        let day = self.day.load(Ordering::SeqCst);
        let (id, what) = {
            let mut seen = lock(&self.seen);
            let today: Vec<usize> = (0..seen.pool.len())
                .filter(|&i| seen.pool[i].day == day && seen.pool[i].refunds == 0)
                .collect();
            if today.is_empty() {
                return true;
            }
            let paid = seen.pool.remove(today[rng.random_range(0..today.len())]);
            seen.reversed.insert(paid.id.clone());
            let what = match paid.bank {
                Some(label) => format!("{label} cancel"),
                None => "cancel".to_owned(),
            };
            (paid.id, what)
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let answer = self
            .http
            .post(format!("{}/api/v1/payments/{id}/cancel", self.base))
            .bearer_auth(&self.key)
            .send()
            .await;
        match answer {
            Ok(r) => {
                let status = r.status().as_u16();
                self.count(if status == 200 {
                    format!("{what}: done")
                } else {
                    format!("{what}: HTTP {status}")
                });
                true
            }
            Err(_) => {
                self.count(format!("{what}: no answer"));
                false
            }
        }
    }

    /// A partial refund of a sale from a closed business day, or (one in three) of a
    /// sale of the open day, which the server must accept as scheduled (202) and carry
    /// out after the provider's close; a scheduled one is now and then withdrawn at once.
    /// `false` when the server did not answer.
    async fn refund(&self, rng: &mut StdRng) -> bool {
        let day = self.day.load(Ordering::SeqCst);
        let same_day = rng.random_bool(0.33);
        let withdraw = rng.random_bool(0.25);
        let (id, amount, what) = {
            let mut seen = lock(&self.seen);
            let candidates: Vec<usize> = (0..seen.pool.len())
                .filter(|&i| {
                    let p = &seen.pool[i];
                    let when = if same_day { p.day == day } else { p.day < day };
                    when && p.refunds < 3 && p.amount - p.refunded >= 2
                })
                .collect();
            if candidates.is_empty() {
                return true;
            }
            let i = candidates[rng.random_range(0..candidates.len())];
            let paid = &mut seen.pool[i];
            let amount = rng.random_range(1..=(paid.amount - paid.refunded) / 2);
            paid.refunded += amount;
            paid.refunds += 1;
            let what = match (paid.bank, same_day) {
                (Some(label), true) => format!("{label} same-day refund"),
                (Some(label), false) => format!("{label} refund"),
                (None, true) => "same-day refund".to_owned(),
                (None, false) => "refund".to_owned(),
            };
            let id = paid.id.clone();
            seen.reversed.insert(id.clone());
            (id, amount, what)
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let answer = self
            .http
            .post(format!("{}/api/v1/payments/{id}/refunds", self.base))
            .bearer_auth(&self.key)
            .header("Content-Type", "application/json")
            .body(json!({ "amount": money(amount) }).to_string())
            .send()
            .await;
        let response = match answer {
            Ok(r) => r,
            Err(_) => {
                self.count(format!("{what}: no answer"));
                return false;
            }
        };
        let status = response.status().as_u16();
        let body = match response.text().await {
            Ok(text) => serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        match status {
            201 => self.count(format!("{what}: done")),
            202 => {
                let refund = &body["refund"];
                if refund["status"] != "scheduled" || refund["message"]["tr"].as_str().is_none() {
                    lock(&self.seen).violations.push(format!(
                        "payment {id}: a 202 refund answer without a scheduled refund and its reason: {body}"
                    ));
                }
                self.count(format!("{what}: scheduled"));
                if withdraw {
                    if let Some(refund_id) = refund["id"].as_str() {
                        return self.withdraw(&id, refund_id, amount, &what).await;
                    }
                }
            }
            _ => match body["error"]["code"].as_str() {
                Some(code) => self.count(format!("{what}: HTTP {status} {code}")),
                None => self.count(format!("{what}: HTTP {status}")),
            },
        }
        true
    }

    /// Withdraws a scheduled refund just made. Withdrawn, its amount is refundable
    /// again; 409 `not_withdrawable` means it was carried out first (the day closed
    /// meanwhile), which is fine. `false` when the server did not answer.
    async fn withdraw(&self, id: &str, refund_id: &str, amount: i64, what: &str) -> bool {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let answer = self
            .http
            .post(format!(
                "{}/api/v1/payments/{id}/refunds/{refund_id}/withdraw",
                self.base
            ))
            .bearer_auth(&self.key)
            .send()
            .await;
        let Ok(response) = answer else {
            self.count(format!("{what} withdraw: no answer"));
            return false;
        };
        let status = response.status().as_u16();
        let body = match response.text().await {
            Ok(text) => serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        if status == 200 {
            let withdrawn = body["refunds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["id"] == refund_id && r["status"] == "withdrawn");
            if !withdrawn {
                lock(&self.seen).violations.push(format!(
                    "payment {id}: refund {refund_id} answered withdrawn but is not: {body}"
                ));
            }
            let mut seen = lock(&self.seen);
            if let Some(paid) = seen.pool.iter_mut().find(|p| p.id == id) {
                paid.refunded -= amount;
            }
            drop(seen);
            self.count(format!("{what} withdraw: done"));
        } else {
            match body["error"]["code"].as_str() {
                Some(code) => self.count(format!("{what} withdraw: HTTP {status} {code}")),
                None => self.count(format!("{what} withdraw: HTTP {status}")),
            }
        }
        true
    }

    /// A list query with a filter, as the back office sends them.
    async fn list(&self, rng: &mut StdRng) -> bool {
        let filter = match rng.random_range(0..4) {
            0 => "status=approved".to_owned(),
            1 => format!("customer_ref=cari-{}", rng.random_range(1..50)),
            2 => "status=declined".to_owned(),
            _ => String::new(),
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let answer = self
            .http
            .get(format!("{}/api/v1/payments?limit=50&{filter}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await;
        match answer {
            Ok(r) => {
                self.count(format!("list: HTTP {}", r.status().as_u16()));
                true
            }
            Err(_) => {
                self.count("list: no answer");
                false
            }
        }
    }

    /// Requests whose key was still held (409) by a request the kill cut short.
    pub fn held_keys(&self) -> usize {
        lock(&self.seen).held.len()
    }

    /// Sends again every request whose key was held (409), as a client does once the
    /// key's lock has expired; counted as `late retry: …`. A replay must name the same
    /// payment as before; any new payment is for the judge to see.
    pub async fn retry_held(self: &Arc<Self>) {
        let held = std::mem::take(&mut lock(&self.seen).held);
        for (key, body) in held {
            match self.post_sale(&key, &body).await {
                Ok((201, payment)) => {
                    if let Some(id) = payment["id"].as_str() {
                        self.answered(&key, id);
                    }
                    self.count(format!(
                        "late retry: {}",
                        payment["status"].as_str().unwrap_or("?")
                    ));
                }
                Ok((status, _)) => self.count(format!("late retry: HTTP {status}")),
                Err(_) => self.count("late retry: no answer"),
            }
        }
    }

    /// Sends again, with the same key and body, every sale that got no answer. A replay
    /// must name the same payment as any earlier answer; 409 (the first is still marked
    /// running) is accepted; 422 (same body seen as another) is a violation. Requests that
    /// again get no answer are kept for the next round (three tries in all).
    pub async fn retry_unanswered(self: &Arc<Self>) {
        let pending = std::mem::take(&mut lock(&self.seen).retries);
        let mut tasks = Vec::new();
        for (key, body, tries) in pending {
            let this = Arc::clone(self);
            tasks.push(tokio::spawn(async move {
                match this.post_sale(&key, &body).await {
                    Ok((201, payment)) => {
                        if let Some(id) = payment["id"].as_str() {
                            this.answered(&key, id);
                        }
                        if payment["status"] == "approved" {
                            this.approved(&payment);
                        }
                        this.count(format!(
                            "retry: {}",
                            payment["status"].as_str().unwrap_or("?")
                        ));
                    }
                    Ok((422, _)) => {
                        this.count("retry: HTTP 422");
                        lock(&this.seen).violations.push(format!(
                            "idempotency key {key}: the same body was refused as another (422)"
                        ));
                    }
                    Ok((409, _)) => {
                        this.count("retry: HTTP 409");
                        lock(&this.seen).held.push((key, body));
                    }
                    Ok((status, _)) => this.count(format!("retry: HTTP {status}")),
                    Err(_) if tries < 2 => {
                        this.count("retry: no answer");
                        lock(&this.seen).retries.push((key, body, tries + 1));
                    }
                    Err(_) => this.count("retry: no answer, given up"),
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    }
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_places() {
        assert_eq!(money(100_005), "1000.05");
        assert_eq!(money(7), "0.07");
        assert_eq!(minor(&serde_json::json!("12.30")), Some(1230));
    }
}
