//! Driving the back office over HTTP as a browser would (cookies, CSRF fields,
//! redirects by hand), and the demo-like set-up: users of every role.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use sanalpos_service::Role;

use crate::helpers::TestApp;

/// The password of every test user.
pub const PASSWORD: &str = "parola-12345";

/// Users of each role: `admin` (both companies), `accountant`, `collector`, `viewer`
/// (company A), `admin_b` (company B only).
pub async fn seed_users(app: &TestApp) {
    let both = vec![app.a.id.clone(), app.b.id.clone()];
    let a = vec![app.a.id.clone()];
    let b = vec![app.b.id.clone()];
    for (name, role, companies) in [
        ("admin", Role::Admin, &both),
        ("accountant", Role::Accountant, &a),
        ("collector", Role::Collector, &a),
        ("viewer", Role::Viewer, &a),
        ("admin_b", Role::Admin, &b),
    ] {
        app.service
            .create_user(name, PASSWORD, role, companies, "test")
            .await
            .unwrap();
    }
}

/// One answer.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

/// A browser-like client: keeps cookies, remembers the last CSRF token it saw.
pub struct UiClient {
    base: String,
    http: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
    csrf: Mutex<String>,
}

impl UiClient {
    pub fn new(base: &str) -> UiClient {
        UiClient {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Mutex::new(BTreeMap::new()),
            csrf: Mutex::new(String::new()),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn csrf(&self) -> String {
        self.csrf.lock().unwrap().clone()
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&self, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || value.is_empty() {
                self.cookies.lock().unwrap().remove(name);
            } else {
                self.cookies
                    .lock()
                    .unwrap()
                    .insert(name.to_owned(), value.to_owned());
            }
        }
        let body = response.text().await.unwrap();
        if let Some(i) = body.find("name=\"_csrf\" value=\"") {
            let rest = &body[i + "name=\"_csrf\" value=\"".len()..];
            let token = &rest[..rest.find('"').unwrap()];
            *self.csrf.lock().unwrap() = token.to_owned();
        }
        Page {
            status,
            headers,
            body,
        }
    }

    async fn send_get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self.send_get(path).await;
        self.finish(response).await
    }

    /// A downloaded workbook (an XLSX export, 200 expected): its first sheet.
    pub async fn first_sheet(&self, path: &str) -> calamine::Range<calamine::Data> {
        use calamine::Reader;
        let response = self.send_get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let bytes = response.bytes().await.unwrap();
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
        book.worksheet_range_at(0).unwrap().unwrap()
    }

    /// A form POST as sent, without adding a CSRF field.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    /// A form POST with the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf();
        let mut all: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Signs in; answers the POST's page.
    pub async fn login(&self, username: &str, password: &str) -> Page {
        let form = self.get("/ui/login").await;
        assert_eq!(form.status, StatusCode::OK, "{:?}", form.location());
        self.post(
            "/ui/login",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// Signs in and loads the dashboard (for its CSRF token); panics when refused.
    pub async fn signed_in(base: &str, username: &str) -> UiClient {
        let client = UiClient::new(base);
        let page = client.login(username, PASSWORD).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let dashboard = client.get("/ui/dashboard").await;
        assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
        client
    }

    /// Fills the Online Tahsilat form and sends it; answers the POST's page.
    pub async fn collect(&self, extra: &[(&str, &str)]) -> Page {
        let form = self.get("/ui/collect").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let idem = hidden(&form.body, "idem");
        let mut fields: Vec<(&str, &str)> = vec![("idem", idem.as_str())];
        fields.extend_from_slice(extra);
        self.post("/ui/collect", &fields).await
    }
}

/// The value of a hidden input.
pub fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let i = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[i + needle.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The card fields of a payment with `pan`, 100,00 TL by default.
pub fn card_fields<'a>(pan: &'a str, amount: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("customer_ref", "CARI-7"),
        ("order_ref", "SIP-42"),
        ("amount", amount),
        ("currency", "TRY"),
        ("card_number", pan),
        ("expiry_month", "12"),
        ("expiry_year", "2030"),
        ("cvv", "000"),
        ("holder", "Ayşe Yılmaz"),
        ("installments", "1"),
    ]
}
