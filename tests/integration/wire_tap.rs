//! What crosses the wire, seen without tcpdump: a packet socket on the loopback interface
//! (Linux `AF_PACKET`, root) collects the UDP datagrams leaving a port range while a test's
//! call runs, so that a test can look at the bytes a far end would see.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// One UDP datagram seen on loopback.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub from_port: u16,
    pub payload: Vec<u8>,
}

/// Collects datagrams from a port range until [`LoopbackTap::finish`].
pub struct LoopbackTap {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Datagram>>,
}

fn loopback_index() -> i32 {
    // SAFETY: a NUL-terminated name.
    unsafe { libc::if_nametoindex(c"lo".as_ptr()) as i32 }
}

impl LoopbackTap {
    /// Starts collecting UDP datagrams sent from ports `from` (IPv4 on `lo`).
    pub fn start(ports: std::ops::Range<u16>) -> LoopbackTap {
        let proto = (libc::ETH_P_IP as u16).to_be();
        // SAFETY: plain socket calls; the descriptor is owned right after.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, i32::from(proto)) };
        assert!(
            fd >= 0,
            "packet socket (root needed): {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = proto;
        addr.sll_ifindex = loopback_index();
        // SAFETY: addr is a valid sockaddr_ll of the size given.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(rc, 0, "bind to lo: {}", std::io::Error::last_os_error());
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        // SAFETY: a timeval of the size given.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = vec![0u8; 65_536];
            while !flag.load(Ordering::Relaxed) {
                let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                // SAFETY: buf and from are valid for the sizes given.
                let n = unsafe {
                    libc::recvfrom(
                        fd.as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        0,
                        (&mut from as *mut libc::sockaddr_ll).cast(),
                        &mut len,
                    )
                };
                // Loopback shows each packet going out and coming in: keep one copy.
                if n <= 0 || from.sll_pkttype == libc::PACKET_OUTGOING {
                    continue;
                }
                if let Some(d) = udp(&buf[..n as usize]).filter(|d| ports.contains(&d.from_port)) {
                    seen.push(d);
                }
            }
            seen
        });
        LoopbackTap { stop, thread }
    }

    /// Stops and gives what was collected, in the order it was sent.
    pub fn finish(self) -> Vec<Datagram> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The UDP datagram in an IPv4 packet.
fn udp(ip: &[u8]) -> Option<Datagram> {
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    if ip.first()? >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    let u = ip.get(ihl..)?;
    let from_port = u16::from_be_bytes([*u.first()?, *u.get(1)?]);
    Some(Datagram {
        from_port,
        payload: u.get(8..)?.to_vec(),
    })
}
