//! Name resolution for the driver: one resolver for the whole run (hickory-resolver, which
//! caches answers for their TTL), shared by every lookup. Lookups run in tasks of their own
//! and come back to the driver as results, so a slow name server never stalls SIP or media.

use crate::sip::transport::Transport;
use crate::sip::uri::parse_hostport;
use anyhow::{Context, anyhow};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

/// The run's resolver, built on first use (building it reads the system's DNS configuration,
/// unless `dnsserver` names the server to ask).
#[derive(Clone, Default)]
pub struct Dns {
    resolver: Arc<Mutex<Option<TokioResolver>>>,
    server: Option<SocketAddr>,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dns")
    }
}

impl Dns {
    /// A resolver asking `server` instead of the system's name servers (`dnsserver`).
    pub fn with_server(server: Option<SocketAddr>) -> Dns {
        Dns {
            resolver: Arc::default(),
            server,
        }
    }

    fn resolver(&self) -> anyhow::Result<TokioResolver> {
        let mut slot = self
            .resolver
            .lock()
            .map_err(|_| anyhow!("the DNS resolver is unusable"))?;
        if let Some(r) = slot.as_ref() {
            return Ok(r.clone());
        }
        let builder = match self.server {
            Some(at) => {
                let mut ns = NameServerConfig::udp_and_tcp(at.ip());
                for c in &mut ns.connections {
                    c.port = at.port();
                }
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => {
                TokioResolver::builder_tokio().context("reading the system DNS configuration")?
            }
        };
        let r = builder.build().context("starting the DNS resolver")?;
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

/// How the transport to a SIP server is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportChoice {
    /// The `transport` parameter's.
    Fixed(Transport),
    /// `autotransportdetect`: what the domain publishes (NAPTR, else SRV), TLS first.
    Detect,
}

/// Which RFC 3263 lookups a bare server name gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipLookups {
    pub srv: bool,
    pub naptr: bool,
}

/// The SRV service name for a transport (RFC 3263 §4.1); none for the WebSocket transports,
/// whose servers are named by their address (RFC 7118 defines no SRV name).
fn service(t: Transport) -> Option<&'static str> {
    match t {
        Transport::Udp => Some("_sip._udp"),
        Transport::Tcp => Some("_sip._tcp"),
        Transport::Tls => Some("_sips._tcp"),
        Transport::Ws | Transport::Wss => None,
    }
}

/// The transport a NAPTR service field names, when it is one we speak.
fn naptr_transport(services: &[u8]) -> Option<Transport> {
    match services.to_ascii_uppercase().as_slice() {
        b"SIP+D2U" => Some(Transport::Udp),
        b"SIP+D2T" => Some(Transport::Tcp),
        b"SIPS+D2T" => Some(Transport::Tls),
        _ => None,
    }
}

impl Dns {
    /// The transport and the servers for a SIP domain in the order to try them (RFC 3263
    /// §4): an IP address or a name with a port is that one server; otherwise NAPTR (when
    /// asked, or to detect the transport) names the SRV record per transport, else the SRV
    /// record of the transport (`_sip._udp`, `_sip._tcp`, `_sips._tcp`; detecting: TLS, TCP,
    /// UDP, the first published), lowest priority first and by weight within one (RFC 2782);
    /// nothing published: the name's own address on the transport's port.
    pub async fn resolve_sip(
        &self,
        text: &str,
        choice: TransportChoice,
        lookups: SipLookups,
    ) -> anyhow::Result<(Transport, Vec<SocketAddr>)> {
        let (host, port) = parse_hostport(text).map_err(|e| anyhow!("{text:?}: {e}"))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let fixed = match choice {
            TransportChoice::Fixed(t) => Some(t),
            TransportChoice::Detect => None,
        };
        let plain = fixed.unwrap_or(Transport::Udp);
        if !lookups.srv
            || port.is_some()
            || bare.parse::<IpAddr>().is_ok()
            || fixed.is_some_and(Transport::is_websocket)
        {
            return Ok((plain, vec![self.resolve(text, plain.default_port()).await?]));
        }
        let domain = bare.trim_end_matches('.');
        if lookups.naptr || fixed.is_none() {
            for (t, replacement) in self.naptr(domain).await? {
                if fixed.is_some_and(|f| f != t) {
                    continue;
                }
                let targets = self.srv_targets(&replacement).await?;
                if !targets.is_empty() {
                    return Ok((t, targets));
                }
            }
        }
        let candidates = match fixed {
            Some(t) => vec![t],
            None => vec![Transport::Tls, Transport::Tcp, Transport::Udp],
        };
        for t in candidates {
            let Some(service) = service(t) else { continue };
            let targets = self.srv_targets(&format!("{service}.{domain}.")).await?;
            if !targets.is_empty() {
                return Ok((t, targets));
            }
        }
        Ok((plain, vec![self.resolve(bare, plain.default_port()).await?]))
    }

    /// The domain's NAPTR records for SIP transports we speak (flag "s": an SRV name
    /// follows), by order then preference: (transport, SRV name).
    async fn naptr(&self, domain: &str) -> anyhow::Result<Vec<(Transport, String)>> {
        let found = match self
            .resolver()?
            .lookup(format!("{domain}."), RecordType::NAPTR)
            .await
        {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!("no NAPTR records for {domain}: {e}");
                return Ok(Vec::new());
            }
        };
        let mut records: Vec<(u16, u16, Transport, String)> = found
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::NAPTR(n) if n.flags.eq_ignore_ascii_case(b"s") => Some((
                    n.order,
                    n.preference,
                    naptr_transport(&n.services)?,
                    n.replacement.to_utf8(),
                )),
                _ => None,
            })
            .collect();
        records.sort_by_key(|r| (r.0, r.1));
        Ok(records.into_iter().map(|r| (r.2, r.3)).collect())
    }

    /// The addresses an SRV name points at, in the order to try them (none when there is no
    /// such record).
    async fn srv_targets(&self, name: &str) -> anyhow::Result<Vec<SocketAddr>> {
        let records: Vec<(u16, u16, u16, String)> = match self.resolver()?.srv_lookup(name).await {
            Ok(found) => found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(srv) => {
                        Some((srv.priority, srv.weight, srv.port, srv.target.to_utf8()))
                    }
                    _ => None,
                })
                .collect(),
            Err(e) => {
                tracing::debug!("no SRV records for {name}: {e}");
                return Ok(Vec::new());
            }
        };
        let order = srv_order(records, &mut rand::rng());
        let mut out = Vec::new();
        for (target, port) in order {
            // "." says the service is not offered at this domain (RFC 2782).
            if target == "." {
                continue;
            }
            match self.resolve(target.trim_end_matches('.'), port).await {
                Ok(a) => out.push(SocketAddr::new(a.ip(), port)),
                Err(e) => tracing::debug!("SRV target {target} unusable: {e:#}"),
            }
        }
        Ok(out)
    }
}

/// SRV records (priority, weight, port, target) in the order to try them: priorities
/// ascending, within one priority a weighted random order (RFC 2782's selection, repeated).
fn srv_order(
    mut records: Vec<(u16, u16, u16, String)>,
    rng: &mut impl rand::Rng,
) -> Vec<(String, u16)> {
    records.sort_by_key(|r| r.0);
    let mut out = Vec::new();
    while !records.is_empty() {
        let prio = records[0].0;
        let mut group: Vec<_> = records.iter().filter(|r| r.0 == prio).cloned().collect();
        records.retain(|r| r.0 != prio);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| u32::from(r.1)).sum();
            let pick = if total == 0 {
                0
            } else {
                let mut at = rng.random_range(0..total);
                group
                    .iter()
                    .position(|r| {
                        let w = u32::from(r.1);
                        if at < w {
                            true
                        } else {
                            at -= w;
                            false
                        }
                    })
                    .unwrap_or(0)
            };
            let r = group.remove(pick);
            out.push((r.3, r.2));
        }
    }
    out
}

/// Resolves `host[:port]` with a resolver of its own (for one-off lookups and tests; the
/// engine uses its [`Dns`]).
pub async fn resolve_hostport(text: &str, default_port: u16) -> anyhow::Result<SocketAddr> {
    Dns::default().resolve(text, default_port).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn srv_records_go_by_priority_then_weight() {
        let rec = |p, w, port, t: &str| (p, w, port, t.to_string());
        let mut first_of_heavy = 0;
        for seed in 0..200 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let order = srv_order(
                vec![
                    rec(20, 0, 3, "c."),
                    rec(10, 90, 1, "a."),
                    rec(10, 10, 2, "b."),
                ],
                &mut rng,
            );
            assert_eq!(order.len(), 3);
            assert_eq!(
                order[2],
                ("c.".to_string(), 3),
                "the higher priority value last"
            );
            if order[0].1 == 1 {
                first_of_heavy += 1;
            }
        }
        // Weight 90 against 10: first about nine times in ten.
        assert!((160..=195).contains(&first_of_heavy), "{first_of_heavy}");
    }
}
