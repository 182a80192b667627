//! How the ids inside a pod map to ids of the host.
//!
//! - A sandbox that runs as root maps the pod's ids 0–65535 to the host ids
//!   [`HOST_ID_BASE`]–[`HOST_ID_BASE`]+65535 (as a subuid range does): a pod's
//!   user 1000 is host user 1000001000, and its root is host user 1000000000,
//!   neither of which owns anything on the host. Every pod of the sandbox shares
//!   this range, as containers share the host's ids without user namespaces.
//! - A sandbox that runs as an ordinary user can map one id only, its own: the
//!   pod's user (and group) is the sandbox's user outside. Supplementary groups
//!   cannot be set then (the kernel denies `setgroups` in such a namespace), and
//!   volumes keep the sandbox user as owner.

use std::io;

/// The first host id of the range a root sandbox maps pods' ids to.
pub const HOST_ID_BASE: u32 = 1_000_000_000;
/// How many ids are mapped: 0–65535 inside.
pub const ID_COUNT: u32 = 65536;

/// The mapping in force for this sandbox process.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mapping {
    /// Ids 0..ID_COUNT inside are HOST_ID_BASE.. outside.
    Range,
    /// The pod's one user and group are the sandbox's own user and group.
    Single { uid: u32, gid: u32 },
}

impl Mapping {
    pub fn current() -> Mapping {
        // SAFETY: no preconditions; these cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if uid == 0 { Mapping::Range } else { Mapping::Single { uid, gid } }
    }

    /// Whether the sandbox can give files to other ids (it runs as root).
    pub fn can_chown(&self) -> bool {
        matches!(self, Mapping::Range)
    }

    /// The host uid of the pod's uid `id` (for the single mapping: the sandbox's own).
    pub fn host_uid(&self, id: u32) -> u32 {
        match self {
            Mapping::Range => HOST_ID_BASE + id,
            Mapping::Single { uid, .. } => *uid,
        }
    }

    /// The host gid of the pod's gid `id`.
    pub fn host_gid(&self, id: u32) -> u32 {
        match self {
            Mapping::Range => HOST_ID_BASE + id,
            Mapping::Single { gid, .. } => *gid,
        }
    }

    /// Refuses ids the mapping cannot express, with what to do instead.
    pub fn check(&self, uid: u32, gid: u32, groups: &[u32]) -> io::Result<()> {
        if let Mapping::Range = self
            && let Some(bad) = [uid, gid].iter().chain(groups).find(|id| **id >= ID_COUNT)
        {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("id {bad} is outside the ids the sandbox maps into pods (0-{})", ID_COUNT - 1)));
        }
        Ok(())
    }

    /// The contents of `uid_map` and `gid_map` for a pod whose user is `uid`:`gid`.
    pub fn maps(&self, uid: u32, gid: u32) -> (String, String) {
        match self {
            Mapping::Range => (format!("0 {HOST_ID_BASE} {ID_COUNT}\n"), format!("0 {HOST_ID_BASE} {ID_COUNT}\n")),
            Mapping::Single { uid: own_uid, gid: own_gid } => (format!("{uid} {own_uid} 1\n"), format!("{gid} {own_gid} 1\n")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_sandbox_maps_a_high_range_and_a_user_sandbox_its_own_id() {
        let range = Mapping::Range;
        assert_eq!((range.host_uid(1000), range.host_gid(0)), (1_000_001_000, 1_000_000_000));
        assert_eq!(range.maps(1000, 1000).0, "0 1000000000 65536\n");
        assert!(range.check(1000, 1000, &[2000]).is_ok());
        assert!(range.check(70000, 1, &[]).unwrap_err().to_string().contains("id 70000 is outside"));
        let single = Mapping::Single { uid: 1234, gid: 99 };
        assert_eq!(single.maps(1000, 5), ("1000 1234 1\n".to_string(), "5 99 1\n".to_string()));
        assert_eq!(single.host_uid(1000), 1234);
        assert!(single.check(70000, 70000, &[]).is_ok());
    }
}
