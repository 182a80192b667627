//! The few rtnetlink requests the sandbox makes inside the namespaces it owns:
//! bring a link up, add or remove an IPv4 address, add or remove an IPv4 route,
//! create a veth pair whose peer lands in another namespace, and look up a link.
//!
//! Written here rather than taken from a crate: five fixed message shapes, sent
//! synchronously on a socket the broker made in the right namespace; the netlink
//! crates bring an async connection of their own and their APIs move often.
//! Every request asks for an acknowledgement, and a kernel error comes back as
//! its errno.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;

const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const NLA_F_NESTED: u16 = 0x8000;

const IFF_UP: u32 = 0x1;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_STATIC: u8 = 4;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RT_SCOPE_HOST: u8 = 254;
const RTN_UNICAST: u8 = 1;

/// A netlink request under construction: header, fixed part, attributes.
struct Message {
    buf: Vec<u8>,
    /// Where each open nested attribute starts.
    nests: Vec<usize>,
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

impl Message {
    fn new(kind: u16, flags: u16) -> Message {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel
        Message { buf, nests: Vec::new() }
    }

    fn pad(&mut self) {
        self.buf.resize(align(self.buf.len()), 0);
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    /// `struct ifinfomsg`.
    fn ifinfo(&mut self, index: i32, flags: u32, change: u32) -> &mut Self {
        self.bytes(&[libc::AF_UNSPEC as u8, 0]).bytes(&0u16.to_ne_bytes()).bytes(&index.to_ne_bytes());
        self.bytes(&flags.to_ne_bytes()).bytes(&change.to_ne_bytes())
    }

    fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        self.pad();
        let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
        self.bytes(&len.to_ne_bytes()).bytes(&kind.to_ne_bytes()).bytes(data);
        self.pad();
        self
    }

    fn name(&mut self, kind: u16, name: &str) -> &mut Self {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        self.attr(kind, &data)
    }

    fn open(&mut self, kind: u16) -> &mut Self {
        self.pad();
        self.nests.push(self.buf.len());
        self.bytes(&0u16.to_ne_bytes()).bytes(&(kind | NLA_F_NESTED).to_ne_bytes())
    }

    fn close(&mut self) -> &mut Self {
        self.pad();
        if let Some(start) = self.nests.pop() {
            let len = u16::try_from(self.buf.len() - start).unwrap_or(u16::MAX);
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    fn finish(mut self) -> Vec<u8> {
        self.pad();
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// A route or address request's fixed part for an IPv4 /32 (or the default route).
fn rtmsg(m: &mut Message, dst_len: u8, scope: u8) {
    m.bytes(&[libc::AF_INET as u8, dst_len, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, scope, RTN_UNICAST]).bytes(&0u32.to_ne_bytes());
}

fn ifaddr(kind: u16, flags: u16, index: u32, ip: Ipv4Addr) -> Vec<u8> {
    let mut m = Message::new(kind, flags);
    let scope = if ip.is_loopback() { RT_SCOPE_HOST } else { RT_SCOPE_UNIVERSE };
    m.bytes(&[libc::AF_INET as u8, 32, 0, scope]).bytes(&index.to_ne_bytes());
    m.attr(IFA_LOCAL, &ip.octets()).attr(IFA_ADDRESS, &ip.octets());
    m.finish()
}

/// A rtnetlink socket in one namespace (made there by the broker).
pub struct Netlink {
    fd: OwnedFd,
}

impl Netlink {
    pub fn new(fd: OwnedFd) -> Netlink {
        Netlink { fd }
    }

    /// Sends one request and waits for its acknowledgement.
    fn request(&self, message: &[u8]) -> io::Result<()> {
        // SAFETY: a zeroed sockaddr_nl with family AF_NETLINK addresses the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let addr_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: the message and address are valid for the lengths given.
        let sent = unsafe { libc::sendto(self.fd.as_raw_fd(), message.as_ptr().cast(), message.len(), 0, (&raw const kernel).cast(), addr_len) };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut reply = [0u8; 4096];
        loop {
            // SAFETY: reading into a local buffer of the given length.
            let n = unsafe { libc::recv(self.fd.as_raw_fd(), reply.as_mut_ptr().cast(), reply.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if let Some(result) = ack(&reply[..n as usize]) {
                return result;
            }
        }
    }

    /// Sets link `name` up.
    pub fn up(&self, name: &str) -> io::Result<()> {
        let mut m = Message::new(RTM_NEWLINK, 0);
        m.ifinfo(0, IFF_UP, IFF_UP).name(IFLA_IFNAME, name);
        self.request(&m.finish())
    }

    /// Creates the veth pair `name` (here) – `peer` (in the namespace `peer_netns`
    /// is a descriptor of).
    pub fn add_veth(&self, name: &str, peer: &str, peer_netns: &OwnedFd) -> io::Result<()> {
        let mut m = Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(0, 0, 0).name(IFLA_IFNAME, name);
        m.open(IFLA_LINKINFO).name(IFLA_INFO_KIND, "veth").open(IFLA_INFO_DATA).open(VETH_INFO_PEER);
        m.ifinfo(0, 0, 0).name(IFLA_IFNAME, peer);
        m.attr(IFLA_NET_NS_FD, &(peer_netns.as_raw_fd() as u32).to_ne_bytes());
        m.close().close().close();
        self.request(&m.finish())
    }

    /// Deletes link `name` (a veth takes its peer with it).
    pub fn delete_link(&self, name: &str) -> io::Result<()> {
        let mut m = Message::new(RTM_DELLINK, 0);
        m.ifinfo(0, 0, 0).name(IFLA_IFNAME, name);
        self.request(&m.finish())
    }

    /// Adds `ip`/32 to the link with this index (an existing one is fine).
    pub fn add_address(&self, index: u32, ip: Ipv4Addr) -> io::Result<()> {
        match self.request(&ifaddr(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, index, ip)) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            other => other,
        }
    }

    /// Removes `ip`/32 from the link with this index (a missing one is fine).
    pub fn delete_address(&self, index: u32, ip: Ipv4Addr) -> io::Result<()> {
        match self.request(&ifaddr(RTM_DELADDR, 0, index, ip)) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL | libc::ENOENT | libc::ENODEV)) => Ok(()),
            other => other,
        }
    }

    /// Routes `dst`/32 (None: the default route) out of link `index`, through
    /// `gateway` or directly (scope link). Replaces a route to the same place.
    pub fn add_route(&self, dst: Option<Ipv4Addr>, index: u32, gateway: Option<Ipv4Addr>) -> io::Result<()> {
        let mut m = Message::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
        let scope = if gateway.is_some() { RT_SCOPE_UNIVERSE } else { RT_SCOPE_LINK };
        rtmsg(&mut m, if dst.is_some() { 32 } else { 0 }, scope);
        if let Some(dst) = dst {
            m.attr(RTA_DST, &dst.octets());
        }
        if let Some(gateway) = gateway {
            m.attr(RTA_GATEWAY, &gateway.octets());
        }
        m.attr(RTA_OIF, &index.to_ne_bytes());
        self.request(&m.finish())
    }

    /// Removes the route to `dst`/32 (a missing one is fine).
    pub fn delete_route(&self, dst: Ipv4Addr) -> io::Result<()> {
        let mut m = Message::new(RTM_DELROUTE, 0);
        rtmsg(&mut m, 32, RT_SCOPE_LINK);
        m.attr(RTA_DST, &dst.octets());
        match self.request(&m.finish()) {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            other => other,
        }
    }
}

/// The index of link `name` in the namespace of `socket` (any socket made there).
pub fn link_index(socket: &OwnedFd, name: &str) -> io::Result<u32> {
    // SAFETY: a zeroed ifreq is valid; the name is copied in bounds.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    for (slot, byte) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *slot = byte as libc::c_char;
    }
    // SAFETY: SIOCGIFINDEX reads the name and writes the index into `req`.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFINDEX, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel filled the index member of the union.
    let index = unsafe { req.ifr_ifru.ifru_ifindex };
    u32::try_from(index).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))
}

/// The outcome carried by the acknowledgement among `reply`'s messages, if any.
fn ack(reply: &[u8]) -> Option<io::Result<()>> {
    let mut at = 0;
    while at + 16 <= reply.len() {
        let len = u32::from_ne_bytes(reply[at..at + 4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(reply[at + 4..at + 6].try_into().ok()?);
        if len < 16 || at + len > reply.len() {
            return Some(Err(io::Error::new(io::ErrorKind::InvalidData, "a truncated netlink reply")));
        }
        if kind == NLMSG_ERROR && len >= 20 {
            let error = i32::from_ne_bytes(reply[at + 16..at + 20].try_into().ok()?);
            return Some(if error == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(-error)) });
        }
        at += align(len);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes([b[at], b[at + 1]])
    }

    #[test]
    fn messages_are_laid_out_as_the_kernel_reads_them() {
        let bytes = ifaddr(RTM_NEWADDR, NLM_F_CREATE, 7, Ipv4Addr::new(10, 96, 0, 1));
        // header 16 + ifaddrmsg 8 + two 8-byte attributes
        assert_eq!(bytes.len(), 40);
        assert_eq!(u32::from_ne_bytes(bytes[..4].try_into().unwrap()), 40);
        assert_eq!(u16_at(&bytes, 4), RTM_NEWADDR);
        assert_eq!(u16_at(&bytes, 6), NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE);
        assert_eq!(&bytes[16..20], &[libc::AF_INET as u8, 32, 0, RT_SCOPE_UNIVERSE]);
        assert_eq!(u32::from_ne_bytes(bytes[20..24].try_into().unwrap()), 7);
        assert_eq!((u16_at(&bytes, 24), u16_at(&bytes, 26)), (8, IFA_LOCAL));
        assert_eq!(&bytes[28..32], &[10, 96, 0, 1]);

        // Nested attributes carry their own length, padding included.
        let mut m = Message::new(RTM_NEWLINK, 0);
        m.ifinfo(0, 0, 0).open(IFLA_LINKINFO).name(IFLA_INFO_KIND, "veth").close();
        let bytes = m.finish();
        assert_eq!(u16_at(&bytes, 32), 4 + 12);
        assert_eq!(u16_at(&bytes, 34), IFLA_LINKINFO | NLA_F_NESTED);
        assert_eq!(&bytes[40..45], b"veth\0");
    }

    #[test]
    fn acknowledgements_carry_the_errno() {
        let mut reply = vec![0u8; 36];
        reply[..4].copy_from_slice(&36u32.to_ne_bytes());
        reply[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert!(ack(&reply).unwrap().is_ok());
        reply[16..20].copy_from_slice(&(-libc::EEXIST).to_ne_bytes());
        assert_eq!(ack(&reply).unwrap().unwrap_err().raw_os_error(), Some(libc::EEXIST));
        assert!(ack(&[0u8; 8]).is_none());
    }
}
