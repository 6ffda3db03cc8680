//! The client's IP address: the connection's peer, or, behind a trusted reverse proxy,
//! the address that proxy saw (`X-Forwarded-For`).
//!
//! Only the configured `trusted_proxies` are believed: anyone can send the header, so
//! from any other peer it is ignored. Behind a chain of trusted proxies the header is
//! read from the right (each proxy appends the address it saw) and the first address
//! that is not a trusted proxy is the client's.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// The client's address for a request from `peer` with `headers`.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.ip();
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut last = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            return last;
        };
        for part in text.rsplit(',') {
            match part.trim().parse::<IpAddr>() {
                Ok(ip) if trusted.contains(&ip) => last = ip,
                Ok(ip) => return ip,
                // A malformed entry: nothing left of it can be trusted.
                Err(_) => return last,
            }
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn believes_only_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let from_proxy = SocketAddr::new(proxy, 40000);
        let stranger = SocketAddr::new("203.0.113.9".parse().unwrap(), 40000);
        let h = headers(&["198.51.100.7"]);
        assert_eq!(
            client_ip(from_proxy, &h, &[proxy]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // A forged header from anyone else is ignored.
        assert_eq!(client_ip(stranger, &h, &[proxy]), stranger.ip());
        // Nothing trusted: the peer.
        assert_eq!(client_ip(from_proxy, &h, &[]), proxy);
        // The client cannot hide behind an address it prepends itself.
        let h = headers(&["1.2.3.4, 198.51.100.7, 10.0.0.2"]);
        let second: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(from_proxy, &h, &[proxy, second]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // No header, or garbage: the proxy itself.
        assert_eq!(client_ip(from_proxy, &HeaderMap::new(), &[proxy]), proxy);
        assert_eq!(
            client_ip(from_proxy, &headers(&["nonsense"]), &[proxy]),
            proxy
        );
    }
}
