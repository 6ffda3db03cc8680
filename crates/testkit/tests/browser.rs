//! The WebDriver client against a real headless Chromium and a tiny page server.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use sanalpos_testkit::browser::{screenshot_path, Browser};

const PAGE: &str = r#"<!doctype html><html><head><title>t</title></head><body>
<h1 id="title">Ödeme</h1>
<form method="post" action="/submit">
  <input id="name" name="name" value="">
  <select id="currency" name="currency"><option value="TRY">TL</option><option value="EUR">EUR</option></select>
  <button id="send" type="submit">Gönder</button>
</form>
<a id="csv" href="/export.csv">CSV</a>
</body></html>"#;

/// Serves `PAGE` at `/`, echoes a posted form at `/submit` and a CSV attachment at
/// `/export.csv`, one connection at a time, until the test ends.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let (kind, extra, content) = match path {
                "/submit" => (
                    "text/html; charset=utf-8",
                    "",
                    format!(
                        "<html><body><p id=\"echo\">{}</p></body></html>",
                        String::from_utf8_lossy(&body).replace('&', "&amp;")
                    ),
                ),
                "/export.csv" => (
                    "text/csv; charset=utf-8",
                    "Content-Disposition: attachment; filename=\"liste.csv\"\r\n",
                    "tutar;para\n1.234,56;TL\n".to_owned(),
                ),
                _ => ("text/html; charset=utf-8", "", PAGE.to_owned()),
            };
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{content}",
                content.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    base
}

#[tokio::test]
async fn drives_a_page_like_a_person() {
    let Some(browser) = Browser::start_or_skip("drives_a_page_like_a_person").await else {
        return;
    };
    let base = serve();
    browser.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(
        browser.find("#title").await.unwrap().text().await.unwrap(),
        "Ödeme"
    );
    assert!(browser.page_source().await.unwrap().contains("id=\"csv\""));

    let name = browser.find("#name").await.unwrap();
    name.send_keys("Ayşe").await.unwrap();
    assert_eq!(name.prop("value").await.unwrap().as_deref(), Some("Ayşe"));
    assert_eq!(name.attr("name").await.unwrap().as_deref(), Some("name"));
    assert_eq!(name.attr("placeholder").await.unwrap(), None);
    browser.select_value("#currency", "EUR").await.unwrap();
    let chosen = browser
        .execute("return document.getElementById('currency').value;", vec![])
        .await
        .unwrap();
    assert_eq!(chosen, "EUR");
    let path = screenshot_path("testkit", "form");
    browser.screenshot(&path).await.unwrap();
    assert!(std::fs::read(&path).unwrap().starts_with(b"\x89PNG"));

    browser.find("#send").await.unwrap().click().await.unwrap();
    let text = browser
        .wait_for_text("name=Ay", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(text.contains("currency=EUR"), "{text}");
    assert!(browser.current_url().await.unwrap().ends_with("/submit"));
    assert!(browser.find("#nothing-here").await.is_err());

    browser.goto(&format!("{base}/")).await.unwrap();
    browser.find("#csv").await.unwrap().click().await.unwrap();
    let file = browser
        .wait_for_download(".csv", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(file).unwrap(),
        "tutar;para\n1.234,56;TL\n"
    );
    browser.quit().await;
}
