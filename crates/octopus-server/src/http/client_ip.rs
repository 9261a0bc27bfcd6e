//! The payer's or merchant's IP address: the connection's peer, or, when the peer is a
//! configured trusted proxy, the nearest untrusted address in `X-Forwarded-For`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// The client address of a request, from its extensions (the connection's peer) and headers.
pub fn of_request(extensions: &Extensions, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    resolve(peer, headers, trusted)
}

pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| {
        let ip = octopus_domain::merchant::canonical_ip(*ip);
        trusted.iter().any(|net| net.contains(&ip))
    };
    if !is_trusted(&peer) {
        return peer;
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    for part in headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .flat_map(|v| v.split(','))
    {
        // An entry that is not an address (`ip:port`, garbage) breaks the chain: the client is
        // not known, so the proxy is taken as the client (fail closed for allowlists), rather
        // than skipping to an address the client may have written itself.
        match part.trim().parse::<IpAddr>() {
            Ok(ip) => chain.push(ip),
            Err(_) => return peer,
        }
    }
    // Walk from the nearest hop outwards; the first address not ours is the client.
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(chain.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn believes_forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 10.0.0.7"),
        );
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "5.6.7.8".parse().unwrap();
        assert_eq!(
            resolve(proxy, &headers, &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(resolve(stranger, &headers, &trusted), stranger);
        assert_eq!(resolve(proxy, &HeaderMap::new(), &trusted), proxy);
        // a client cannot skip past the proxy by prepending a forged address
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("9.9.9.9, 1.2.3.4"),
        );
        assert_eq!(
            resolve(proxy, &headers, &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        // an entry that is no address breaks the chain: the proxy, not a forged address
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("10.9.9.9, 1.2.3.4:5555"),
        );
        assert_eq!(resolve(proxy, &headers, &trusted), proxy);
    }
}
