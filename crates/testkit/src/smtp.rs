//! A tiny SMTP server for tests: it speaks enough of the protocol (EHLO/HELO, AUTH
//! PLAIN/LOGIN, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT) for a real client to hand
//! it a message, and keeps every message it took. Set to refuse, it answers every
//! recipient with a permanent error, as a mail server that will not relay does.
//!
//! It also reads a captured message back: headers (RFC 2047 words decoded) and the
//! body (base64 or quoted-printable undone).

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message the server took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedMail {
    /// The login name the client gave (AUTH), if any.
    pub login: Option<String>,
    /// `MAIL FROM` address.
    pub mail_from: String,
    /// Every `RCPT TO` address.
    pub rcpt_to: Vec<String>,
    /// The message as sent after `DATA` (dot-stuffing undone), CRLF line ends.
    pub data: String,
}

/// A running test SMTP server.
pub struct SmtpServer {
    port: u16,
    mails: Arc<Mutex<Vec<CapturedMail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    /// Starts a server on a free loopback port that takes every message.
    pub async fn start() -> SmtpServer {
        SmtpServer::start_with(false).await
    }

    /// Starts a server that refuses every recipient (550).
    pub async fn refusing() -> SmtpServer {
        SmtpServer::start_with(true).await
    }

    async fn start_with(refuse: bool) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let kept = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let _ = session(stream, refuse, kept).await;
                });
            }
        });
        SmtpServer { port, mails, task }
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message taken so far, oldest first.
    pub fn mails(&self) -> Vec<CapturedMail> {
        self.mails.lock().unwrap().clone()
    }
}

async fn session(
    stream: TcpStream,
    refuse: bool,
    mails: Arc<Mutex<Vec<CapturedMail>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 test.smtp ESMTP ready\r\n").await?;
    let mut login = None;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            "250-test.smtp\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n".into()
        } else if upper.starts_with("HELO") {
            "250 test.smtp\r\n".into()
        } else if let Some(rest) = upper.strip_prefix("AUTH PLAIN") {
            let given = if rest.trim().is_empty() {
                write.write_all(b"334 \r\n").await?;
                line.clear();
                lines.read_line(&mut line).await?;
                line.trim().to_owned()
            } else {
                command["AUTH PLAIN".len()..].trim().to_owned()
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(given)
                .unwrap_or_default();
            let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
            login = parts
                .get(1)
                .map(|u| String::from_utf8_lossy(u).into_owned());
            "235 2.7.0 accepted\r\n".into()
        } else if upper.starts_with("AUTH LOGIN") {
            write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            line.clear();
            lines.read_line(&mut line).await?;
            let user = base64::engine::general_purpose::STANDARD
                .decode(line.trim())
                .unwrap_or_default();
            login = Some(String::from_utf8_lossy(&user).into_owned());
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            line.clear();
            lines.read_line(&mut line).await?;
            "235 2.7.0 accepted\r\n".into()
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command["MAIL FROM:".len()..]);
            to.clear();
            "250 2.1.0 ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            if refuse {
                "550 5.7.1 relaying denied\r\n".into()
            } else {
                to.push(address(&command["RCPT TO:".len()..]));
                "250 2.1.5 ok\r\n".into()
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                "503 5.5.1 no recipients\r\n".into()
            } else {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(unstuffed);
                }
                mails.lock().unwrap().push(CapturedMail {
                    login: login.clone(),
                    mail_from: from.clone(),
                    rcpt_to: std::mem::take(&mut to),
                    data,
                });
                "250 2.0.0 queued\r\n".into()
            }
        } else if upper == "RSET" {
            to.clear();
            "250 2.0.0 ok\r\n".into()
        } else if upper == "NOOP" {
            "250 2.0.0 ok\r\n".into()
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 not implemented\r\n".into()
        };
        write.write_all(reply.as_bytes()).await?;
    }
}

/// `<a@b.c> SIZE=…` → `a@b.c`.
fn address(text: &str) -> String {
    let text = text.trim();
    match (text.find('<'), text.find('>')) {
        (Some(a), Some(b)) if a < b => text[a + 1..b].to_owned(),
        _ => text.split_whitespace().next().unwrap_or("").to_owned(),
    }
}

impl CapturedMail {
    fn split(&self) -> (&str, &str) {
        self.data
            .split_once("\r\n\r\n")
            .or_else(|| self.data.split_once("\n\n"))
            .unwrap_or((&self.data, ""))
    }

    /// A header's value (folded lines joined, encoded words decoded); `None` when
    /// absent. The name is matched without regard to case.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.split();
        let mut found: Option<String> = None;
        let mut inside = false;
        for line in head.split("\r\n").flat_map(|l| l.split('\n')) {
            if line.starts_with([' ', '\t']) {
                if inside {
                    if let Some(v) = found.as_mut() {
                        v.push_str(line.trim_start());
                    }
                }
                continue;
            }
            if found.is_some() && inside {
                break;
            }
            inside = false;
            if let Some((key, value)) = line.split_once(':') {
                if key.trim().eq_ignore_ascii_case(name) {
                    found = Some(value.trim().to_owned());
                    inside = true;
                }
            }
        }
        found.map(|v| decode_words(&v))
    }

    /// The body as text: base64 or quoted-printable undone, CRLF made LF.
    pub fn body(&self) -> String {
        let (_, body) = self.split();
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(body.split_whitespace().collect::<String>())
                .unwrap(),
            "quoted-printable" => quoted_printable(body),
            _ => body.as_bytes().to_vec(),
        };
        String::from_utf8(bytes).unwrap().replace("\r\n", "\n")
    }
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let text = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`); whitespace
/// between two encoded words is dropped, as the RFC says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        let after = &rest[start + 2..];
        let word = after
            .split_once('?')
            .and_then(|(charset, r)| r.split_once('?').map(|(enc, r)| (charset, enc, r)))
            .and_then(|(charset, enc, r)| {
                r.split_once("?=").map(|(text, r)| (charset, enc, text, r))
            });
        let Some((_charset, enc, text, tail)) = word else {
            break;
        };
        if !(last_was_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let bytes = if enc.eq_ignore_ascii_case("b") {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_default()
        } else {
            quoted_printable(&text.replace('_', " "))
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        rest = tail;
        last_was_word = true;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_and_bodies() {
        assert_eq!(
            decode_words("=?utf-8?b?w5ZkZW1l?= =?utf-8?b?IGxpbmtp?="),
            "Ödeme linki"
        );
        assert_eq!(
            decode_words("=?utf-8?q?=C3=96deme_linki?= x"),
            "Ödeme linki x"
        );
        assert_eq!(decode_words("plain"), "plain");
        let mail = CapturedMail {
            login: None,
            mail_from: String::new(),
            rcpt_to: vec![],
            data: "Subject: =?utf-8?b?w5ZkZW1l?=\r\nContent-Transfer-Encoding: base64\r\n\r\nw5ZkZW1l\r\n".into(),
        };
        assert_eq!(mail.header("subject").as_deref(), Some("Ödeme"));
        assert_eq!(mail.body(), "Ödeme");
        assert_eq!(quoted_printable("a=C3=96=\r\nb"), "aÖb".as_bytes());
    }
}
