//! `sanalpos serve` as a child process: started on a fixed port over one database,
//! killed with SIGKILL (`Child::kill` on Unix), started again on the same port. It is
//! started with `--stop-with-stdin` and a pipe this process holds, so it stops when this
//! process ends, even by SIGKILL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the child is started.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// The `sanalpos` binary.
    pub bin: PathBuf,
    /// Its data directory (master key file, SQLite database when no URL).
    pub data_dir: PathBuf,
    /// `postgres://…`, or `None` for SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// The port it listens on, the same after every restart.
    pub port: u16,
    /// Where its stderr (the log) is appended.
    pub log: PathBuf,
    /// `SANALPOS_*` settings (without the prefix), e.g. `("JANITOR_INTERVAL_SECS", "1")`.
    pub settings: Vec<(String, String)>,
}

/// A running (or killed) `sanalpos serve`.
#[derive(Debug)]
pub struct Server {
    spec: ServerSpec,
    child: Option<Child>,
    starts: u32,
}

/// A free TCP port on loopback (bound and released).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl Server {
    /// A server not yet started.
    pub fn new(spec: ServerSpec) -> Server {
        Server {
            spec,
            child: None,
            starts: 0,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.spec.port)
    }

    /// The child's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How many times it was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// Starts the child. The process's own `SANALPOS_*` variables are not passed on, so
    /// only the spec decides the configuration.
    pub fn start(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log)
            .map_err(|e| format!("{}: {e}", self.spec.log.display()))?;
        let mut command = Command::new(&self.spec.bin);
        // The child stops when its standard input, a pipe from this process, closes:
        // when this process ends, however it ends, the server does not stay behind.
        command
            .arg("serve")
            .arg("--stop-with-stdin")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.spec.port))
            .arg("--data-dir")
            .arg(&self.spec.data_dir);
        if let Some(url) = &self.spec.database_url {
            command.arg("--database-url").arg(url);
        }
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SANALPOS_") {
                command.env_remove(name);
            }
        }
        for (key, value) in &self.spec.settings {
            command.env(format!("SANALPOS_{key}"), value);
        }
        let child = command
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.spec.bin.display()))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    /// SIGKILL, then reaps the process.
    pub fn kill(&mut self) -> Result<(), String> {
        if let Some(mut child) = self.child.take() {
            child.kill().map_err(|e| format!("kill: {e}"))?;
            child.wait().map_err(|e| format!("wait: {e}"))?;
        }
        Ok(())
    }

    /// Waits until `/readyz` answers 200 (at most `limit`); fails early if the child
    /// exits.
    pub async fn wait_ready(
        &mut self,
        http: &reqwest::Client,
        limit: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let url = format!("{}/readyz", self.base_url());
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "the server exited at start ({status}); see {}",
                        self.spec.log.display()
                    ));
                }
            }
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server was not ready within {} s; see {}",
                    limit.as_secs(),
                    self.spec.log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The child's resident memory in KiB (Linux `/proc/<pid>/status`, `VmRSS`).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid()?)
    }

    /// The log file.
    pub fn log(&self) -> &Path {
        &self.spec.log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// `VmRSS` of a process in KiB, on Linux.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
