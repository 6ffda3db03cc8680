//! A real headless Chromium, driven through ChromeDriver's W3C WebDriver protocol, for
//! the browser tests.
//!
//! The protocol is plain JSON over HTTP, so the driver is a thin client: one ChromeDriver
//! process and one browser session per [`Browser`], both ended when it is quit or
//! dropped. Files the page downloads land in a private temporary folder
//! ([`Browser::download_dir`]).
//!
//! Chromium is a required part of the suite in CI (`SANALPOS_REQUIRE_BROWSER=1`); on a
//! developer machine without it, [`Browser::start_or_skip`] prints `SKIPPED` and the test
//! returns early, which `.ci/run` refuses.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How often the waiting helpers look again.
const POLL: Duration = Duration::from_millis(50);

/// What went wrong talking to the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserError(String);

impl std::fmt::Display for BrowserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BrowserError {}

fn error(text: impl Into<String>) -> BrowserError {
    BrowserError(text.into())
}

/// The result of a browser call.
pub type Result<T> = std::result::Result<T, BrowserError>;

/// Where a test's screenshot of `page` goes: `target/screenshots/<test>/<page>.png` (the
/// folder is created).
pub fn screenshot_path(test: &str, page: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("screenshots").join(test);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir.join(format!("{page}.png"))
}

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    names.iter().find_map(|name| {
        dirs.iter()
            .map(|dir| dir.join(name))
            .chain([Path::new("/usr/bin").join(name)])
            .find(|candidate| candidate.is_file())
    })
}

/// A private folder for downloads; kept under `SANALPOS_KEEP_TEST_DATA` when that is
/// set, so the secrets scan also reads every exported file.
fn download_dir() -> Result<tempfile::TempDir> {
    match std::env::var_os("SANALPOS_KEEP_TEST_DATA").filter(|v| !v.is_empty()) {
        Some(root) => {
            std::fs::create_dir_all(&root).map_err(|e| error(e.to_string()))?;
            let mut dir = tempfile::Builder::new()
                .prefix("downloads-")
                .tempdir_in(root)
                .map_err(|e| error(e.to_string()))?;
            dir.disable_cleanup(true);
            Ok(dir)
        }
        None => tempfile::tempdir().map_err(|e| error(e.to_string())),
    }
}

/// A headless Chromium with one open window.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:<port>`.
    driver_url: String,
    /// `<driver_url>/session/<id>`.
    session_url: String,
    session_id: String,
    driver: Option<Child>,
    downloads: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("session", &self.session_url)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium. When ChromeDriver is not installed,
    /// prints `SKIPPED: <test>: chromedriver not found` and returns `None`, unless
    /// `SANALPOS_REQUIRE_BROWSER=1`, in which case it panics. Any other failure panics.
    pub async fn start_or_skip(test: &str) -> Option<Browser> {
        let required = std::env::var("SANALPOS_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        let Some(driver) = find_program("SANALPOS_CHROMEDRIVER", &["chromedriver"]) else {
            if required {
                panic!("{test}: chromedriver not found and SANALPOS_REQUIRE_BROWSER=1");
            }
            println!("SKIPPED: {test}: chromedriver not found");
            eprintln!("SKIPPED: {test}: chromedriver not found");
            return None;
        };
        let chromium = find_program("SANALPOS_CHROMIUM", &["chromium", "chromium-browser"]);
        match Browser::start(&driver, chromium.as_deref()).await {
            Ok(browser) => Some(browser),
            Err(e) => panic!("{test}: cannot start the browser: {e}"),
        }
    }

    /// Starts `driver` (a ChromeDriver) and a headless browser session.
    pub async fn start(driver: &Path, chromium: Option<&Path>) -> Result<Browser> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| error(format!("no free port: {e}")))?
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| error(format!("cannot run {}: {e}", driver.display())))?;
        let downloads = download_dir()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| error(e.to_string()))?;
        let driver_url = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            http,
            driver_url: driver_url.clone(),
            session_url: String::new(),
            session_id: String::new(),
            driver: Some(child),
            downloads,
        };

        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = browser
                .call(reqwest::Method::GET, &format!("{driver_url}/status"), None)
                .await
                .ok()
                .and_then(|v| v.get("ready").and_then(Value::as_bool))
                .unwrap_or(false);
            if ready {
                break;
            }
            if Instant::now() > deadline {
                return Err(error("chromedriver did not become ready in 20 s"));
            }
            tokio::time::sleep(POLL).await;
        }

        let download_dir = browser.downloads.path().to_string_lossy().into_owned();
        let mut options = json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1366,900",
                "--lang=tr-TR",
            ],
            "prefs": {
                "download.default_directory": download_dir,
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
            },
        });
        if let Some(binary) = chromium {
            options["binary"] = json!(binary.to_string_lossy());
        }
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": options,
                }
            }
        });
        let session = browser
            .call(
                reqwest::Method::POST,
                &format!("{driver_url}/session"),
                Some(capabilities),
            )
            .await?;
        let id = session
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| error(format!("no session id in {session}")))?
            .to_owned();
        browser.session_url = format!("{driver_url}/session/{id}");
        browser.session_id = id;
        // Headless windows ignore the download preferences unless told through CDP.
        browser
            .post(
                "/goog/cdp/execute",
                json!({
                    "cmd": "Browser.setDownloadBehavior",
                    "params": {"behavior": "allow", "downloadPath": download_dir},
                }),
            )
            .await?;
        Ok(browser)
    }

    async fn call(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Result<Value> {
        let mut request = self.http.request(method.clone(), url);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .map_err(|e| error(format!("{method} {url}: {e}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| error(format!("{method} {url}: {e}")))?;
        let parsed: Value = serde_json::from_str(&text)
            .map_err(|e| error(format!("{method} {url}: not JSON ({e}): {text}")))?;
        let value = parsed.get("value").cloned().unwrap_or(Value::Null);
        if !status.is_success() {
            let kind = value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("error");
            let message = value.get("message").and_then(Value::as_str).unwrap_or("");
            let first_line = message.lines().next().unwrap_or_default();
            return Err(error(format!("{method} {url}: {kind}: {first_line}")));
        }
        Ok(value)
    }

    async fn get(&self, path: &str) -> Result<Value> {
        self.call(
            reqwest::Method::GET,
            &format!("{}{path}", self.session_url),
            None,
        )
        .await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.call(
            reqwest::Method::POST,
            &format!("{}{path}", self.session_url),
            Some(body),
        )
        .await
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// The address of the page shown.
    pub async fn current_url(&self) -> Result<String> {
        string(self.get("/url").await?)
    }

    /// The page's HTML as the browser holds it now.
    pub async fn page_source(&self) -> Result<String> {
        string(self.get("/source").await?)
    }

    /// The visible text of the page's body.
    pub async fn body_text(&self) -> Result<String> {
        self.find("body").await?.text().await
    }

    /// The first element matching a CSS selector.
    pub async fn find(&self, css: &str) -> Result<Element<'_>> {
        let value = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await
            .map_err(|e| error(format!("find {css:?}: {e}")))?;
        self.element(&value)
    }

    /// Every element matching a CSS selector, in document order.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>> {
        let value = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await?;
        value
            .as_array()
            .ok_or_else(|| error(format!("find_all {css:?}: not a list: {value}")))?
            .iter()
            .map(|v| self.element(v))
            .collect()
    }

    fn element(&self, value: &Value) -> Result<Element<'_>> {
        let id = value
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .ok_or_else(|| error(format!("not an element: {value}")))?;
        Ok(Element {
            browser: self,
            id: id.to_owned(),
        })
    }

    /// Waits up to `timeout` for an element matching `css` to exist.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element<'_>> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.find(css).await {
                Ok(element) => return Ok(element),
                Err(e) if Instant::now() > deadline => {
                    let url = self.current_url().await.unwrap_or_default();
                    return Err(error(format!("waited {timeout:?} on {url}: {e}")));
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Waits up to `timeout` for the page's visible text to contain `text`; returns the
    /// text.
    pub async fn wait_for_text(&self, text: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let body = self.body_text().await.unwrap_or_default();
            if body.contains(text) {
                return Ok(body);
            }
            if Instant::now() > deadline {
                let url = self.current_url().await.unwrap_or_default();
                return Err(error(format!(
                    "waited {timeout:?} for {text:?} on {url}; the page says:\n{body}"
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Picks the option with `value` in the `<select>` matching `css`, as a click would.
    pub async fn select_value(&self, css: &str, value: &str) -> Result<()> {
        let select = self.find(css).await?;
        for option in self.find_all(&format!("{css} option")).await? {
            if option.prop("value").await?.as_deref() == Some(value) {
                select.click().await?;
                return option.click().await;
            }
        }
        Err(error(format!("{css:?} has no option {value:?}")))
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page and returns
    /// what it returns.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Saves a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let encoded = string(self.get("/screenshot").await?)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| error(format!("screenshot: {e}")))?;
        std::fs::write(path, png).map_err(|e| error(format!("{}: {e}", path.display())))
    }

    /// The folder downloads land in.
    pub fn download_dir(&self) -> &Path {
        self.downloads.path()
    }

    /// Waits up to `timeout` for a finished download whose name ends with `suffix`.
    pub async fn wait_for_download(&self, suffix: &str, timeout: Duration) -> Result<PathBuf> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = std::fs::read_dir(self.download_dir())
                .map_err(|e| error(e.to_string()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .find(|path| {
                    path.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(suffix))
                });
            if let Some(path) = found {
                // Chromium writes to `*.crdownload` and renames when done, so a file with
                // the final name is complete.
                return Ok(path);
            }
            if Instant::now() > deadline {
                return Err(error(format!(
                    "no *{suffix} download after {timeout:?} in {}",
                    self.download_dir().display()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Ends the session and stops ChromeDriver.
    pub async fn quit(mut self) {
        let _ = self
            .call(reqwest::Method::DELETE, &self.session_url.clone(), None)
            .await;
        self.session_id.clear();
        self.stop_driver();
    }

    fn stop_driver(&mut self) {
        if let Some(mut child) = self.driver.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session_id.is_empty() {
            // Drop cannot await: end the session with a plain blocking request so the
            // browser closes with it.
            let host = self.driver_url.trim_start_matches("http://").to_owned();
            if let Ok(mut stream) = TcpStream::connect(&host) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let request = format!(
                    "DELETE /session/{} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    self.session_id
                );
                if stream.write_all(request.as_bytes()).is_ok() {
                    let mut answer = Vec::new();
                    let _ = stream.read_to_end(&mut answer);
                }
            }
        }
        self.stop_driver();
    }
}

fn string(value: Value) -> Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| error(format!("expected a string, got {value}")))
}

/// An element of the page shown.
#[derive(Debug)]
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    async fn get(&self, path: &str) -> Result<Value> {
        self.browser
            .get(&format!("/element/{}{path}", self.id))
            .await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.browser
            .post(&format!("/element/{}{path}", self.id), body)
            .await
    }

    /// Clicks it (scrolled into view first).
    pub async fn click(&self) -> Result<()> {
        self.post("/click", json!({})).await.map(drop)
    }

    /// Types `text` into it.
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        self.post("/value", json!({ "text": text })).await.map(drop)
    }

    /// Empties an input.
    pub async fn clear(&self) -> Result<()> {
        self.post("/clear", json!({})).await.map(drop)
    }

    /// Its visible text.
    pub async fn text(&self) -> Result<String> {
        string(self.get("/text").await?)
    }

    /// An HTML attribute, `None` when absent.
    pub async fn attr(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .get(&format!("/attribute/{name}"))
            .await?
            .as_str()
            .map(str::to_owned))
    }

    /// A DOM property (`value`, `checked` as text), `None` when null.
    pub async fn prop(&self, name: &str) -> Result<Option<String>> {
        let value = self.get(&format!("/property/{name}")).await?;
        Ok(match value {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        })
    }
}
