//! A TCP proxy in front of a simulator that can be switched to "down": the provider
//! going away and coming back, without touching the simulator.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

/// A TCP proxy to `upstream` that can be switched to "down": new connections are
/// accepted and closed at once, and the connections it was forwarding are cut (so a
/// client's kept-alive connection does not outlive the outage).
pub struct Proxy {
    /// `http://127.0.0.1:<port>`: the base URL to give a POS.
    pub addr: String,
    up: watch::Sender<bool>,
    connections: Arc<AtomicUsize>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let (up, watching) = watch::channel(true);
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                if !*watching.borrow() {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let mut down = watching.clone();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = down.wait_for(|up| !*up) => {}
                        }
                    }
                });
            }
        });
        Proxy {
            addr,
            up,
            connections,
        }
    }

    /// Switches between forwarding (`true`) and dropping every connection.
    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }

    /// Connections accepted so far, forwarded or dropped.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}
