//! The `sanalpos` binary as a merchant runs it.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use sanalpos_gateway::nkolay::signing::{sign_answer, AnswerHashVariant};

const BIN: &str = env!("CARGO_BIN_EXE_sanalpos");
const KEY: &str = "_viH5wUS4HiBmmw9uGybN";

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("SANALPOS_NKOLAY_SECRET_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn postback(with_currency: bool) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = [
        ("RESPONSE_CODE", "2"),
        ("RESPONSE_DATA", "İşlem başarılı"),
        ("MERCHANT_NO", "400123456"),
        ("REFERENCE_CODE", "IKSIRPF0000000001"),
        ("AUTH_CODE", "654321"),
        ("USE_3D", "true"),
        ("RND", "29-11-2026 10:00:00"),
        ("INSTALLMENT", "1"),
        ("AUTHORIZATION_AMOUNT", "150.00"),
        ("CLIENT_REFERENCE_CODE", "att_1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let variant = if with_currency {
        fields.push(("CURRENCY_CODE".into(), "949".into()));
        AnswerHashVariant::WithCurrency
    } else {
        AnswerHashVariant::WithoutCurrency
    };
    let hash = sign_answer(
        |k| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()),
        KEY,
        variant,
    );
    fields.push(("hashDataV2".into(), hash));
    fields
}

fn form(fields: &[(String, String)]) -> String {
    reqwest::Url::parse_with_params("http://x/", fields)
        .unwrap()
        .query()
        .unwrap()
        .to_owned()
}

#[test]
fn verify_callback_accepts_both_variants() {
    for with_currency in [true, false] {
        let (code, out, _) = run(
            &["nkolay", "verify-callback", "--secret-key", KEY],
            &form(&postback(with_currency)),
        );
        assert_eq!(
            (code, out.trim()),
            (0, "valid"),
            "with_currency = {with_currency}"
        );
    }
}

#[test]
fn verify_callback_names_what_is_wrong() {
    let mut tampered = postback(true);
    for (k, v) in tampered.iter_mut() {
        if k == "AUTHORIZATION_AMOUNT" {
            *v = "1.00".into();
        }
    }
    let (code, out, _) = run(
        &["nkolay", "verify-callback", "--secret-key", KEY],
        &form(&tampered),
    );
    assert_eq!(code, 1);
    assert!(
        out.starts_with("invalid: hashDataV2 does not match"),
        "{out}"
    );

    let (code, out, _) = run(
        &["nkolay", "verify-callback", "--secret-key", "wrong"],
        &form(&postback(true)),
    );
    assert_eq!(code, 1, "{out}");

    let unsigned: Vec<_> = postback(true)
        .into_iter()
        .filter(|(k, _)| k != "hashDataV2")
        .collect();
    let (code, out, _) = run(
        &["nkolay", "verify-callback", "--secret-key", KEY],
        &form(&unsigned),
    );
    assert_eq!((code, out.trim()), (1, "invalid: no hashDataV2 field"));
}

#[test]
fn hash_prints_the_golden_vector() {
    let sx = "118591467|W8a1JLU8A5Cw+HfadVcO6HiR/GGGxr0NkWr2OGythr8fo0YWdw70cvnI6oKMqvzra3Qu+Wa5u0NRil9gRdJmjocVNd4XciDwfD9+pkVqDErw7/pVZfpcSO+GePg+ZvcqFbOO5A==|3hJpHVF2cqvcCZ4q6F7rcA==";
    let (code, out, _) = run(
        &[
            "nkolay",
            "hash",
            "payment-list",
            "--secret-key",
            KEY,
            "--field",
            &format!("sx={sx}"),
            "--field",
            "startDate=05.10.2026",
            "--field",
            "endDate=06.10.2026",
        ],
        "",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("hashDatav2: 3a1yzE1TS1aUrPpcycyWVqUQhhzFb2YomZbw+W/83MD5/VglsBROO8G4cm2BlvEFTQsE/eYyLbV1viqU8sYkaw=="), "{out}");
    assert!(
        out.contains(&format!("hashed:     {sx}|05.10.2026|06.10.2026||***")),
        "{out}"
    );
    assert!(!out.contains(KEY), "the secret is never printed");
}

#[test]
fn sim_creates_its_merchant_file_and_serves() {
    let dir = std::env::temp_dir().join(format!("sanalpos-cli-{}", std::process::id()));
    let file = dir.join("merchants.json");
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(BIN)
        .args(["sim", "--test-mode", "--port", "0", "--merchant-file"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");

    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let merchant = if written.is_array() {
        written[0].clone()
    } else {
        written
    };
    for key in [
        "merchant_no",
        "sx",
        "sx_list",
        "sx_cancel",
        "secret_key",
        "auto_complete",
    ] {
        assert!(merchant.get(key).is_some(), "{key} in {merchant}");
    }
    let listed: serde_json::Value = serde_json::from_str(
        &reqwest::blocking::get(format!("{url}/_sim/merchants"))
            .unwrap()
            .text()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(listed[0]["merchant_no"], merchant["merchant_no"]);
    assert!(!listed
        .to_string()
        .contains(merchant["secret_key"].as_str().unwrap()));
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sanalpos serve` on a free port with `args` and nothing from the test's own
/// `SANALPOS_*` settings, after `set_up` has its say; the child and its base URL, once it
/// says it listens.
fn serve(args: &[&str], set_up: impl FnOnce(&mut Command)) -> (Killed, String) {
    let mut serve = Command::new(BIN);
    serve
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("SANALPOS_MASTER_KEY")
        .env_remove("SANALPOS_DATA_DIR")
        .env_remove("SANALPOS_DATABASE_URL")
        .env_remove("SANALPOS_LISTEN")
        .env_remove("SANALPOS_PUBLIC_BASE_URL")
        .stdout(Stdio::piped());
    set_up(&mut serve);
    let mut server = Killed(serve.spawn().unwrap());
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("sanalpos listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    (server, base)
}

/// A child process killed when the test ends, passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the binary with `args` and the database flags, `stdin` piped in; the server's
/// the test's environment never lends it a master key or a database, so the flags and
/// the data directory's key file are what count.
fn operator(args: &[&str], database: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .args(database)
        .env_remove("SANALPOS_MASTER_KEY")
        .env_remove("SANALPOS_DATA_DIR")
        .env_remove("SANALPOS_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn set_cookie(response: &reqwest::blocking::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()?
                .strip_prefix(&format!("{name}="))
                .map(str::to_owned)
        })
}

/// The `value` of the hidden input `name` in a page.
fn hidden_value(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no {name} in {page}"));
    let rest = &page[at..];
    let start = rest.find("value=\"").unwrap() + "value=\"".len();
    rest[start..start + rest[start..].find('"').unwrap()].to_owned()
}

/// What a new operator does on an empty database: a company, an admin, a key, then
/// `serve`; the admin signs in and sees the dashboard, the key lists payments.
/// `database_url` is `None` for the data directory's SQLite file.
fn first_steps(database_url: Option<&str>) {
    let dir = sanalpos_store::testing::test_dir();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let mut database = vec!["--data-dir", data_arg.as_str()];
    if let Some(url) = database_url {
        database.extend(["--database-url", url]);
    }
    const NAME: &str = "Kuzey Tekstil A.Ş.";
    const PASSWORD: &str = "ilk-giris-parolasi-42";

    // Nothing yet: no company to list.
    let (code, out, err) = operator(&["company", "list"], &database, "");
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(
        data.join("master.key").exists(),
        "the master key is made once, in the data directory"
    );
    let key_file = std::fs::read(data.join("master.key")).unwrap();

    let (code, out, err) = operator(&["company", "create", "--name", NAME], &database, "");
    assert_eq!(code, 0, "{err}");
    let company = out.trim().to_owned();
    assert!(company.starts_with("cmp_"), "{out}");
    let (_, out, _) = operator(&["company", "list"], &database, "");
    assert_eq!(out, format!("{company}\t{NAME}\n"));

    // Refusals change nothing and say why.
    let user = |company: &str, username: &str, password: &str| {
        operator(
            &[
                "user",
                "create",
                "--company",
                company,
                "--email",
                username,
                "--role",
                "admin",
                "--password-stdin",
            ],
            &database,
            &format!("{password}\n"),
        )
    };
    let (code, _, err) = user("cmp_unknown", "finans@kuzey.example", PASSWORD);
    assert_eq!(code, 1);
    assert!(err.contains("no company with id cmp_unknown"), "{err}");
    let (code, _, err) = user(&company, "finans@kuzey.example", "kisa");
    assert_eq!(code, 1);
    assert!(err.contains("password: at least 10 characters"), "{err}");
    let (code, _, err) = operator(
        &[
            "user",
            "create",
            "--company",
            &company,
            "--username",
            "x",
            "--role",
            "owner",
        ],
        &database,
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("owner"), "{err}");

    let (code, out, err) = user(&company, "finans@kuzey.example", PASSWORD);
    assert_eq!(code, 0, "{err}");
    assert!(out.trim().starts_with("usr_"), "{out}");
    assert!(!out.contains(PASSWORD) && !err.contains(PASSWORD));
    let (code, _, err) = user(&company, "finans@kuzey.example", "baska-bir-parola-9");
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");

    // Without a password and without a terminal, one is generated and shown once.
    let (code, out, err) = operator(
        &[
            "user",
            "create",
            "--company",
            &company,
            "--username",
            "izleyici",
            "--role",
            "viewer",
        ],
        &database,
        "",
    );
    assert_eq!(code, 0, "{err}");
    let generated = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    assert!(generated.len() >= 16, "{generated}");

    let (code, out, err) = operator(
        &["api-key", "create", "--company", &company, "--name", "erp"],
        &database,
        "",
    );
    assert_eq!(code, 0, "{err}");
    let api_key = out.trim().to_owned();
    assert!(api_key.starts_with("sk_live_"), "{out}");
    let (code, out, err) = operator(&["api-key", "list", "--company", &company], &database, "");
    assert_eq!(code, 0, "{err}");
    let listed: Vec<&str> = out.trim_end().split('\t').collect();
    let [key_id, prefix, "erp", _created, "-"] = listed[..] else {
        panic!("one unrevoked key named erp: {out:?}");
    };
    assert!(key_id.starts_with("key_"), "{out}");
    assert!(
        api_key.starts_with(prefix),
        "the key's first characters: {out}"
    );
    assert!(!out.contains(&api_key), "never the key itself: {out}");
    let (code, _, err) = operator(
        &["api-key", "list", "--company", "cmp_unknown"],
        &database,
        "",
    );
    assert_eq!(code, 1);
    assert!(err.contains("no company with id cmp_unknown"), "{err}");
    let key_id = key_id.to_owned();
    assert_eq!(
        std::fs::read(data.join("master.key")).unwrap(),
        key_file,
        "the tools keep the key they made"
    );

    // The service on the same data directory.
    let (server, base) = serve(&database, |serve| {
        serve.stderr(Stdio::null());
    });
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Sign in as the admin: the form's token is bound to its cookie.
    let page = http.get(format!("{base}/ui/login")).send().unwrap();
    assert_eq!(page.status(), 200);
    let form_cookie = set_cookie(&page, "sp_login_csrf").unwrap();
    let token = hidden_value(&page.text().unwrap(), "_csrf");
    let sign_in = |password: &str| {
        http.post(format!("{base}/ui/login"))
            .header(
                reqwest::header::COOKIE,
                format!("sp_login_csrf={form_cookie}"),
            )
            .form(&[
                ("_csrf", token.as_str()),
                ("username", "finans@kuzey.example"),
                ("password", password),
            ])
            .send()
            .unwrap()
    };
    assert_eq!(sign_in("yanlis-parola-123").status(), 401);
    let signed_in = sign_in(PASSWORD);
    assert_eq!(signed_in.status(), 303);
    assert_eq!(
        signed_in.headers()[reqwest::header::LOCATION],
        "/ui/dashboard"
    );
    let session = set_cookie(&signed_in, "sp_session").unwrap();
    let page = |path: &str| {
        let response = http
            .get(format!("{base}{path}"))
            .header(reqwest::header::COOKIE, format!("sp_session={session}"))
            .send()
            .unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    let (status, dashboard) = page("/ui/dashboard");
    assert_eq!(status, 200, "{dashboard}");
    assert!(dashboard.contains(NAME), "{dashboard}");
    // An admin: the POS definitions and the users are open to them.
    let (status, body) = page("/ui/pos");
    assert_eq!(status, 200, "{body}");
    let (status, body) = page("/ui/admin/users");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("izleyici"), "{body}");

    // A forgotten password, and a lockout on top: the operator sets a new one from the
    // command line; the user's open session ends, the lockout is lifted, the old
    // password no longer works.
    let locked = (0..6).any(|_| sign_in("yanlis-parola-123").status() == 429);
    assert!(locked, "wrong passwords lock the user out");
    assert_eq!(
        sign_in(PASSWORD).status(),
        429,
        "even the right one, while locked"
    );
    const NEW_PASSWORD: &str = "yeni-giris-parolasi-77";
    let set_password = |username: &str, password: &str| {
        operator(
            &[
                "user",
                "set-password",
                "--username",
                username,
                "--password-stdin",
            ],
            &database,
            &format!("{password}\n"),
        )
    };
    let (code, _, err) = set_password("kimse@kuzey.example", NEW_PASSWORD);
    assert_eq!(code, 1);
    assert!(err.contains("no active user named"), "{err}");
    let (code, _, err) = set_password("finans@kuzey.example", "kisa");
    assert_eq!(code, 1);
    assert!(err.contains("password: at least 10 characters"), "{err}");
    let (code, out, err) = set_password("finans@kuzey.example", NEW_PASSWORD);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(NEW_PASSWORD) && !err.contains(NEW_PASSWORD));
    let (status, _) = page("/ui/dashboard");
    assert_eq!(status, 303, "the old session ended");
    assert_eq!(sign_in(PASSWORD).status(), 401);
    assert_eq!(sign_in(NEW_PASSWORD).status(), 303);

    // The key works on the API; a wrong one does not.
    let list = |key: &str| {
        http.get(format!("{base}/api/v1/payments"))
            .bearer_auth(key)
            .send()
            .unwrap()
    };
    let answer = list(&api_key);
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&answer.text().unwrap()).unwrap();
    assert_eq!(body["items"], serde_json::json!([]), "{body}");
    let mut wrong = api_key.clone();
    wrong.pop();
    wrong.push(if api_key.ends_with('a') { 'b' } else { 'a' });
    assert_eq!(list(&wrong).status(), 401);

    // A sale keeps its key in the server's memory (this company has no POS yet: 422).
    // Revoked from the command line, another process on the same database, the key is
    // refused by the server's next sale and its next read; a wrong id changes nothing.
    let sale = |idempotency_key: &str| {
        http.post(format!("{base}/api/v1/payments"))
            .bearer_auth(&api_key)
            .header("Idempotency-Key", idempotency_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(
                serde_json::json!({
                    "amount": "10.00",
                    "card": {"number": "4000000000000002", "expiry_month": "12",
                             "expiry_year": "2030", "cvv": "123", "holder": "Ayşe Yılmaz"},
                })
                .to_string(),
            )
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(sale("cli-1"), 422);
    let revoke = |key: &str| {
        operator(
            &["api-key", "revoke", "--company", &company, "--key", key],
            &database,
            "",
        )
    };
    let (code, _, err) = revoke("key_unknown");
    assert_eq!(code, 1);
    assert!(
        err.contains("no unrevoked key with id key_unknown"),
        "{err}"
    );
    assert_eq!(sale("cli-2"), 422, "the key still works");
    let (code, _, err) = revoke(&key_id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sale("cli-3"), 401);
    assert_eq!(list(&api_key).status(), 401);
    let (code, _, err) = revoke(&key_id);
    assert_eq!(code, 1, "already revoked");
    assert!(err.contains("nothing was changed"), "{err}");
    let (_, out, _) = operator(&["api-key", "list", "--company", &company], &database, "");
    assert!(
        !out.trim_end().ends_with("\t-"),
        "listed as revoked: {out:?}"
    );
    drop(server);
}

#[test]
fn an_operator_starts_from_an_empty_data_dir_on_sqlite() {
    first_steps(None);
}

#[test]
fn an_operator_starts_from_an_empty_database_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some((store, guard)) =
        runtime.block_on(sanalpos_store::testing::postgres_store("cli_first_steps"))
    else {
        return;
    };
    runtime.block_on(store.close());
    drop(runtime);
    first_steps(Some(guard.url()));
}

/// The Garanti vector file of the repository.
fn garanti_vectors() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vectors/garanti.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn form_of(fields: &serde_json::Value) -> String {
    let pairs: Vec<(String, String)> = fields
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    serde_urlencoded::to_string(pairs).unwrap()
}

#[test]
fn garanti_verify_callback_takes_the_recorded_callbacks_and_refuses_tampering() {
    let v = garanti_vectors();
    for entry in v["callback_hash"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["legacy_v001"]["callback_hash"].as_array().unwrap())
    {
        let form = form_of(&entry["fields"]);
        let (code, out, _) = run(
            &["garanti", "verify-callback", "--store-key", "12345678"],
            &form,
        );
        assert_eq!((code, out.trim()), (0, "valid"), "{}", entry["what"]);
        let (code, out, _) = run(
            &["garanti", "verify-callback", "--store-key", "1234567"],
            &form,
        );
        assert_eq!(code, 1);
        assert!(out.starts_with("invalid: hash does not match"), "{out}");
    }
    let (code, out, _) = run(
        &["garanti", "verify-callback", "--store-key", "12345678"],
        &form_of(&v["callback_without_hash"]["fields"]),
    );
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid: no hash"), "{out}");
}

#[test]
fn garanti_hash_explains_hash_data_and_the_form_hash() {
    let v = garanti_vectors();
    let request = v["xml_requests"][0]["text"].as_str().unwrap();
    let (code, out, _) = run(&["garanti", "hash", "--password", "123qweASD/"], request);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("3732634F78053D42304B0966E263629FE44E258B (matches)"),
        "{out}"
    );
    assert!(
        !out.contains("5555444433332222"),
        "the card is masked: {out}"
    );
    let (code, out, _) = run(&["garanti", "hash", "--password", "wrong"], request);
    assert_eq!(code, 1);
    assert!(out.contains("DOES NOT match"));
    let entry = &v["form_hash"][0];
    let mut form = form_of(&entry["fields"]);
    form.push_str("&secure3dhash=");
    form.push_str(entry["secure3dhash"].as_str().unwrap());
    let (code, out, _) = run(
        &[
            "garanti",
            "hash",
            "--password",
            "123qweASD/",
            "--store-key",
            "12345678",
        ],
        &form,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(matches)"), "{out}");
}

/// `serve --stop-with-stdin` stops, as on SIGTERM, when the pipe to its standard input
/// closes: what keeps a soak killed with SIGKILL from leaving its server behind.
#[test]
fn serve_stops_when_its_standard_input_closes() {
    let dir = sanalpos_store::testing::test_dir();
    let data = dir.path().join("data");
    let data = ["--data-dir", data.to_str().unwrap(), "--stop-with-stdin"];
    let (mut server, base) = serve(&data, |serve| {
        serve
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped());
    });
    let ready = reqwest::blocking::get(format!("{base}/readyz")).unwrap();
    assert_eq!(ready.status(), 200);
    // Still serving with its input open.
    assert!(server.0.try_wait().unwrap().is_none());

    drop(server.0.stdin.take());
    let since = std::time::Instant::now();
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            since.elapsed() < std::time::Duration::from_secs(60),
            "still running a minute after its standard input closed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut server.0.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("standard input closed: stopping"), "{log}");
}
