//! Name resolution for the driver: one resolver for the whole run (hickory-resolver, which
//! caches answers for their TTL), shared by every lookup. Lookups run in tasks of their own
//! and come back to the driver as results, so a slow name server never stalls SIP or media.

use crate::sip::uri::parse_hostport;
use anyhow::{Context, anyhow};
use hickory_resolver::TokioResolver;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

/// The run's resolver, built on first use (building it reads the system's DNS configuration).
#[derive(Clone, Default)]
pub struct Dns {
    resolver: Arc<Mutex<Option<TokioResolver>>>,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dns")
    }
}

impl Dns {
    fn resolver(&self) -> anyhow::Result<TokioResolver> {
        let mut slot = self
            .resolver
            .lock()
            .map_err(|_| anyhow!("the DNS resolver is unusable"))?;
        if let Some(r) = slot.as_ref() {
            return Ok(r.clone());
        }
        let r = TokioResolver::builder_tokio()
            .context("reading the system DNS configuration")?
            .build()
            .context("starting the DNS resolver")?;
        *slot = Some(r.clone());
        Ok(r)
    }

    /// Resolves `host[:port]` to one socket address: IP literals directly, names through DNS
    /// (A and AAAA, the hosts file included).
    pub async fn resolve(&self, text: &str, default_port: u16) -> anyhow::Result<SocketAddr> {
        let (host, port) = parse_hostport(text).map_err(|e| anyhow!("{text:?}: {e}"))?;
        let port = port.unwrap_or(default_port);
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        let lookup = self
            .resolver()?
            .lookup_ip(bare)
            .await
            .with_context(|| format!("resolving {bare}"))?;
        // IPv4 first when both families answer: most SIP servers, proxies and NATs in the field
        // are IPv4, and an IPv6 answer for a dual-stack name is often not routed end to end.
        let ips: Vec<IpAddr> = lookup.iter().collect();
        let ip = ips
            .iter()
            .find(|ip| ip.is_ipv4())
            .or(ips.first())
            .copied()
            .ok_or_else(|| anyhow!("{bare} has no A or AAAA record"))?;
        Ok(SocketAddr::new(ip, port))
    }
}

/// Resolves `host[:port]` with a resolver of its own (for one-off lookups and tests; the
/// engine uses its [`Dns`]).
pub async fn resolve_hostport(text: &str, default_port: u16) -> anyhow::Result<SocketAddr> {
    Dns::default().resolve(text, default_port).await
}
